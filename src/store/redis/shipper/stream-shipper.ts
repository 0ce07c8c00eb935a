/**
 * `StreamShipper`: moves decision records from the local outbox (a `SegmentLog`) to the Redis Stream the
 * reporting pipeline reads, exactly once, in outbox order. I5 wants a record durable before its check is
 * answered, and a check must never wait on Redis: `append` only writes the outbox, and this loop forwards
 * it in the background, whether Redis is up, down, slow or restarted. The parts: checkpoint.ts (progress
 * on disk), dedupe.ts (exactly once), data-loss.ts, retention.ts, backlog.ts; README.md tells the story.
 */
import type { DecisionRecord } from "../../../engine/index.js";
import { InvalidCursorError } from "../../../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../../../kernel/logger.js";
import { nodeOptions, type RedisClient } from "../../../platform/node/redis.js";
import type { SegmentLog } from "../../file/segment-log.js";
import type { RedisKeys } from "../keys.js";
import { Backlog, countOutbox } from "./backlog.js";
import { type Checkpoint, checkpointPath, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { checkDataset } from "./data-loss.js";
import { Deduplicator } from "./dedupe.js";
import { ShipperHealth, type ShipperStatus } from "./health.js";
import { instruments } from "./metrics.js";
import { OutboxRetention } from "./retention.js";

/** The part of the outbox the shipper uses. An outbox without `prune` is read only, never pruned. */
export type ShipperOutbox = Pick<SegmentLog, "page" | "stats"> & Partial<Pick<SegmentLog, "prune">>;

export interface StreamShipperOptions {
  outbox: ShipperOutbox;
  /**
   * A client of the shipper's own (a stalled pipeline must not hold up anyone else), made with
   * `createRedis(url, { name: "shipper", overrides: SHIPPER_REDIS_OVERRIDES })`.
   */
  redis: RedisClient;
  keys: RedisKeys;
  /** Where the checkpoint file lives; usually the outbox's own data directory. */
  dataDir: string;
  /** Records per pipelined XADD batch. Default 500. */
  batchSize?: number;
  /** Poll interval when idle, ms; `notify()` wakes the shipper earlier. Default 100. */
  intervalMs?: number;
  /** Upper bound of the retry backoff while Redis fails, ms. Default 2000. */
  maxBackoffMs?: number;
  /** `degraded` once the oldest unshipped record is older than this, ms. Default 30 s. */
  degradedAfterMs?: number;
  /** Allowed difference between this host's clock and Redis's, for the data-loss window. Default 5 min. */
  clockSkewMs?: number;
  /** Key of the epoch token. Default `<keys.decisions>:epoch` (same hash tag as the stream). */
  epochKey?: string;
  /**
   * Shipped outbox segments whose newest record is older than this are deleted, ms; it bounds how far
   * back a Redis data loss can be repaired from the outbox (retention.ts). Default 7 days; `Infinity`
   * keeps everything.
   */
  retentionMs?: number;
  /** Least time between two prunes of the outbox, ms. Default 60 s. */
  pruneIntervalMs?: number;
  logger?: Logger;
}

/**
 * ioredis settings the shipper depends on; `start` refuses a client without them. Without them
 * "unknown" would not mean only "unknown" (dedupe.ts): ioredis would resend in-flight XADDs after a
 * reconnect and report the second copy as the only one, and a command could hang for ever.
 */
export const SHIPPER_REDIS_OVERRIDES = { autoResendUnfulfilledCommands: false } as const;

/** Reconnections trigger a check at once; this catches a dataset replaced without one (FLUSHALL, failover). */
const VERIFY_EVERY_MS = 10_000;
const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60_000;

export class StreamShipper {
  private readonly outbox: ShipperOutbox;
  private readonly redis: RedisClient;
  private readonly stream: string;
  private readonly epochKey: string;
  private readonly checkpointPath: string;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly logger: Logger;
  private readonly dedupe: Deduplicator;
  private readonly retention: OutboxRetention;
  private readonly backlog: Backlog;
  private readonly health: ShipperHealth;

  // Shipping state; cursor, fence, lastAckedId and epoch are what the checkpoint persists.
  private cursor: string | undefined;
  private fence: string | undefined;
  private lastAckedId: string | undefined;
  private epoch: string | undefined;
  private hadCheckpoint: boolean;
  /** The outbox held records when this shipper started (set by the first count). */
  private startedNonEmpty = false;
  private needsVerify = true;
  private verifiedAt = 0;
  /** The cursor of the last checkpoint written to disk: only what lies before it may be pruned. */
  private savedCursor: string | undefined;

  private caughtUpWaiters: { since: number; settle: (drained: boolean) => void }[] = [];

  private stopped = false;
  private stopping: Promise<void> | undefined;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private wakeOnReady: (() => void) | undefined;
  private readonly onReady = () => {
    this.needsVerify = true;
    this.wakeOnReady?.();
  };
  private readonly onRedisError = (err: unknown) => this.health.connectionError(err);
  private readonly observeBacklog = (result: { observe(value: number): void }) => {
    result.observe(this.backlog.value());
  };

  private constructor(opts: StreamShipperOptions, checkpoint: Checkpoint | undefined) {
    this.outbox = opts.outbox;
    this.redis = opts.redis;
    this.stream = opts.keys.decisions;
    this.epochKey = opts.epochKey ?? `${opts.keys.decisions}:epoch`;
    this.checkpointPath = checkpointPath(opts.dataDir);
    this.batchSize = positive("batchSize", opts.batchSize ?? 500);
    this.intervalMs = positive("intervalMs", opts.intervalMs ?? 100);
    this.maxBackoffMs = positive("maxBackoffMs", opts.maxBackoffMs ?? 2000);
    const degradedAfterMs = positive("degradedAfterMs", opts.degradedAfterMs ?? 30_000);
    const clockSkewMs = opts.clockSkewMs ?? 5 * 60_000;
    const retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    if (Number.isNaN(retentionMs) || retentionMs < 0) {
      throw new RangeError(`retentionMs must be zero or more, got ${retentionMs}`);
    }
    const pruneIntervalMs = positive("pruneIntervalMs", opts.pruneIntervalMs ?? 60_000);
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.hadCheckpoint = checkpoint !== undefined;
    this.cursor = checkpoint?.cursor ?? undefined;
    this.fence = checkpoint?.fence ?? undefined;
    this.lastAckedId = checkpoint?.lastAckedId ?? undefined;
    this.epoch = checkpoint?.epoch ?? undefined;
    this.dedupe = new Deduplicator(
      {
        redis: this.redis,
        stream: this.stream,
        clockSkewMs,
        logger: this.logger,
        isStopped: () => this.stopped,
      },
      // A previous run may have died between an XADD and its checkpoint.
      checkpoint !== undefined,
    );
    this.retention = new OutboxRetention(this.outbox, retentionMs, pruneIntervalMs, this.logger);
    this.backlog = new Backlog(this.outbox);
    this.health = new ShipperHealth(this.backlog, degradedAfterMs, this.logger);
  }

  /** Loads the checkpoint, counts the backlog and starts shipping in the background. */
  static async start(opts: StreamShipperOptions): Promise<StreamShipper> {
    const options = nodeOptions(opts.redis);
    if (options.autoResendUnfulfilledCommands !== false || !options.commandTimeout) {
      throw new TypeError(
        "StreamShipper needs a Redis client with autoResendUnfulfilledCommands: false and a commandTimeout " +
          "(createRedis with SHIPPER_REDIS_OVERRIDES): a silently resent XADD would be added twice",
      );
    }
    const logger = opts.logger ?? SILENT_LOGGER;
    const checkpoint = await loadCheckpoint(checkpointPath(opts.dataDir), opts.keys.decisions, logger);
    const shipper = new StreamShipper(opts, checkpoint);
    await shipper.recount();
    shipper.startedNonEmpty = shipper.backlog.value() > 0;
    shipper.redis.on("ready", shipper.onReady);
    shipper.redis.on("error", shipper.onRedisError);
    instruments.backlog.addCallback(shipper.observeBacklog);
    shipper.loop = shipper.run();
    return shipper;
  }

  /** Something was appended to the outbox: ship it now rather than at the next poll. Never blocks. */
  notify(): void {
    this.wake?.();
  }

  status(): ShipperStatus {
    return this.health.status(this.redis.status === "ready");
  }

  /**
   * Resolves true once everything appended before the call is in the stream (or was found there), false
   * if that takes longer than `timeoutMs`. For shutdown and tests.
   */
  drain(timeoutMs: number): Promise<boolean> {
    const since = performance.now();
    if (this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        since,
        settle: (drained: boolean) => {
          clearTimeout(timer);
          resolve(drained);
        },
      };
      const timer = setTimeout(() => {
        this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.caughtUpWaiters.push(waiter);
      this.notify();
    });
  }

  /**
   * Ships what it can within `timeoutMs`, then stops. Whatever is left stays in the outbox for the next
   * start. Does not close the Redis client or the outbox: the caller made them. Idempotent.
   */
  stop(timeoutMs = 2000): Promise<void> {
    this.stopping ??= (async () => {
      await this.drain(timeoutMs);
      this.stopped = true;
      this.wake?.();
      this.wakeOnReady?.();
      await this.loop;
      this.redis.off("ready", this.onReady);
      this.redis.off("error", this.onRedisError);
      instruments.backlog.removeCallback(this.observeBacklog);
      for (const waiter of this.caughtUpWaiters.splice(0)) waiter.settle(false);
    })();
    return this.stopping;
  }

  // ---- the loop ----

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Connecting (at start, or just after an outage ended) is not a failure worth a warning: wait for it.
      if (this.redis.status !== "ready" && this.health.failures === 0) await this.backoff(1000);
      let progressed: boolean;
      try {
        progressed = await this.step();
      } catch (err) {
        if (this.stopped) break;
        this.health.failed(err);
        await this.backoff();
        continue;
      }
      this.health.succeeded();
      await this.retention.maybePrune(this.savedCursor);
      if (!progressed) await this.idle();
    }
  }

  /** One batch. Returns false when the outbox had nothing to ship. */
  private async step(): Promise<boolean> {
    if (this.needsVerify || performance.now() - this.verifiedAt > VERIFY_EVERY_MS) await this.verify();
    const statsBefore = this.outbox.stats().decisionRecords;
    const startedAt = performance.now();
    const page = await this.readOutbox();
    const { records } = page;
    if (records.length === 0) {
      this.onCaughtUp(startedAt, statsBefore);
      return false;
    }
    this.backlog.reading(records);

    const fresh = await this.dedupe.fresh(records, this.fence);
    if (fresh.length > 0) {
      const lastId = await this.xadd(fresh);
      this.fence = lastId;
      this.lastAckedId = lastId;
      this.health.shipped();
      instruments.shipped.add(fresh.length);
    }
    this.dedupe.sent(records.length, fresh.length);
    this.cursor = page.next ?? this.cursor;
    this.backlog.consumed(records.length);
    // In memory first: a failed checkpoint write is retried with the next batch, and a crash before then
    // only means the next start deduplicates a little more.
    await this.saveCheckpoint();
    return true;
  }

  private async readOutbox(): Promise<{ records: DecisionRecord[]; next: string | null }> {
    try {
      return await this.outbox.page({
        ...(this.cursor === undefined ? {} : { after: this.cursor }),
        limit: this.batchSize,
      });
    } catch (err) {
      if (!(err instanceof InvalidCursorError)) throw err;
      this.checkpointMisfit();
      return this.outbox.page({ limit: this.batchSize });
    }
  }

  /** The outbox was replaced under its checkpoint: ship all of it, skipping what the stream holds. */
  private checkpointMisfit(): void {
    this.logger.warn("decision stream: the checkpoint does not fit the outbox; re-shipping the outbox", {
      checkpoint: this.checkpointPath,
    });
    this.cursor = undefined;
    this.dedupe.reshipAll();
  }

  private onCaughtUp(startedAt: number, statsBefore: number): void {
    // Every append counted in `statsBefore` finished before this read began, and the read found nothing.
    this.backlog.caughtUp(statsBefore);
    this.dedupe.caughtUp();
    const ready = this.caughtUpWaiters.filter((w) => w.since <= startedAt);
    this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w.since > startedAt);
    for (const waiter of ready) waiter.settle(true);
  }

  /** One pipelined XADD per record, in order. Any failure leaves the batch's outcome unknown. */
  private async xadd(records: readonly DecisionRecord[]): Promise<string> {
    const pipeline = this.redis.pipeline();
    for (const r of records) pipeline.xadd(this.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      this.dedupe.sendFailed();
      throw err;
    }
    const failed = results?.find(([err]) => err !== null);
    if (!results || results.length !== records.length || failed) {
      this.dedupe.sendFailed();
      throw failed?.[0] ?? new Error("XADD pipeline returned no results");
    }
    return (results[results.length - 1] as [null, string])[1];
  }

  /**
   * Checks that Redis still holds what it acknowledged (data-loss.ts), adopting or setting the epoch
   * token. Before the first XADD ever, it also fixes the fence and writes the first checkpoint.
   */
  private async verify(): Promise<void> {
    const check = await checkDataset(
      this.redis,
      { stream: this.stream, epochKey: this.epochKey, epoch: this.epoch, lastAckedId: this.lastAckedId },
      this.logger,
    );
    this.epoch = check.epoch;
    if (check.loss !== undefined) {
      // The checkpoint cursor starts over at the outbox's beginning, so nothing is pruned until the
      // re-ship has passed it again.
      this.cursor = undefined;
      this.lastAckedId = undefined;
      this.fence = check.lastGenerated ?? "0-0";
      this.dedupe.startOver();
      await this.recount();
    } else if (this.fence === undefined) {
      // First start for this outbox: nothing of ours can be in the stream after its current end.
      this.fence = check.lastGenerated ?? "0-0";
      if (!this.hadCheckpoint && this.startedNonEmpty) {
        this.logger.warn("decision stream: no checkpoint for a non-empty outbox; shipping all of it", {
          checkpoint: this.checkpointPath,
          note: "records the stream already holds are skipped",
        });
        this.dedupe.reshipAll();
      }
    }
    await this.saveCheckpoint();
    this.hadCheckpoint = true;
    this.needsVerify = false;
    this.verifiedAt = performance.now();
  }

  // ---- waiting ----

  /** Exponential, capped; cut short by a reconnection (worth trying at once) or stop. */
  private backoff(
    ms = Math.min(50 * 2 ** Math.min(this.health.failures, 10), this.maxBackoffMs),
  ): Promise<void> {
    return this.sleep(ms, "wakeOnReady");
  }

  /** Until `notify()`, stop, or the poll interval. */
  private idle(): Promise<void> {
    return this.sleep(this.intervalMs, "wake");
  }

  /** Waits `ms`, or until the waker kept in `slot` is called (stop calls both). */
  private sleep(ms: number, slot: "wake" | "wakeOnReady"): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this[slot] = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this[slot] = done;
    });
  }

  /** Counts the outbox from the cursor to its end (and checks the cursor fits the outbox). */
  private async recount(): Promise<void> {
    const statsBefore = this.outbox.stats().decisionRecords;
    let count = await countOutbox(this.outbox, this.cursor);
    if (count === undefined) {
      this.checkpointMisfit();
      count = (await countOutbox(this.outbox, undefined)) as number;
    }
    // Appends racing this count may be counted twice; the next catch-up resets the estimate.
    this.backlog.mark(count, statsBefore);
  }

  private async saveCheckpoint(): Promise<void> {
    const checkpoint: Checkpoint = {
      version: 1,
      stream: this.stream,
      cursor: this.cursor ?? null,
      fence: this.fence ?? null,
      lastAckedId: this.lastAckedId ?? null,
      epoch: this.epoch ?? null,
    };
    await saveCheckpoint(this.checkpointPath, checkpoint);
    this.savedCursor = checkpoint.cursor ?? undefined;
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be positive, got ${value}`);
  return Math.floor(value) || 1;
}
