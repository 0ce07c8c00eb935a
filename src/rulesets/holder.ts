/**
 * Holds the ruleset every check reads, and replaces it after order changes. Long-lived: one per
 * process (or Worker isolate). The swap is a single reference assignment, so a check sees the whole old
 * or the whole new ruleset, never a mix; a stale compile (an older store version finishing late) never
 * replaces a newer one.
 *
 * Runtime-free on purpose (the Worker uses it too): distribution (Redis, KV) plugs in through
 * `addCompiledListener` and `install(ruleset, source)`, never through an import here.
 */
import { compile, emptyRuleset, type Ruleset } from "../engine/index.js";
import type { OrderStore } from "../store/interface.js";

/** Where an installed ruleset came from: compiled here from the store, or received as a document. */
export type RulesetSource = "compile" | "redis" | "disk" | "kv";

/** Hears every ruleset `refresh` compiles; see `addCompiledListener`. */
export type CompiledListener = (ruleset: Ruleset) => Promise<void> | void;

export interface InstalledRuleset {
  source: RulesetSource;
  version: number;
  /** ISO time of the install, by the manager's clock. */
  at: string;
}

export class RulesetManager {
  private ruleset: Ruleset;
  private loaded = false;
  private info: InstalledRuleset | undefined;

  private readonly compiledListeners: CompiledListener[] = [];

  constructor(
    private readonly store: Pick<OrderStore, "listOrders" | "head">,
    private readonly clock: () => number,
  ) {
    this.ruleset = emptyRuleset(new Date(0).toISOString());
  }

  current(): Ruleset {
    return this.ruleset;
  }

  /** True once any ruleset was installed (compiled, or received from Redis, disk or KV). */
  isLoaded(): boolean {
    return this.loaded;
  }

  /** The origin of the ruleset in force; undefined until one was installed. */
  get installed(): InstalledRuleset | undefined {
    return this.info;
  }

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

  /** Recompiles from the store. Reads head before the orders, so the version never claims more than it holds. */
  async refresh(): Promise<Ruleset> {
    const head = await this.store.head();
    const orders = await this.store.listOrders();
    const next = compile(orders, { version: head.seq, compiledAt: new Date(this.clock()).toISOString() });
    this.install(next, "compile");
    // The compiled ruleset, even when a newer one is already in force here: publishing is ordered by
    // the receiver (a compare-and-set on the version), not by this instance.
    await this.notifyCompiled(next);
    return this.ruleset;
  }

  /** Installs a ruleset unless a newer one is already in place. */
  install(next: Ruleset, source: RulesetSource = "compile"): boolean {
    this.loaded = true;
    if (next.version < this.ruleset.version) return false;
    this.ruleset = next;
    this.info = { source, version: next.version, at: new Date(this.clock()).toISOString() };
    return true;
  }

  /**
   * All listeners run, side by side, even when one fails: a failing KV publish must not keep the Redis
   * sync from announcing, nor the other way round. The first failure is rethrown once all have settled,
   * as a single listener's failure was before.
   */
  private async notifyCompiled(next: Ruleset): Promise<void> {
    const results = await Promise.allSettled([...this.compiledListeners].map(async (l) => l(next)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}
