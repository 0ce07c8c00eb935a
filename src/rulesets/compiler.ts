/**
 * The compile trigger on the server: after every order change (and at start) it compiles the store's
 * orders into a new ruleset, installs it in the holder, and hands it to the distribution listeners
 * (the Redis sync, the KV publisher). The edge has none: it only installs what KV holds.
 *
 * Off the hot path: a new version is built from the last one and the audit entries since (only the
 * changed orders are compiled), in slices of a few milliseconds with the event loop free in between, so
 * checks keep being answered from the version in force until the new one is installed whole. Changes
 * that arrive during a compile are taken together by the next one.
 */
import {
  type CompileOptions,
  type CompileSteps,
  compileSteps,
  type Order,
  type Ruleset,
  recompileSteps,
} from "../engine/index.js";
import type { Clock } from "../kernel/runtime.js";
import type { OrderStore } from "../store/interface.js";
import type { RulesetHolder } from "./holder.js";

/**
 * What a compile reads: the orders, the head, and where the store has one (Redis) the epoch of the
 * history they belong to (absent: a store of one history, the embedded one).
 */
export type CompileSource = Pick<OrderStore, "listOrders" | "head"> &
  Partial<Pick<OrderStore, "readAudit">> & {
    epoch?(): Promise<string | undefined>;
  };

export interface CompilerOptions {
  /** The streaming SHA-256 of the ruleset hash (the Node runtime hands in its native one). */
  sha256?: CompileOptions["sha256"];
  /** Lets the event loop run between two slices of a compile. Default: a macrotask. */
  yieldToLoop?: () => Promise<void>;
  /** How long one slice may hold the event loop, in ms. Default 4. */
  sliceMs?: number;
}

/** Past this many audit entries since the last compile, a full compile is the cheaper way. */
const INCREMENTAL_LIMIT = 50_000;

const macrotask = (): Promise<void> =>
  new Promise((resolve) => {
    const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });

/** Hears every ruleset `refresh` compiles; see `addCompiledListener`. */
export type CompiledListener = (ruleset: Ruleset) => Promise<void> | void;

export class RulesetCompiler {
  private readonly compiledListeners: CompiledListener[] = [];
  /** The last ruleset compiled here: the base of the next, incremental, compile. */
  private last: Ruleset | undefined;
  private running: Promise<Ruleset> | undefined;
  private queued: Promise<Ruleset> | undefined;

  constructor(
    private readonly orders: CompileSource,
    readonly holder: RulesetHolder,
    private readonly clock: Clock,
    private readonly options: CompilerOptions = {},
  ) {}

  /** What this compiler hashes with: for verifying a ruleset received from elsewhere the same way. */
  get compileOptions(): CompileOptions {
    return this.options.sha256 === undefined ? {} : { sha256: this.options.sha256 };
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

  /**
   * Brings the ruleset up to the store: resolves with the ruleset in force once one compiled after this
   * call began is installed and handed to the listeners. One compile runs at a time; calls made during
   * it share the next one, which covers all their changes.
   */
  refresh(): Promise<Ruleset> {
    if (this.running === undefined) {
      this.running = this.compileOnce().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.refresh();
      });
    return this.queued;
  }

  /**
   * Starts from `base` (a ruleset read back from a snapshot, as of an earlier entry of this history) and
   * `changed`, the orders changed after it up to `head`, each in its state there: compiles only those,
   * installs the result (version `head.seq`) and keeps it as the base of the next `refresh`, which is
   * then incremental. For a start, before any `refresh`.
   */
  async resume(base: Ruleset, changed: readonly Order[], head: { seq: number }): Promise<Ruleset> {
    if (this.last !== undefined || this.running !== undefined)
      throw new Error("resume is for a start, before any compile");
    if (head.seq < base.version) throw new Error(`resume from v${base.version} to an older head ${head.seq}`);
    const meta = { version: head.seq, epoch: base.epoch, compiledAt: new Date(this.clock()).toISOString() };
    const next =
      changed.length === 0 && head.seq === base.version
        ? base
        : await this.run(recompileSteps(base, changed, meta, this.options));
    this.last = next;
    this.holder.install(next, "compile");
    await this.notifyCompiled(next);
    return this.holder.current();
  }

  /**
   * Reads head before the orders, so the version never claims more than it holds; and the epoch before
   * the head, so a history replaced in between gives a ruleset of the old epoch, which Redis and every
   * holder refuse, never the new epoch's name on the old history's orders.
   */
  private async compileOnce(): Promise<Ruleset> {
    const epoch = await this.orders.epoch?.();
    const head = await this.orders.head();
    const meta = { version: head.seq, epoch, compiledAt: new Date(this.clock()).toISOString() };
    const base = this.base(epoch);
    const changes = await this.changesSince(base, epoch, head.seq);
    const steps: CompileSteps =
      base !== undefined && changes !== undefined
        ? recompileSteps(base, changes, meta, this.options)
        : compileSteps(await this.orders.listOrders(), meta, this.options);
    const next = await this.run(steps);
    this.last = next;
    this.holder.install(next, "compile");
    // The compiled ruleset, even when a newer one is already in force here: publishing is ordered by
    // the receiver (a compare-and-set on the version), not by this instance.
    await this.notifyCompiled(next);
    return this.holder.current();
  }

  /**
   * What the next compile builds on: the last one made here, or the ruleset in force when it is newer and
   * of the same history (on Redis, another instance's version installed here, verified by its hash). A
   * version built on the installed one is the change from it, so the sync can publish it as a delta.
   */
  private base(epoch: string | undefined): Ruleset | undefined {
    const installed = this.holder.isLoaded() ? this.holder.current() : undefined;
    if (installed === undefined || installed.epoch !== epoch) return this.last;
    return this.last === undefined || installed.version > this.last.version ? installed : this.last;
  }

  /**
   * The orders changed after `base` up to `seq`, from the audit log; undefined when they cannot be
   * known that way (no base, another history, a store without an audit log, too many to be worth it).
   */
  private async changesSince(
    base: Ruleset | undefined,
    epoch: string | undefined,
    seq: number,
  ): Promise<Order[] | undefined> {
    if (base === undefined || this.orders.readAudit === undefined) return undefined;
    if (base.epoch !== epoch || seq < base.version || seq - base.version > INCREMENTAL_LIMIT)
      return undefined;
    if (seq === base.version) return [];
    const entries = await this.orders.readAudit({ after: base.version, limit: seq - base.version });
    // Entries run without gaps from base.version + 1; anything else and the full compile decides.
    const last = entries[entries.length - 1];
    if (entries.length !== seq - base.version || entries[0]?.seq !== base.version + 1 || last?.seq !== seq)
      return undefined;
    return entries.map((e) => e.order);
  }

  /** Runs a compile in slices of `sliceMs`, letting the event loop answer checks in between. */
  private async run(steps: CompileSteps): Promise<Ruleset> {
    const sliceMs = this.options.sliceMs ?? 4;
    const yieldToLoop = this.options.yieldToLoop ?? macrotask;
    for (;;) {
      const until = performance.now() + sliceMs;
      let step = steps.next();
      while (!step.done && performance.now() < until) step = steps.next();
      if (step.done) return step.value;
      await yieldToLoop();
    }
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
