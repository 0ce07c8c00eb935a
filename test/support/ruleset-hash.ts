/**
 * The ruleset hash as the engine's README defines it (SHA-256 of the canonical JSON of the compiled
 * orders), recomputed here, apart from the engine: the engine's tests check their hash against it, and
 * tamper tests use it to give a forged document a hash that matches. An order's `action` and
 * `exemptAccountIds` join its entry only when not the defaults (`geoblock`, none), so the hash of a
 * ruleset without them is the one it had before they existed.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { RulesetDocument } from "../../src/engine/index.js";

export function rehash(doc: RulesetDocument): RulesetDocument {
  const canonical = JSON.stringify(
    doc.orders.map((o) => {
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
  return { ...doc, hash: bytesToHex(sha256(utf8ToBytes(canonical))) };
}
