/**
 * A ruleset at rest, as JSON: the form stored in Redis and in the local mirror file. Read back, it is
 * verified (shape, hash, I1) before anything may install it.
 */
import { fromDocument, type Ruleset, RulesetDocumentShape, toDocument } from "../engine/index.js";

export function rulesetJson(ruleset: Ruleset): string {
  return JSON.stringify(toDocument(ruleset));
}

/** Parses and verifies a stored ruleset document (JSON, shape, hash, I1); throws on any doubt. */
export function parseRulesetDocument(text: string): Ruleset {
  return fromDocument(RulesetDocumentShape.parse(JSON.parse(text)));
}
