/**
 * The ruleset hash as the engine's README defines it (SHA-256 of the canonical JSON of the compiled
 * orders), recomputed here, apart from the engine: the engine's tests check their hash against it, and
 * tamper tests use it to give a forged document a hash that matches.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { RulesetDocument } from "../../src/engine/index.js";

export function rehash(doc: RulesetDocument): RulesetDocument {
  const canonical = JSON.stringify(
    doc.orders.map((o) => [
      o.id,
      o.mode,
      o.authority,
      o.jurisdictions,
      o.from,
      o.until,
      o.meetingIds,
      o.accountIds,
    ]),
  );
  return { ...doc, hash: bytesToHex(sha256(utf8ToBytes(canonical))) };
}
