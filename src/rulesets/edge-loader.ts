/**
 * The edge's ruleset: read from KV, verified, and kept in isolate memory. Long-lived: one per Worker
 * isolate, created at module scope, so the last good ruleset survives between requests for as long as
 * the isolate does; a new isolate starts empty and loads before its first check.
 *
 * KV holds the ruleset sharded (`sharded.ts`): a signed manifest, read on every refresh, and shards
 * named by their SHA-256, read when a check needs one. A manifest is taken only once the shards this
 * isolate already held (and those of the checks in flight) are read and verified for it, and then in
 * one synchronous step: a check is decided on one version, never on shards of two. Until then the
 * version in force stays (KV may show a new manifest before its shards). While KV holds no manifest,
 * the single signed value of earlier releases (`ruleset/current`) is read instead.
 *
 * What it enforces only ever moves forward, and only to a ruleset whose signature verifies:
 * - a tampered value (bad signature, unknown key, broken document, a shard whose digest is not the
 *   manifest's) is refused, the previous ruleset stays in force, and `status()` says why;
 * - an older version is refused (a replayed value, or KV's eventual consistency showing one edge
 *   location an older write for a while); the same version is the steady state, not a refusal;
 * - versions count within one order history (the ruleset's `epoch`): after a Redis was re-seeded into a
 *   new history its versions start low again, so a ruleset of another epoch is taken when it was
 *   compiled later than the one in force (its signed `compiledAt`) and refused as a replay otherwise.
 * KV itself is eventually consistent (a write can take about 60 s to reach every location), so the
 * edge enforces what it last read: at most `refreshMs` plus KV's propagation behind the Node side.
 *
 * Runtime-free: `read` is the Worker's `env.KV.get(key)`, and the Worker decides how to wait (see
 * `beforeRequest` and `withShards`).
 */
import type { Ruleset } from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { Readiness } from "../kernel/runtime.js";
import type { RulesetHolder } from "./holder.js";
import {
  carryOver,
  RULESET_MANIFEST_KV_KEY,
  type Shard,
  ShardedRuleset,
  shardKey,
  shardOf,
  verifyShard,
  verifySignedManifest,
} from "./sharded.js";
import { RULESET_KV_KEY, RulesetRejectedError, type VerifyingKey, verifySignedRuleset } from "./signed.js";

export interface EdgeRulesetsOptions {
  publicKeys: readonly VerifyingKey[];
  /** Reads a KV value as text (the manifest, a shard, the single value); null when the key holds nothing. */
  read: (key: string) => Promise<string | null>;
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
  /** Sharded: how many shards the manifest in force names, and how many this isolate holds. */
  shards?: { count: number; loaded: number };
}

/** The meetings and accounts a request's checks name: their shards are loaded before it is answered. */
export interface ShardNeed {
  meetingIds: readonly string[];
  accountIds: readonly string[];
  /** Every shard (the ruleset summary lists every order). */
  all?: boolean;
}

/** A check's shard could not be read or verified: the check is not answered (503), never guessed. */
export class ShardUnavailableError extends Error {
  override readonly name = "ShardUnavailableError";
}

export class EdgeRulesets {
  private readonly publicKeys: readonly VerifyingKey[];
  private readonly read: (key: string) => Promise<string | null>;
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
  /** The sharded ruleset in force; undefined while nothing or a single-value ruleset is. */
  private active: ShardedRuleset | undefined;
  /** Ids of the checks in flight (`m:` or `a:` prefixed), with a count: a new manifest must cover them. */
  private readonly pinned = new Map<string, number>();
  /** Requests in flight that need every shard. */
  private pinnedAll = 0;
  /** Shard reads in flight, by digest: concurrent checks needing one shard share the read. */
  private readonly shardReads = new Map<string, Promise<Shard>>();

  constructor(opts: EdgeRulesetsOptions) {
    this.publicKeys = opts.publicKeys;
    this.read = opts.read;
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
      ...(this.active !== undefined
        ? { shards: { count: this.active.shardCount, loaded: this.active.loadedIndexes().length } }
        : {}),
    };
  }

  /**
   * Whether a request must name its checks' ids before it is answered: only while a sharded ruleset is
   * in force and some of its shards are not loaded. Once every shard is held (or a single value is in
   * force) the check path costs no body parse: a new manifest is taken with every shard then.
   */
  needsShards(): boolean {
    const view = this.active;
    return view !== undefined && !view.complete;
  }

  /**
   * Runs `run` (the app answering a request) once the shards of `need` are loaded for the ruleset in
   * force, with its ids pinned meanwhile: a manifest installed while it runs holds their shards too.
   * Throws `ShardUnavailableError` (before `run`) when a shard cannot be read or verified.
   */
  async withShards<T>(need: ShardNeed, run: () => Promise<T>): Promise<T> {
    const ids = [...need.meetingIds.map((id) => `m:${id}`), ...need.accountIds.map((id) => `a:${id}`)];
    for (const id of ids) this.pinned.set(id, (this.pinned.get(id) ?? 0) + 1);
    if (need.all) this.pinnedAll += 1;
    try {
      for (;;) {
        const view = this.active;
        if (view === undefined) break;
        const wanted = need.all ? allIndexes(view.shardCount) : this.indexesOf(ids, view.shardCount);
        const missing = wanted.filter((i) => !view.isLoaded(i));
        if (missing.length === 0) break;
        try {
          await Promise.all(missing.map((i) => this.loadShard(view, i)));
        } catch (err) {
          const reason = message(err);
          this.failed(reason);
          throw new ShardUnavailableError(reason);
        }
        // Another manifest may have been installed meanwhile: look again against the one in force.
      }
      return await run();
    } finally {
      if (need.all) this.pinnedAll -= 1;
      for (const id of ids) {
        const n = (this.pinned.get(id) ?? 1) - 1;
        if (n === 0) this.pinned.delete(id);
        else this.pinned.set(id, n);
      }
    }
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
    const read = await this.readVerified(RULESET_MANIFEST_KV_KEY, verifySignedManifest);
    if (read === "absent") {
      await this.refreshSingle();
      return;
    }
    if (read === undefined) return;
    const { text, value: manifest } = read;
    if (this.judge(manifest) !== "install") {
      this.lastText = text;
      return;
    }
    const next = new ShardedRuleset(manifest);
    // Read the shards this isolate holds, for the new version; then, in one synchronous step, check that
    // nothing was added meanwhile and install. Any failure keeps the version in force, and the manifest
    // is judged again on the next refresh (its shards may not have reached this location yet).
    for (;;) {
      const wanted = this.carried(next).filter((i) => !next.isLoaded(i));
      if (wanted.length === 0) break;
      try {
        await Promise.all(wanted.map((i) => this.loadShard(next, i)));
      } catch (err) {
        const reason = `v${manifest.version} not installed, keeping the version in force: ${message(err)}`;
        if (err instanceof RulesetRejectedError) {
          this.reject({ code: err.reason, reason, version: manifest.version });
        } else {
          this.failed(reason);
        }
        return;
      }
    }
    this.lastText = text;
    this.active = next;
    this.installed(next, { shards: next.shardCount, loaded: next.loadedIndexes().length });
  }

  /** The single-value format of earlier releases, read while KV holds no manifest. */
  private async refreshSingle(): Promise<void> {
    const read = await this.readVerified(RULESET_KV_KEY, verifySignedRuleset);
    if (read === "absent") {
      this.failed("KV holds no ruleset");
      return;
    }
    if (read === undefined) return;
    const { text, value: next } = read;
    this.lastText = text;
    if (this.judge(next) !== "install") return;
    this.active = undefined;
    this.installed(next, {});
  }

  /**
   * Reads `key` and verifies its signed value, the step both formats share: "absent" when KV holds
   * nothing there; undefined when there is nothing further to judge (the read failed, the value is the
   * one last judged, or its signature or document was refused: each recorded); else the value and its
   * text. A refused text is remembered, so it is not verified again until KV holds another.
   */
  private async readVerified<T>(
    key: string,
    verify: (text: string, keys: readonly VerifyingKey[]) => Promise<T>,
  ): Promise<{ text: string; value: T } | "absent" | undefined> {
    let text: string | null;
    try {
      text = await this.read(key);
    } catch (err) {
      this.failed(`KV read failed: ${message(err)}`);
      return undefined;
    }
    if (text === null) return "absent";
    this.lastError = undefined;
    this.checkedAt = this.clock();
    if (text === this.lastText) return undefined;
    try {
      return { text, value: await verify(text, this.publicKeys) };
    } catch (err) {
      if (!(err instanceof RulesetRejectedError)) throw err;
      this.lastText = text;
      this.reject({ code: err.reason, reason: err.message });
      return undefined;
    }
  }

  /**
   * The version rule, against the ruleset in force: "install" a newer one (or a later one of another
   * order history), "same" for the one in force, "refused" otherwise (recorded).
   */
  private judge(
    next: Pick<Ruleset, "version" | "epoch" | "hash" | "compiledAt">,
  ): "install" | "same" | "refused" {
    if (!this.manager.isLoaded()) return "install";
    const current = this.manager.current();
    if (next.epoch !== current.epoch) {
      if (!(Date.parse(next.compiledAt) > Date.parse(current.compiledAt))) {
        this.reject({
          code: "older-epoch",
          reason: `KV holds v${next.version} of order history ${next.epoch ?? "(none)"}, compiled at ${next.compiledAt}, not after v${current.version} of ${current.epoch ?? "(none)"} in force (compiled at ${current.compiledAt})`,
          version: next.version,
        });
        return "refused";
      }
      this.logger.warn("ruleset of another order history installed from KV: its versions start anew", {
        version: next.version,
        epoch: next.epoch,
        previousVersion: current.version,
        previousEpoch: current.epoch,
      });
      return "install";
    }
    if (next.version < current.version) {
      this.reject({
        code: "older-version",
        reason: `KV holds v${next.version}, older than v${current.version} in force`,
        version: next.version,
      });
      return "refused";
    }
    if (next.version === current.version) {
      if (next.hash === current.hash) {
        this.lastRejected = undefined;
        return "same";
      }
      // Equal versions come from one store sequence number, so they should mean equal orders: a
      // signer bug or a store that lost data. Keep what is enforced rather than flip between them.
      this.reject({
        code: "conflicting-version",
        reason: `KV holds v${next.version} with other orders (hash ${next.hash}) than v${current.version} in force (${current.hash})`,
        version: next.version,
      });
      return "refused";
    }
    return "install";
  }

  private installed(next: Ruleset, detail: Record<string, unknown>): void {
    const previous = this.manager.isLoaded() ? this.manager.current().version : null;
    this.manager.install(next, "kv");
    this.loadedAt = this.clock();
    this.lastRejected = undefined;
    this.logger.info("ruleset installed from KV", {
      version: next.version,
      hash: next.hash,
      previous,
      ...detail,
    });
  }

  /** The shards `next` must hold before it replaces the ruleset in force: those held now, and the pinned. */
  private carried(next: ShardedRuleset): number[] {
    // A single value in force held every order: the manifest replacing it is taken with every shard.
    if (this.pinnedAll > 0 || (this.active === undefined && this.manager.isLoaded())) {
      return allIndexes(next.shardCount);
    }
    const out = new Set<number>(this.indexesOf([...this.pinned.keys()], next.shardCount));
    const view = this.active;
    if (view !== undefined) {
      for (const i of carryOver(view.loadedIndexes(), view.shardCount, next.shardCount)) out.add(i);
    }
    return [...out];
  }

  private indexesOf(ids: readonly string[], count: number): number[] {
    const out = new Set<number>();
    for (const id of ids) out.add(shardOf(id.startsWith("m:") ? "meeting" : "account", id.slice(2), count));
    return [...out];
  }

  /** Reads and verifies shard `index` of `view`'s manifest, and adds it to `view`. */
  private async loadShard(view: ShardedRuleset, index: number): Promise<void> {
    const entry = view.manifest.shards[index];
    if (!entry) return;
    let read = this.shardReads.get(entry.sha256);
    if (read === undefined) {
      const key = shardKey(entry.sha256);
      read = (async () => {
        let text: string | null;
        try {
          text = await this.read(key);
        } catch (err) {
          throw new ShardUnavailableError(
            `KV read of shard ${index} of v${view.version} failed: ${message(err)}`,
          );
        }
        if (text === null)
          throw new ShardUnavailableError(`KV holds no shard ${index} of v${view.version} (${key})`);
        return verifyShard(text, view.manifest, index);
      })().finally(() => this.shardReads.delete(entry.sha256));
      this.shardReads.set(entry.sha256, read);
    }
    view.add(await read);
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

function allIndexes(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
