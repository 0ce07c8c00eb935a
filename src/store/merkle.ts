/**
 * The Merkle tree over a finalized period's decision records (I9), as the manifest commits to it and
 * `cordon verify-report` recomputes it. Pure. The construction is RFC 6962's Merkle Tree Hash:
 *
 *   leaf  = SHA-256(0x00 || UTF-8(canonical JSON of the whole record))
 *   inner = SHA-256(0x01 || left || right)
 *   root of no leaves = SHA-256 of the empty string
 *
 * Leaves are in decisionId order (string comparison of UTF-16 code units: byte order for the ASCII ids
 * Cordon writes). The distinct prefixes keep a leaf from passing for an inner node (second preimage), and
 * a leaf commits to every field of its record, so a one-byte edit to any record changes the root.
 * Odd node rule: a node without a partner moves up a level unchanged (never paired with a copy of
 * itself, which would let two different lists of records share a root); level by level this gives the
 * same root as RFC 6962's split at the largest power of two.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { DecisionRecord } from "../engine/index.js";
import { canonicalJson } from "./audit.js";

const LEAF = Uint8Array.of(0);
const INNER = Uint8Array.of(1);

/** The root (hex) over leaves given as their canonical text, in the order given. */
export function merkleRoot(leaves: readonly string[]): string {
  if (leaves.length === 0) return bytesToHex(sha256(new Uint8Array(0)));
  let level: Uint8Array[] = leaves.map((leaf) => sha256(concat(LEAF, utf8ToBytes(leaf))));
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      const right = level[i + 1];
      up.push(right === undefined ? left : sha256(concat(INNER, left, right)));
    }
    level = up;
  }
  return bytesToHex(level[0] as Uint8Array);
}

/** Records sorted by decisionId, as the tree takes them. */
export function byDecisionId<T extends Pick<DecisionRecord, "decisionId">>(records: readonly T[]): T[] {
  return [...records].sort((a, b) =>
    a.decisionId < b.decisionId ? -1 : a.decisionId > b.decisionId ? 1 : 0,
  );
}

/** The count and root of a list of records (sorted here). */
export function recordsRoot(records: readonly DecisionRecord[]): { count: number; merkleRoot: string } {
  return {
    count: records.length,
    merkleRoot: merkleRoot(byDecisionId(records).map((r) => canonicalJson(r))),
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SHA-256 (hex) of a text's UTF-8 bytes: what the manifest says of each frozen format. */
export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}
