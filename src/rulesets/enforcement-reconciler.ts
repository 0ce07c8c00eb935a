/**
 * `EnforcementReconciler`: publishes enforcement events by reconciling the published state with the
 * ruleset in force here, at its `now`: after every ruleset this instance installs, at the next window
 * boundary of an order (a timer, so a block starts or expires with no request and no order change), and
 * at least every `pollMs` (the safety poll). Every instance runs one; the store's compare-and-set makes
 * their reconciles publish each change once (store/enforcement-events.ts). See enforcement.md.
 */
import { enforcedState, nextBoundary, reconcile } from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { Clock, Readiness } from "../kernel/runtime.js";
import type { EnforcementEventStore, PublishResult } from "../store/enforcement-events.js";
import { instruments } from "../telemetry/index.js";
import type { RulesetHolder } from "./holder.js";

export interface EnforcementReconcilerOptions {
  holder: Pick<RulesetHolder, "current" | "isLoaded" | "onInstall">;
  store: EnforcementEventStore;
  clock: Clock;
  logger?: Logger;
  /** The longest wait between two reconciles, ms (CORDON_EVENTS_POLL_MS). Default 30 000. */
  pollMs?: number;
}

export type ReconcileOutcome = PublishResult | { kind: "unchanged" } | { kind: "not-loaded" };

/** Retries of a reconcile that lost its compare-and-set to another instance's, before the next trigger. */
const CONFLICT_RETRIES = 5;
/** After a failure (the store unreachable): try again this soon, unless a boundary comes first. */
const RETRY_MS = 1000;

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
    this.removeListener = this.opts.holder.onInstall(() => void this.kick());
    void this.kick();
    return this;
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
    const { holder, store, clock } = this.opts;
    // Before any ruleset is in, the empty placeholder would lift every block.
    if (!holder.isLoaded()) return { kind: "not-loaded" };
    for (let attempt = 0; attempt <= CONFLICT_RETRIES; attempt++) {
      const ruleset = holder.current();
      const now = clock();
      const published = await store.published();
      const { changes, events } = reconcile(published.orders, enforcedState(ruleset, now));
      // A newer ruleset with nothing to announce is still recorded, so an older one can no longer publish.
      const newer = (ruleset.epoch ?? null) !== published.epoch || ruleset.version > published.version;
      if (changes.length === 0 && !newer) return { kind: "unchanged" };
      const at = new Date(now).toISOString();
      const result = await store.publish({
        rev: published.rev,
        epoch: ruleset.epoch,
        version: ruleset.version,
        at: now,
        changes,
        events: events.map((e) => ({ ...e, at, rulesetVersion: ruleset.version })),
      });
      if (result.kind === "published" && result.ids.length > 0) {
        for (const e of events) instruments.enforcementEvents.add(1, { type: e.type });
        this.logger.info("enforcement events published", {
          events: events.map((e, i) => ({ id: result.ids[i], type: e.type, orderId: e.orderId })),
          rulesetVersion: ruleset.version,
        });
      }
      if (result.kind !== "conflict") return result;
    }
    return { kind: "conflict" };
  }

  /** The next reconcile: the next boundary, a retry, or the poll, whichever comes first. */
  private arm(retryAt: number | undefined): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = this.opts.clock();
    const candidates = [now + this.pollMs];
    const boundary = this.opts.holder.isLoaded() ? nextBoundary(this.opts.holder.current(), now) : null;
    if (boundary !== null) candidates.push(boundary);
    if (retryAt !== undefined) candidates.push(retryAt);
    const delay = Math.max(0, Math.min(...candidates) - now);
    this.timer = setTimeout(() => void this.kick(), delay);
    // A process with nothing else to do may exit: this timer is no reason to stay.
    (this.timer as { unref?: () => void }).unref?.();
  }
}
