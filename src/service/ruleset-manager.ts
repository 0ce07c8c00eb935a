/**
 * Holds the ruleset every check reads, and replaces it after order changes. Long-lived: one per
 * process (or Worker isolate). The swap is a single reference assignment, so a check sees the whole old
 * or the whole new ruleset, never a mix; a stale compile (an older store version finishing late) never
 * replaces a newer one.
 */
import { compile, emptyRuleset, type Ruleset } from "../engine/index.js";
import type { OrderStore } from "../store/interface.js";

export class RulesetManager {
  private ruleset: Ruleset;
  private loaded = false;

  constructor(
    private readonly store: Pick<OrderStore, "listOrders" | "head">,
    private readonly clock: () => number,
  ) {
    this.ruleset = emptyRuleset(new Date(0).toISOString());
  }

  current(): Ruleset {
    return this.ruleset;
  }

  isLoaded(): boolean {
    return this.loaded;
  }

  /** Recompiles from the store. Reads head before the orders, so the version never claims more than it holds. */
  async refresh(): Promise<Ruleset> {
    const head = await this.store.head();
    const orders = await this.store.listOrders();
    const next = compile(orders, { version: head.seq, compiledAt: new Date(this.clock()).toISOString() });
    this.install(next);
    return this.ruleset;
  }

  /** Installs a ruleset unless a newer one is already in place. */
  install(next: Ruleset): boolean {
    this.loaded = true;
    if (next.version < this.ruleset.version) return false;
    this.ruleset = next;
    return true;
  }
}
