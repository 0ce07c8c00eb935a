/** For the engine's tables: the code of the `OrderRuleError` an action raises, or undefined when it passes. */
import { OrderRuleError } from "../../src/engine/index.js";

export function ruleCode(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof OrderRuleError) return error.code;
    throw error;
  }
}
