/**
 * The edge's ruleset: read from KV, verified, and kept in isolate memory. Long-lived: one per Worker
 * isolate, created at module scope, so the last good ruleset survives between requests for as long as
 * the isolate does; a new isolate starts empty and loads before its first check.
 *
 * What it enforces only ever moves forward, and only to a ruleset whose signature verifies:
 * - a tampered value (bad signature, unknown key, broken document) is refused, the previous ruleset
 *   stays in force, and `status()` says why;
 * - an older version is refused (a replayed value, or KV's eventual consistency showing one edge
 *   location an older write for a while); the same version is the steady state, not a refusal;
 * - versions count within one order history (the ruleset's `epoch`): after a Redis was re-seeded into a
 *   new history its versions start low again, so a ruleset of another epoch is taken when it was
 *   compiled later than the one in force (its signed `compiledAt`) and refused as a replay otherwise.
 * KV itself is eventually consistent (a write can take about 60 s to reach every location), so the
 * edge enforces what it last read: at most `refreshMs` plus KV's propagation behind the Node side.
 *
 * Runtime-free: `load` is the Worker's `env.KV.get(key)`, and the Worker decides how to wait (see
 * `beforeRequest`).
 */
import type { Ruleset } from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { Readiness } from "../kernel/runtime.js";
import type { RulesetHolder } from "./holder.js";
import { RulesetRejectedError, type VerifyingKey, verifySignedRuleset } from "./signed.js";

export interface EdgeRulesetsOptions {
  publicKeys: readonly VerifyingKey[];
  /** Reads the signed ruleset (the KV value, as text); null when the key holds nothing. */
  load: () => Promise<string | null>;
  manager: Pick<RulesetHolder, "current" | "isLoaded" | "install">;
  /** Epoch ms. */
  clock: () => number;
  /** How long a read stays fresh; no KV read happens within it. Default 10 s. */
  refreshMs?: number;
  logger?: Logger;
}

export interface EdgeRejection {
  /** Which check refused it: a signature check, or the version rule. */
  code: RulesetRejectedError["reason"] | "older-version" | "conflicting-version" | "older-epoch";
  reason: string;
  /** The refused ruleset's version, when it got far enough to have a trusted one. */
  version?: number;
  at: string;
}

export interface EdgeRulesetStatus {
  /** The version in force; null until a ruleset was loaded. */
  version: number | null;
  hash: string | null;
  /** When the ruleset in force was installed from KV. */
  loadedAt: string | null;
  /** The last KV read that completed (with any outcome). */
  checkedAt: string | null;
  /** The last read failed (KV error, or KV empty); cleared by the next read. */
  lastError?: string;
  /** What KV holds and why it is not in force; cleared once KV holds what is enforced, or newer. */
  lastRejected?: EdgeRejection;
}

export class EdgeRulesets {
  private readonly publicKeys: readonly VerifyingKey[];
  private readonly load: () => Promise<string | null>;
  private readonly manager: EdgeRulesetsOptions["manager"];
  private readonly clock: () => number;
  private readonly refreshMs: number;
  private readonly logger: Logger;

  private inFlight: Promise<void> | undefined;
  /** Start of the last read: the freshness window counts from it, so a slow read is not repeated. */
  private lastAttemptAt: number | undefined;
  private checkedAt: number | undefined;
  private loadedAt: number | undefined;
  private lastError: string | undefined;
  private lastRejected: EdgeRejection | undefined;
  /** The last KV text judged: an unchanged value is not verified (or logged) again. */
  private lastText: string | undefined;

  constructor(opts: EdgeRulesetsOptions) {
    this.publicKeys = opts.publicKeys;
    this.load = opts.load;
    this.manager = opts.manager;
    this.clock = opts.clock;
    this.refreshMs = opts.refreshMs ?? 10_000;
    this.logger = opts.logger ?? SILENT_LOGGER;
  }

  /**
   * Reads KV when nothing is loaded yet or the last read is older than `refreshMs`; otherwise returns at
   * once. At most one read is in flight: concurrent callers share it. Never rejects: failures and
   * refusals are kept for `status()`, and the ruleset in force stays.
   */
  ensureFresh(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const now = this.clock();
    if (
      this.manager.isLoaded() &&
      this.lastAttemptAt !== undefined &&
      now - this.lastAttemptAt < this.refreshMs
    ) {
      return Promise.resolve();
    }
    this.lastAttemptAt = now;
    const run = this.refresh()
      .catch((err: unknown) => {
        // Only a bug gets here (refusals and KV failures are handled in `refresh`): keep what is in force.
        this.failed(`ruleset refresh failed: ${message(err)}`);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = run;
    return run;
  }

  /**
   * What the Worker calls on each request: until a ruleset is loaded the request waits for the read
   * (a check without one cannot be answered); after that it never waits on KV, and a due refresh runs
   * under `waitUntil`, so the request is answered from the ruleset in force.
   */
  beforeRequest(waitUntil: (promise: Promise<unknown>) => void): Promise<void> {
    if (!this.manager.isLoaded()) return this.ensureFresh();
    waitUntil(this.ensureFresh());
    return Promise.resolve();
  }

  status(): EdgeRulesetStatus {
    const loaded = this.manager.isLoaded();
    const ruleset = this.manager.current();
    return {
      version: loaded ? ruleset.version : null,
      hash: loaded ? ruleset.hash : null,
      loadedAt: iso(this.loadedAt),
      checkedAt: iso(this.checkedAt),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.lastRejected !== undefined ? { lastRejected: this.lastRejected } : {}),
    };
  }

  /** For /readyz: ready once a ruleset is in force; degraded while KV cannot be read or is refused. */
  readiness(): Readiness {
    const status = this.status();
    return {
      name: "edge-ruleset",
      ready: this.manager.isLoaded(),
      degraded: status.lastError !== undefined || status.lastRejected !== undefined,
      detail: { ...status },
    };
  }

  private async refresh(): Promise<void> {
    let text: string | null;
    try {
      text = await this.load();
    } catch (err) {
      this.failed(`KV read failed: ${message(err)}`);
      return;
    }
    if (text === null) {
      this.failed("KV holds no ruleset");
      return;
    }
    this.lastError = undefined;
    this.checkedAt = this.clock();
    if (text === this.lastText) return;

    let next: Ruleset;
    try {
      next = await verifySignedRuleset(text, this.publicKeys);
    } catch (err) {
      if (!(err instanceof RulesetRejectedError)) throw err;
      this.lastText = text;
      this.reject({ code: err.reason, reason: err.message });
      return;
    }
    this.lastText = text;
    const current = this.manager.current();
    if (this.manager.isLoaded() && next.epoch !== current.epoch) {
      if (!(Date.parse(next.compiledAt) > Date.parse(current.compiledAt))) {
        this.reject({
          code: "older-epoch",
          reason: `KV holds v${next.version} of order history ${next.epoch ?? "(none)"}, compiled at ${next.compiledAt}, not after v${current.version} of ${current.epoch ?? "(none)"} in force (compiled at ${current.compiledAt})`,
          version: next.version,
        });
        return;
      }
      this.logger.warn("ruleset of another order history installed from KV: its versions start anew", {
        version: next.version,
        epoch: next.epoch,
        previousVersion: current.version,
        previousEpoch: current.epoch,
      });
    } else if (this.manager.isLoaded()) {
      if (next.version < current.version) {
        this.reject({
          code: "older-version",
          reason: `KV holds v${next.version}, older than v${current.version} in force`,
          version: next.version,
        });
        return;
      }
      if (next.version === current.version) {
        if (next.hash === current.hash) {
          this.lastRejected = undefined;
        } else {
          // Equal versions come from one store sequence number, so they should mean equal orders: a
          // signer bug or a store that lost data. Keep what is enforced rather than flip between them.
          this.reject({
            code: "conflicting-version",
            reason: `KV holds v${next.version} with other orders (hash ${next.hash}) than v${current.version} in force (${current.hash})`,
            version: next.version,
          });
        }
        return;
      }
    }
    this.manager.install(next, "kv");
    this.loadedAt = this.clock();
    this.lastRejected = undefined;
    this.logger.info("ruleset installed from KV", {
      version: next.version,
      hash: next.hash,
      previous: current.version,
    });
  }

  private failed(reason: string): void {
    if (this.lastError !== reason) {
      this.logger.warn("edge ruleset not refreshed; enforcing the one in force", {
        reason,
        version: this.manager.isLoaded() ? this.manager.current().version : null,
      });
    }
    this.lastError = reason;
  }

  private reject(rejection: Omit<EdgeRejection, "at">): void {
    this.lastRejected = { ...rejection, at: new Date(this.clock()).toISOString() };
    this.logger.error("ruleset in KV refused; keeping the one in force", {
      ...rejection,
      inForce: this.manager.isLoaded() ? this.manager.current().version : null,
    });
  }
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
