/**
 * The hash chain of the audit log (I7), independent of where entries are kept: hashing, chaining and
 * verifying. Pure (no I/O, no runtime API), so the file store, a Redis store and the offline verifier
 * share one definition of "intact".
 *
 * Each entry's hash is SHA-256 over its predecessor's hash and the canonical JSON of every field except
 * `hash` itself, so any edit of any field (an added or removed one included) breaks that entry, and any
 * deletion, reorder or insertion breaks the `seq`/`prevHash` links. What a chain alone cannot show is a
 * cut tail or a wholesale rewrite from some entry on (the hash is unkeyed): compare the head with one kept
 * elsewhere (the ruleset version and hash a verifier saw) for that, which `verifyChain`'s `head` does.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Order } from "../engine/index.js";
import type { AuditEntry } from "./interface.js";

export const ZERO_HASH = "0".repeat(64);

export interface ChainHead {
  seq: number;
  hash: string;
}

export type ChainVerdict =
  | { ok: true; count: number; head: ChainHead }
  | { ok: false; seq: number; reason: string };

/**
 * JSON with object keys sorted (recursively), otherwise as `JSON.stringify` writes it: undefined members
 * are left out, `toJSON` is honoured. That parity matters: an entry is hashed before it is written and
 * re-hashed after `JSON.parse` on replay, and both must give the same bytes.
 */
export function canonicalJson(value: unknown): string {
  const text = canonical(value);
  if (text === undefined) throw new TypeError("canonicalJson: the value has no JSON form");
  return text;
}

function canonical(value: unknown): string | undefined {
  if (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { toJSON?: unknown }).toJSON === "function"
  ) {
    return canonical((value as { toJSON: () => unknown }).toJSON());
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v) ?? "null").join(",")}]`;
  if (value !== null && typeof value === "object") {
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const member = canonical((value as Record<string, unknown>)[key]);
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
    }
    return `{${members.join(",")}}`;
  }
  if (typeof value === "bigint") throw new TypeError("canonicalJson: bigint has no JSON form");
  // Primitives, undefined and functions: exactly what JSON.stringify does (NaN -> null, -0 -> 0, ...).
  return JSON.stringify(value);
}

/** SHA-256 (hex) over `prevHash` and the canonical JSON of the entry without `hash` (ignored if present). */
export function hashEntry(entry: Omit<AuditEntry, "hash"> & { hash?: unknown }): string {
  const { hash: _ignored, ...rest } = entry;
  return bytesToHex(sha256(utf8ToBytes(entry.prevHash + canonicalJson(rest))));
}

/** The entry that follows `prev` (seq 0 and ZERO_HASH for the first). */
export function chainEntry(
  prev: ChainHead,
  fields: Omit<AuditEntry, "seq" | "prevHash" | "hash">,
): AuditEntry {
  const unhashed = { seq: prev.seq + 1, ...fields, prevHash: prev.hash };
  return { ...unhashed, hash: hashEntry(unhashed) };
}

/**
 * The audit entry for one order change, as every store writes it: the change must return the order it
 * was asked about, and the fields go through JSON first, so the entry held in memory (or returned) is
 * exactly what a reader parses back from storage, and hashes the same.
 */
export function changeEntry(
  prev: ChainHead,
  change: {
    orderId: string;
    action: AuditEntry["action"];
    actor: string;
    at: string;
    order: Order | undefined;
  },
): AuditEntry {
  const { orderId, action, actor, at, order } = change;
  if (order?.id !== orderId) {
    throw new Error(`applyChange: the change returned order ${order?.id}, not ${orderId}`);
  }
  return chainEntry(prev, JSON.parse(JSON.stringify({ at, actor, action, orderId, order })));
}

/** Freezes an object graph: what a store hands out cannot change what it holds. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/**
 * Why `entry` cannot follow `prev`, or undefined when it can. Takes `unknown` because entries come
 * from disk and JSON.parse: a verifier must not trust their shape. `hash` is `hashEntry` or one that
 * gives the same hashes (the file store's native one for parsed entries).
 */
export function verifyNext(
  prev: ChainHead,
  entry: unknown,
  hash: (entry: AuditEntry) => string = hashEntry,
): string | undefined {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return "entry is not an object";
  const e = entry as Partial<Record<keyof AuditEntry, unknown>>;
  if (e.seq !== prev.seq + 1) return `expected seq ${prev.seq + 1}, found ${JSON.stringify(e.seq) ?? "none"}`;
  if (e.prevHash !== prev.hash) return `prevHash does not match the hash of seq ${prev.seq}`;
  if (typeof e.hash !== "string") return "hash is missing";
  if (hash(entry as AuditEntry) !== e.hash) return "hash does not match the entry's content";
  const order = e.order as { id?: unknown } | null | undefined;
  if (typeof e.orderId !== "string" || order?.id !== e.orderId)
    return "orderId does not match the order it carries";
  return undefined;
}

/**
 * Verifies a whole chain from seq 1. On failure, `seq` is the first position that does not verify.
 * With `head`, also requires the chain to end exactly there, which detects a cut tail.
 */
export function verifyChain(entries: Iterable<AuditEntry>, opts: { head?: ChainHead } = {}): ChainVerdict {
  let head: ChainHead = { seq: 0, hash: ZERO_HASH };
  for (const entry of entries) {
    const problem = verifyNext(head, entry);
    if (problem !== undefined) return { ok: false, seq: head.seq + 1, reason: problem };
    head = { seq: entry.seq, hash: entry.hash };
  }
  if (opts.head && (opts.head.seq !== head.seq || opts.head.hash !== head.hash)) {
    if (opts.head.seq !== head.seq) {
      const seq = Math.min(head.seq, opts.head.seq) + 1;
      return { ok: false, seq, reason: `chain ends at seq ${head.seq}, expected head seq ${opts.head.seq}` };
    }
    // Same length, different hash: rewritten from some entry on; only the last one is certainly wrong.
    return { ok: false, seq: head.seq, reason: `head hash at seq ${head.seq} differs from the expected one` };
  }
  return { ok: true, count: head.seq, head };
}
