/**
 * The ruleset hash as the engine's README defines it, recomputed here, apart from the engine: the
 * engine's tests check their hash against it, and tamper tests use it to give a forged document a hash
 * that matches. Two schemes: a document without `hashScheme` (earlier releases) is hashed as the SHA-256
 * of the canonical JSON of all its compiled orders; one with `hashScheme: "buckets-4096"` puts each
 * order in one of 4096 buckets by its id (FNV-1a, murmur3's mixer), hashes each bucket's canonical JSON
 * (orders sorted by id), and hashes the non-empty buckets' numbers (3 hex digits) and digests in bucket
 * order. An order's `action` and `exemptAccountIds` join its entry only when not the defaults
 * (`geoblock`, none), so the hash of a ruleset without them is the one it had before they existed.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { CompiledOrderDocument, RulesetDocument } from "../../src/engine/index.js";

export function rehash(doc: RulesetDocument): RulesetDocument {
  return { ...doc, hash: hashOf(doc) };
}

function hashOf(doc: RulesetDocument): string {
  if (doc.hashScheme === undefined) return hex(canonical(doc.orders));
  const buckets = new Map<number, CompiledOrderDocument[]>();
  for (const o of doc.orders) {
    const b = bucket(o.id);
    buckets.set(b, [...(buckets.get(b) ?? []), o]);
  }
  const text = [...buckets.keys()]
    .sort((a, b) => a - b)
    .map((b) => {
      const orders = [...(buckets.get(b) ?? [])].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      return b.toString(16).padStart(3, "0") + hex(canonical(orders));
    })
    .join("");
  return hex(text);
}

/** The canonical text of the orders, in the order given (the definition the engine's writer is held to). */
export function canonical(orders: readonly CompiledOrderDocument[]): string {
  return JSON.stringify(
    orders.map((o) => {
      const entry: unknown[] = [
        o.id,
        o.mode,
        o.authority,
        o.jurisdictions,
        o.from,
        o.until,
        o.meetingIds,
        o.accountIds,
      ];
      const action = o.action ?? "geoblock";
      const exempt = o.exemptAccountIds ?? [];
      if (action !== "geoblock" || exempt.length > 0) entry.push(action, exempt);
      return entry;
    }),
  );
}

function bucket(id: string): number {
  let h = 0x811c9dc5;
  for (const unit of Array.from({ length: id.length }, (_, i) => id.charCodeAt(i))) {
    h = Math.imul(h ^ unit, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % 4096;
}

function hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}
