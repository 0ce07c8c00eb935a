/**
 * A ruleset as the writer hands it to the other workers of the embedded multi-worker mode (see
 * `platform/node/worker-hub.ts`): its first version whole, in the columns of the ruleset snapshot
 * (`platform/node/ruleset-file.ts`: several times faster to read than a JSON document, and less than half
 * its size), each later one as a delta on the one before (engine `RulesetDelta`, JSON). Read back
 * verified either way: the whole one with every bucket's digest recomputed from its orders, as a
 * document from elsewhere is; a delta against its base, I1 and the hash.
 */
import type { Ruleset } from "../../engine/index.js";
import { encodeRulesetFile, parseRulesetFile } from "../../platform/node/ruleset-file.js";
import { nodeSha256 } from "../../platform/node/sha256-stream.js";
import { applyRulesetDelta } from "../../rulesets/ruleset-json.js";

const FORMAT = "cordon-ruleset-message/1";
const NODE = { sha256: nodeSha256 };

/** `ruleset` whole, as the text a message carries. */
export function wholeRulesetText(ruleset: Ruleset): string {
  return encodeRulesetFile(FORMAT, ruleset, {}).toString("utf8");
}

/**
 * A ruleset as distributed: whole (`wholeRulesetText`), or (`delta`) a delta on `base`; verified either
 * way, and throws on any doubt (a delta with no base among them).
 */
export function receivedRuleset(text: string, delta: boolean, base: Ruleset | undefined): Ruleset {
  if (!delta) return parseRulesetFile(Buffer.from(text, "utf8"), FORMAT, () => true, NODE).ruleset;
  if (base === undefined) throw new Error("a ruleset delta came before any whole ruleset");
  return applyRulesetDelta(base, text, NODE);
}
