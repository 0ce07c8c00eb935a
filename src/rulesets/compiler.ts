/**
 * The compile trigger on the server: after every order change (and at start) it compiles the store's
 * orders into a new ruleset, installs it in the holder, and hands it to the distribution listeners
 * (the Redis sync, the KV publisher). The edge has none: it only installs what KV holds.
 */
import { compile, type Ruleset } from "../engine/index.js";
import type { Clock } from "../kernel/runtime.js";
import type { OrderStore } from "../store/interface.js";
import type { RulesetHolder } from "./holder.js";

/**
 * What a compile reads: the orders, the head, and where the store has one (Redis) the epoch of the
 * history they belong to (absent: a store of one history, the embedded one).
 */
export type CompileSource = Pick<OrderStore, "listOrders" | "head"> & {
  epoch?(): Promise<string | undefined>;
};

/** Hears every ruleset `refresh` compiles; see `addCompiledListener`. */
export type CompiledListener = (ruleset: Ruleset) => Promise<void> | void;

export class RulesetCompiler {
  private readonly compiledListeners: CompiledListener[] = [];

  constructor(
    private readonly orders: CompileSource,
    readonly holder: RulesetHolder,
    private readonly clock: Clock,
  ) {}

  /**
   * Calls `listener` with every ruleset `refresh` compiles; `refresh` awaits it before returning. On
   * Redis the ruleset sync publishes here, so an order change is answered only once the new ruleset is
   * stored and announced to the other instances (what makes "approved on A, denied on B" measurable);
   * the KV publisher listens too, and bounds its own wait. Answers a function that removes the listener.
   */
  addCompiledListener(listener: CompiledListener): () => void {
    this.compiledListeners.push(listener);
    return () => {
      const at = this.compiledListeners.indexOf(listener);
      if (at >= 0) this.compiledListeners.splice(at, 1);
    };
  }

  /**
   * Recompiles from the store. Reads head before the orders, so the version never claims more than it
   * holds; and the epoch before the head, so a history replaced in between gives a ruleset of the old
   * epoch, which Redis and every holder refuse, never the new epoch's name on the old history's orders.
   */
  async refresh(): Promise<Ruleset> {
    const epoch = await this.orders.epoch?.();
    const head = await this.orders.head();
    const orders = await this.orders.listOrders();
    const next = compile(orders, {
      version: head.seq,
      epoch,
      compiledAt: new Date(this.clock()).toISOString(),
    });
    this.holder.install(next, "compile");
    // The compiled ruleset, even when a newer one is already in force here: publishing is ordered by
    // the receiver (a compare-and-set on the version), not by this instance.
    await this.notifyCompiled(next);
    return this.holder.current();
  }

  /**
   * All listeners run, side by side, even when one fails: a failing KV publish must not keep the Redis
   * sync from announcing, nor the other way round. The first failure is rethrown once all have settled.
   */
  private async notifyCompiled(next: Ruleset): Promise<void> {
    const results = await Promise.allSettled([...this.compiledListeners].map(async (l) => l(next)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}
