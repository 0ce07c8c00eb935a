/**
 * A ruleset at rest, as JSON: the form stored in Redis and in the local mirror file. Read back, it is
 * verified (shape, hash, I1) before anything may install it.
 */
import {
  applyDelta,
  bucketDocuments,
  type CompileOptions,
  fromDocument,
  HASH_SCHEME,
  type Ruleset,
  RulesetDeltaShape,
  RulesetDocumentShape,
  rulesetDelta,
  toDocument,
} from "../engine/index.js";

export function rulesetJson(ruleset: Ruleset): string {
  return JSON.stringify(toDocument(ruleset));
}

/**
 * The document of `ruleset` in pieces of about `chars` characters, made one at a time as they are
 * taken, so that a writer can let the event loop run between them: a million orders are some 170 MB of
 * JSON, seconds of CPU in one piece. The orders come bucket by bucket, not sorted by id: the bucketed
 * hash does not depend on their order and a reader sorts them (`fromDocument`), and the buckets need no
 * sorted list of every order first. A ruleset of the earlier whole-list hash (read from an old document)
 * comes as `rulesetJson`, in one piece: its hash is over the sorted list.
 */
export function* rulesetJsonChunks(ruleset: Ruleset, chars = 64 * 1024): Generator<string, void, void> {
  if (ruleset.hashScheme !== HASH_SCHEME) {
    yield rulesetJson(ruleset);
    return;
  }
  // `toDocument`'s fields, in its order, without asking the ruleset for its sorted list.
  const meta = {
    version: ruleset.version,
    ...(ruleset.epoch === undefined ? {} : { epoch: ruleset.epoch }),
    hash: ruleset.hash,
    hashScheme: ruleset.hashScheme,
    compiledAt: ruleset.compiledAt,
  };
  let piece = `${JSON.stringify(meta).slice(0, -1)},"orders":[`;
  let first = true;
  for (const { orders } of bucketDocuments(ruleset)) {
    for (const order of orders) {
      piece += first ? JSON.stringify(order) : `,${JSON.stringify(order)}`;
      first = false;
    }
    if (piece.length >= chars) {
      yield piece;
      piece = "";
    }
  }
  yield `${piece}]}`;
}

/**
 * Parses and verifies a stored ruleset document (JSON, shape, hash, I1); throws on any doubt. On Node,
 * `options.sha256` is the native SHA-256 (the hash of every order is recomputed).
 */
export function parseRulesetDocument(text: string, options: CompileOptions = {}): Ruleset {
  return fromDocument(RulesetDocumentShape.parse(JSON.parse(text)), options);
}

/**
 * `next` as the change from `previous` (engine `RulesetDelta`), as JSON: a few orders' worth where the
 * whole document is every order's. Undefined when `next` was not recompiled from `previous`.
 */
export function rulesetDeltaJson(next: Ruleset, previous: Ruleset): string | undefined {
  const delta = rulesetDelta(next, previous);
  return delta === undefined ? undefined : JSON.stringify(delta);
}

/** Parses a delta and applies it to `base`, verified as `applyDelta` verifies; throws on any doubt. */
export function applyRulesetDelta(base: Ruleset, text: string, options: CompileOptions = {}): Ruleset {
  return applyDelta(base, RulesetDeltaShape.parse(JSON.parse(text)), options);
}

/**
 * A ruleset as distributed: a whole document, or (`delta`) a delta on `base`; verified either way, and
 * throws on any doubt (a delta with no base among them).
 */
export function receivedRuleset(
  text: string,
  delta: boolean,
  base: Ruleset | undefined,
  options: CompileOptions = {},
): Ruleset {
  if (!delta) return parseRulesetDocument(text, options);
  if (base === undefined) throw new Error("a ruleset delta came before any whole ruleset");
  return applyRulesetDelta(base, text, options);
}
