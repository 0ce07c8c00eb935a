/**
 * `EnforcementReconciler`: publishes enforcement events by reconciling the published state with the
 * ruleset in force here, at its `now`: after every ruleset this instance installs, at the next window
 * boundary of an order (a timer, so a block starts or expires with no request and no order change), and
 * at least every `pollMs` (the safety poll). Every instance runs one; the store's compare-and-set makes
 * their reconciles publish each change once (store/enforcement-events.ts). See enforcement.md.
 *
 * Incremental: after a reconcile it keeps what it left published (`Mirror`), and the next one looks only
 * at the orders changed by the rulesets installed since, those whose window opened or closed since, and
 * those another instance published since (the store's `changesSince`); otherwise (the first time, a
 * ruleset not recompiled from the last one, the store no longer keeping all that was published since)
 * it reads every order, as before.
 */
import {
  BoundaryQueue,
  changedOrderIds,
  changeEvents,
  diffOrders,
  eachOrder,
  findOrder,
  nextBoundary,
  type Ruleset,
  type ScopeKey,
  type StateChange,
  scopeAt,
} from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { Clock, Readiness } from "../kernel/runtime.js";
import type { EnforcementEventStore, PublishedRevision, PublishResult } from "../store/enforcement-events.js";
import { instruments } from "../telemetry/index.js";
import type { RulesetHolder } from "./holder.js";

export interface EnforcementReconcilerOptions {
  holder: Pick<RulesetHolder, "current" | "isLoaded" | "onInstall">;
  store: EnforcementEventStore;
  clock: Clock;
  logger?: Logger;
  /** The longest wait between two reconciles, ms (CORDON_EVENTS_POLL_MS). Default 30 000. */
  pollMs?: number;
  /** Lets the event loop run between two slices of a reconcile over every order. Default: a macrotask. */
  yieldToLoop?: () => Promise<void>;
  /** How long one slice of such a reconcile may hold the event loop, in ms. Default 4. */
  sliceMs?: number;
}

export type ReconcileOutcome = PublishResult | { kind: "unchanged" } | { kind: "not-loaded" };

/** Retries of a reconcile that lost its compare-and-set to another instance's, before the next trigger. */
const CONFLICT_RETRIES = 5;
/** After a failure (the store unreachable): try again this soon, unless a boundary comes first. */
const RETRY_MS = 1000;
/** Installs remembered between two reconciles; past this many the next reconcile reads every order. */
const INSTALL_LOG_LIMIT = 1024;
/** Events named one by one in the log line of a publish; a larger publish (a first one) is counted. */
const LOGGED_EVENTS = 100;
/**
 * Order changes in one publish. More (a first reconcile of a million enforcing orders, or as many windows
 * opening at one instant) are published in runs of this many, one after the other, the event loop free
 * in between: one batch of a million would be one write of hundreds of megabytes, built in one go.
 */
export const PUBLISH_LIMIT = 10_000;

const macrotask = (): Promise<void> =>
  new Promise((resolve) => {
    const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });

/**
 * Cuts a walk over every order (a million of them at start) into slices of `sliceMs`, the event loop
 * free in between, so checks are answered while a full reconcile runs: `if (slices.due()) await
 * slices.pause()` in the loop.
 */
class Slices {
  private n = 0;
  private until: number;

  constructor(
    private readonly sliceMs: number,
    private readonly yieldToLoop: () => Promise<void>,
  ) {
    this.until = performance.now() + sliceMs;
  }

  /** Whether the slice is used up (the clock is read once every 256 steps). */
  due(): boolean {
    return (++this.n & 255) === 0 && performance.now() >= this.until;
  }

  async pause(): Promise<void> {
    await this.yieldToLoop();
    this.until = performance.now() + this.sliceMs;
  }
}

/**
 * What this instance last left published, as of the store's revision `published`: the scope of every
 * order, the ruleset and instant it was reconciled from, and the window boundaries after that instant.
 */
interface Mirror {
  published: PublishedRevision;
  orders: Map<string, ScopeKey>;
  ruleset: Ruleset;
  now: number;
  boundaries: BoundaryQueue;
}

/** One reconcile's result before it is published: over every order, or over the changed ones only. */
interface Plan {
  published: PublishedRevision;
  ruleset: Ruleset;
  now: number;
  /** Every change the plan found, by order id; published in runs of `PUBLISH_LIMIT`. */
  changes: StateChange[];
  /** Full: the store's orders as read. Incremental: the boundaries taken (put back if not published). */
  full?: Map<string, ScopeKey>;
  taken?: { at: number; orderId: string }[];
  changed?: ReadonlySet<string>;
  /** Incremental: what other instances published since the mirror's revision (null: none), by order. */
  foreign?: ReadonlyMap<string, ScopeKey | null>;
}

export class EnforcementReconciler {
  private readonly logger: Logger;
  private readonly pollMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<ReconcileOutcome> | undefined;
  private again = false;
  private stopped = false;
  private removeListener: (() => void) | undefined;
  private lastError: string | undefined;
  private lastReconcileAt: string | undefined;
  private lastOutcome: ReconcileOutcome["kind"] | undefined;
  private mirror: Mirror | undefined;
  /** The rulesets installed since, each with the orders it changed from the one before (undefined: any). */
  private installs: { ruleset: Ruleset; changed: ReadonlySet<string> | undefined }[] = [];
  private lastInstalled: Ruleset | undefined;

  constructor(private readonly opts: EnforcementReconcilerOptions) {
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.pollMs = opts.pollMs ?? 30_000;
  }

  /**
   * For `RulesetCompiler.addCompiledListener`: an order change here is answered once its events are
   * published (or the attempt failed: it is retried, the order change is not), so a subscriber that
   * sees the answer can count on the event being in the stream, as the Redis sync does for the ruleset.
   */
  readonly afterCompile = async (): Promise<void> => {
    await this.kick();
  };

  /** Starts listening for installs and reconciles once now. */
  start(): this {
    if (this.opts.holder.isLoaded()) this.lastInstalled = this.opts.holder.current();
    this.removeListener = this.opts.holder.onInstall((ruleset) => {
      this.noteInstall(ruleset);
      void this.kick();
    });
    void this.kick();
    return this;
  }

  /** Remembers which orders an installed ruleset changed, for the next reconcile. */
  private noteInstall(ruleset: Ruleset): void {
    const previous = this.lastInstalled;
    this.lastInstalled = ruleset;
    const changed = previous === undefined ? undefined : changedOrderIds(ruleset, previous);
    if (this.installs.length >= INSTALL_LOG_LIMIT) this.installs = [{ ruleset, changed: undefined }];
    else this.installs.push({ ruleset, changed });
  }

  /**
   * The orders that may differ between the ruleset `mirror` was reconciled from and `ruleset`: the union
   * of what each install since changed; undefined when that is not known.
   */
  private changedSince(mirror: Mirror, ruleset: Ruleset): Set<string> | undefined {
    const out = new Set<string>();
    if (ruleset === mirror.ruleset && this.installs.length === 0) return out;
    if (this.installs.at(-1)?.ruleset !== ruleset) return undefined;
    for (const install of this.installs) {
      if (install.changed === undefined) return undefined;
      for (const id of install.changed) out.add(id);
    }
    return out;
  }

  /**
   * Reconciles now, or right after the reconcile under way (which may have read an older ruleset).
   * Resolves with the outcome of the last reconcile it waited for; never rejects.
   */
  kick(): Promise<ReconcileOutcome> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * For /readyz: never unready (checks do not depend on it), degraded while reconciles fail (the event
   * store unreachable): blocks still take effect, the meeting service hears of it late.
   */
  readiness(): Readiness {
    return {
      name: "enforcement-events",
      ready: true,
      degraded: this.lastError !== undefined,
      detail: {
        ...(this.lastOutcome ? { lastOutcome: this.lastOutcome } : {}),
        ...(this.lastReconcileAt ? { lastReconcileAt: this.lastReconcileAt } : {}),
        ...(this.lastError ? { lastError: this.lastError } : {}),
      },
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.removeListener?.();
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<ReconcileOutcome> {
    let outcome: ReconcileOutcome;
    do {
      this.again = false;
      let retryAt: number | undefined;
      try {
        outcome = await this.reconcileOnce();
        this.lastError = undefined;
        if (outcome.kind === "stale") {
          this.logger.debug("enforcement events: not published, this instance is behind", {
            reason: outcome.reason,
          });
          retryAt = outcome.retryAt;
        }
      } catch (err) {
        this.logger.warn("enforcement events: reconcile failed; retrying", { error: (err as Error).message });
        this.lastError = (err as Error).message;
        outcome = { kind: "conflict" };
        retryAt = this.opts.clock() + RETRY_MS;
      }
      this.lastOutcome = outcome.kind;
      this.lastReconcileAt = new Date(this.opts.clock()).toISOString();
      if (!this.again) this.arm(retryAt);
    } while (this.again && !this.stopped);
    return outcome;
  }

  private async reconcileOnce(): Promise<ReconcileOutcome> {
    const { holder } = this.opts;
    // Before any ruleset is in, the empty placeholder would lift every block.
    if (!holder.isLoaded()) return { kind: "not-loaded" };
    for (let attempt = 0; attempt <= CONFLICT_RETRIES; attempt++) {
      const plan = await this.plan();
      const { published, ruleset } = plan;
      // A newer ruleset with nothing to announce is still recorded, so an older one can no longer publish.
      const newer = (ruleset.epoch ?? null) !== published.epoch || ruleset.version > published.version;
      if (plan.changes.length === 0 && !newer) {
        await this.settle(plan, [], published, true);
        return { kind: "unchanged" };
      }
      const result = await this.publishPlan(plan);
      if (result.kind !== "conflict") return result;
      // Another instance published first: the next plan asks the store what (`changesSince`), over the
      // mirror as it was (a first run that does not go through leaves it as it was), or reads every order.
    }
    return { kind: "conflict" };
  }

  /**
   * Publishes the plan's changes, `PUBLISH_LIMIT` at a time, each run its own compare-and-set on the
   * revision the one before left, the mirror settled after each. A run that does not go through after
   * the first leaves the mirror to a reconcile of every order (the plan's other changes are not in it).
   */
  private async publishPlan(plan: Plan): Promise<PublishResult> {
    const { ruleset, now } = plan;
    const at = new Date(now).toISOString();
    let revision = plan.published;
    let result: PublishResult = { kind: "conflict" };
    for (let from = 0; from === 0 || from < plan.changes.length; from += PUBLISH_LIMIT) {
      const first = from === 0;
      // Nothing of this run went through: a first run leaves the mirror as it was, a later one (after
      // runs that did go through) leaves it to a reconcile of every order.
      const notPublished = () => {
        if (first) this.unsettled(plan);
        else this.mirror = undefined;
      };
      const changes = plan.changes.slice(from, from + PUBLISH_LIMIT);
      const events = changeEvents(changes);
      try {
        result = await this.opts.store.publish({
          rev: revision.rev,
          epoch: ruleset.epoch,
          version: ruleset.version,
          at: now,
          changes,
          events: events.map((e) => ({ ...e, at, rulesetVersion: ruleset.version })),
        });
      } catch (err) {
        notPublished();
        throw err;
      }
      if (result.kind !== "published") {
        notPublished();
        return result;
      }
      revision = { rev: revision.rev + 1, epoch: ruleset.epoch ?? null, version: ruleset.version, at: now };
      await this.settle(plan, changes, revision, first);
      if (result.ids.length > 0) {
        for (const e of events) instruments.enforcementEvents.add(1, { type: e.type });
        const ids = result.ids;
        this.logger.info("enforcement events published", {
          events: events
            .slice(0, LOGGED_EVENTS)
            .map((e, i) => ({ id: ids[i], type: e.type, orderId: e.orderId })),
          ...(events.length > LOGGED_EVENTS ? { count: events.length } : {}),
          rulesetVersion: ruleset.version,
        });
      }
    }
    return result;
  }

  /**
   * The changes that take what is published to the ruleset in force at now: over the orders changed
   * since the mirror's reconcile, those whose window boundary passed and those other instances published
   * since the mirror's revision, when the store still keeps what they published; over every order
   * otherwise.
   */
  private async plan(): Promise<Plan> {
    const { holder, store, clock } = this.opts;
    const ruleset = holder.current();
    const now = clock();
    const mirror = this.mirror;
    const changed = mirror && now >= mirror.now ? this.changedSince(mirror, ruleset) : undefined;
    if (mirror && changed) {
      const since = await store.changesSince(mirror.published);
      if (since) {
        // Another instance's publishes are reconciled here too: its ruleset or its clock may not be
        // this one's (a newer ruleset makes this publish stale; an instant this clock has not reached
        // is left to the boundary queue, which still holds that order's boundary).
        const foreign = since.orders;
        const taken = mirror.boundaries.takeUntil(now);
        const ids = new Set(changed);
        for (const t of taken) ids.add(t.orderId);
        for (const id of foreign.keys()) ids.add(id);
        // In slices too: what another instance published may name thousands of orders (up to what the
        // store keeps), as may a large import installed here.
        const before = (id: string) =>
          foreign.has(id) ? (foreign.get(id) ?? null) : (mirror.orders.get(id) ?? null);
        const slices = this.slices();
        const desired = new Map<string, ScopeKey | null>();
        for (const id of ids) {
          if (slices.due()) await slices.pause();
          const scope = scopeAt(findOrder(ruleset, id), now);
          if (scope !== before(id)) desired.set(id, scope);
        }
        const changes = diffOrders(desired.keys(), before, (id) => desired.get(id) ?? null);
        return { published: since.revision, ruleset, now, changes, taken, changed, foreign };
      }
    }
    const { orders, ...published } = await store.published();
    // Every order, in slices: the orders whose published scope is not the one in force now.
    const slices = this.slices();
    const desired = new Map<string, ScopeKey>();
    for (const order of eachOrder(ruleset)) {
      if (slices.due()) await slices.pause();
      const scope = scopeAt(order, now);
      if (scope !== null) desired.set(order.id, scope);
    }
    const differ: string[] = [];
    for (const [id, scope] of orders) {
      if (slices.due()) await slices.pause();
      if (desired.get(id) !== scope) differ.push(id);
    }
    for (const id of desired.keys()) {
      if (slices.due()) await slices.pause();
      if (!orders.has(id)) differ.push(id);
    }
    const changes = diffOrders(
      differ,
      (id) => orders.get(id) ?? null,
      (id) => desired.get(id) ?? null,
    );
    return { published, ruleset, now, changes, full: orders };
  }

  private slices(): Slices {
    return new Slices(this.opts.sliceMs ?? 4, this.opts.yieldToLoop ?? macrotask);
  }

  /**
   * The store holds what the plan found, up to `changes` (published, or nothing to publish): the mirror
   * moves to it. `first`: the plan's first run (a later run of a large plan only adds its changes).
   */
  private async settle(
    plan: Plan,
    changes: readonly StateChange[],
    published: PublishedRevision,
    first: boolean,
  ): Promise<void> {
    const { ruleset, now } = plan;
    let mirror = this.mirror;
    if (plan.full !== undefined && first) {
      const boundaries = new BoundaryQueue();
      const slices = this.slices();
      for (const order of eachOrder(ruleset)) {
        if (slices.due()) await slices.pause();
        boundaries.addOrder(order, now);
      }
      // The store's map is this reconciler's own (`published()` hands out a copy).
      mirror = { published, orders: plan.full, ruleset, now, boundaries };
      this.mirror = mirror;
    } else if (mirror === undefined) {
      return;
    } else {
      if (first) {
        for (const id of plan.changed ?? []) mirror.boundaries.addOrder(findOrder(ruleset, id), now);
        // What others published, before this plan's own changes (made over it). Their orders' boundaries
        // need nothing new: those are of this instance's ruleset, already in the queue.
        for (const [id, scope] of plan.foreign ?? []) {
          if (scope === null) mirror.orders.delete(id);
          else mirror.orders.set(id, scope);
        }
      }
      mirror.published = published;
      mirror.ruleset = ruleset;
      mirror.now = now;
    }
    for (const c of changes) {
      if (c.after === null) mirror.orders.delete(c.orderId);
      else mirror.orders.set(c.orderId, c.after);
    }
    // The installs up to this ruleset are reconciled; those after it wait for the next reconcile.
    const at = this.installs.findIndex((i) => i.ruleset === ruleset);
    if (at >= 0) this.installs = this.installs.slice(at + 1);
  }

  /** Nothing was published: the boundaries taken for it are taken again next time. */
  private unsettled(plan: Plan): void {
    if (plan.taken === undefined || this.mirror === undefined) return;
    for (const t of plan.taken) this.mirror.boundaries.add(t.at, t.orderId);
  }

  /** The next reconcile: the next boundary, a retry, or the poll, whichever comes first. */
  private arm(retryAt: number | undefined): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = this.opts.clock();
    const candidates = [now + this.pollMs];
    const boundary = this.nextBoundary(now);
    if (boundary !== null) candidates.push(boundary);
    if (retryAt !== undefined) candidates.push(retryAt);
    const delay = Math.max(0, Math.min(...candidates) - now);
    this.timer = setTimeout(() => void this.kick(), delay);
    // A process with nothing else to do may exit: this timer is no reason to stay.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** The next window boundary of an order in force here: from the mirror's queue when it is current. */
  private nextBoundary(now: number): number | null {
    const { holder } = this.opts;
    if (!holder.isLoaded()) return null;
    const ruleset = holder.current();
    const mirror = this.mirror;
    const changed = mirror ? this.changedSince(mirror, ruleset) : undefined;
    if (mirror === undefined || changed === undefined) return nextBoundary(ruleset, now);
    let next = mirror.boundaries.nextAfter(now);
    for (const id of changed) {
      const order = findOrder(ruleset, id);
      if (order?.mode !== "enforce") continue;
      for (const t of [order.from, order.until])
        if (t !== null && t > now && (next === null || t < next)) next = t;
    }
    return next;
  }
}
