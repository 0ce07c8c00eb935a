/**
 * A ruleset at rest, as JSON: the form stored in Redis and in the local mirror file. Read back, it is
 * verified (shape, hash, I1) before anything may install it.
 */
import {
  applyDelta,
  type CompileOptions,
  fromDocument,
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
