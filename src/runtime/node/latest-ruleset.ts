/**
 * The primary's copy of the writer's latest ruleset in the embedded multi-worker mode (see
 * `platform/node/worker-hub.ts`): the whole documents the writer sends, with the deltas after them
 * applied, verified as a follower verifies them; its whole document is made again only when a follower
 * starts and asks. The primary answers no check, so the O(orders) work of a start costs no check anything.
 */
import type { Ruleset } from "../../engine/index.js";
import type { Logger } from "../../kernel/logger.js";
import type { LatestRuleset } from "../../platform/node/worker-hub.js";
import { receivedRuleset, wholeRulesetText } from "./ruleset-message.js";

export class VerifiedLatestRuleset implements LatestRuleset {
  private ruleset: Ruleset | undefined;
  private json: string | undefined;

  constructor(private readonly logger: Logger) {}

  take(json: string, delta: boolean): boolean {
    try {
      this.ruleset = receivedRuleset(json, delta, this.ruleset);
      // A whole document is kept as sent; after a delta it is made again when a follower asks.
      this.json = delta ? undefined : json;
      return true;
    } catch (err) {
      this.logger.error("primary: could not take the writer's ruleset", { delta, error: String(err) });
      this.ruleset = undefined;
      this.json = undefined;
      return false;
    }
  }

  document(): string | undefined {
    if (this.ruleset === undefined) return undefined;
    this.json ??= wholeRulesetText(this.ruleset);
    return this.json;
  }
}
