/**
 * `StreamShipper`: moves decision records from the local outbox (a `FileStore` decision log) to the Redis
 * Stream the reporting pipeline reads, exactly once, in outbox order.
 *
 * Why an outbox. I5 wants a record durable before its check is answered, and a check must never wait on
 * Redis. So `append` only writes the outbox (group commit, kill -9 safe) and this shipper forwards it in
 * the background: the outbox is the spool, whether Redis is up, down, slow or restarted.
 *
 * Progress lives in `<dataDir>/stream-shipper.json`, replaced atomically after each acknowledged batch:
 *   cursor   outbox cursor of the next record to ship
 *   fence    a stream id below every entry this shipper may have added without knowing (the id of the
 *            last acknowledged XADD, or the stream's last id read before the first XADD)
 *   epoch    the token found in the stream's epoch key (see data loss)
 *
 * Exactly once. A batch whose outcome is unknown (a timeout or a dropped connection after sending, or a
 * crash between XADD and the checkpoint, so always the first batch after start) may have landed, wholly,
 * in part or later. Before the next send the shipper reads the stream after `fence` (XRANGE, exclusive)
 * and skips decisionIds already there. Stream ids only grow, so every entry of ours not yet acknowledged
 * lies after the fence: the window is exact, with no clock skew to guess and no count of other writers'
 * entries to guess. What landed is a prefix of what was sent (one connection, one ordered pipeline), so
 * the first batch with a record not found ends the deduplication. Two client settings make "unknown"
 * mean only that: `autoResendUnfulfilledCommands: false` (ioredis would otherwise resend in-flight XADDs
 * after a reconnect and report the second copy as the only one) and a `commandTimeout`.
 *
 * Data loss. At start, after each (re)connection and every 10 s, the shipper checks before sending that
 * Redis still holds what it acknowledged: the epoch key (a random token set once per Redis dataset; gone or
 * changed means the dataset was replaced, even when another instance has written since) and XINFO STREAM
 * (missing, or last-generated-id below our last acknowledged id: an older snapshot came back). On a loss
 * it warns, counts `cordon.redis.data_loss`, and ships the whole outbox again from its start, skipping
 * decisionIds the stream holds from the outbox's oldest record on (a time window: stream ids are Redis
 * times, at or after each record's `at`, less `clockSkewMs`). Only what the outbox still has can be
 * re-shipped, so retention (below) bounds how far back a loss can be repaired from the outbox: records
 * shipped longer than `retentionMs` ago that Redis then loses are gone from the stream for good.
 *
 * Retention. Without it the outbox grows without bound. At most once per `pruneIntervalMs` (after a
 * step, so never while a batch is in flight) the shipper asks the outbox to delete the segments that lie
 * wholly before the cursor of its last *written* checkpoint and were last modified more than
 * `retentionMs` ago (FileStore `prune` with `modifiedBefore`). Before the checkpoint cursor means every
 * record in them is acknowledged by Redis and recorded as such on disk: a crash cannot bring back a
 * checkpoint that points into them, and nothing unshipped is ever deleted (with Redis down, the
 * checkpoint does not move and nothing more goes). A closed segment is never written again, so its mtime
 * is when its newest record was appended, a moment at or after that record's `at`: "mtime older than
 * the retention" implies "newest record older than the retention", read from a stat rather than a parse
 * of the segment's last line. Where the two differ (a copied data directory gets fresh mtimes) they
 * differ in the direction of keeping more. After a data loss the checkpoint cursor starts over at the
 * outbox's beginning, so nothing is pruned until the re-ship has passed it again.
 */

import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { metrics } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import type { DecisionRecord } from "../../engine/index.js";
import { InvalidCursorError } from "../../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import { writeFileAtomic } from "../../platform/node/atomic-file.js";
import { isUnavailable } from "../../platform/node/redis.js";
import type { FileStore } from "../file/file-store.js";
import type { PruneResult } from "../file/segment-log.js";
import type { RedisKeys } from "./keys.js";

/**
 * The part of the outbox the shipper uses: a FileStore decision log. An outbox without `prune` is read
 * only, never pruned.
 */
export type ShipperOutbox = Pick<FileStore, "page" | "stats"> & Partial<Pick<FileStore, "prune">>;

export interface StreamShipperOptions {
  outbox: ShipperOutbox;
  /**
   * A client of the shipper's own (a stalled pipeline must not hold up anyone else), made with
   * `createRedis(url, { name: "shipper", overrides: SHIPPER_REDIS_OVERRIDES })`.
   */
  redis: Redis;
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
   * back a Redis data loss can be repaired from the outbox (see the header). Default 7 days; `Infinity`
   * keeps everything.
   */
  retentionMs?: number;
  /** Least time between two prunes of the outbox, ms. Default 60 s. */
  pruneIntervalMs?: number;
  logger?: Logger;
}

export interface ShipperStatus {
  /** Redis answers and the last command to it succeeded. */
  connected: boolean;
  /** Records in the outbox not yet in the stream (an estimate while appends race the count). */
  backlog: number;
  /** ISO time of the last acknowledged batch, null before the first. */
  lastShippedAt: string | null;
  lastError?: string;
  /** Redis is unreachable, or the oldest unshipped record waits longer than `degradedAfterMs`. */
  degraded: boolean;
}

/** ioredis settings the shipper depends on; `start` refuses a client without them (see the header). */
export const SHIPPER_REDIS_OVERRIDES = { autoResendUnfulfilledCommands: false } as const;

const CHECKPOINT_FILE = "stream-shipper.json";
const SCAN_CHUNK = 1000;
const COUNT_CHUNK = 10_000;
/** Reconnections trigger a check at once; this catches a dataset replaced without one (FLUSHALL, failover). */
const VERIFY_EVERY_MS = 10_000;
const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60_000;

const meter = metrics.getMeter("cordon");
const instruments = {
  shipped: meter.createCounter("cordon.decisions.shipped", {
    description: "Decision records added to the Redis stream.",
  }),
  skipped: meter.createCounter("cordon.decisions.duplicates_skipped", {
    description: "Records not re-sent because the stream already held their decisionId.",
  }),
  backlog: meter.createObservableGauge("cordon.decisions.backlog", {
    description: "Decision records in the local outbox not yet in the Redis stream.",
  }),
  redisErrors: meter.createCounter("cordon.redis.errors", { description: "Failed Redis operations." }),
  dataLoss: meter.createCounter("cordon.redis.data_loss", {
    description: "Times Redis was found without data it had acknowledged.",
  }),
  pruned: meter.createCounter("cordon.outbox.pruned_bytes", {
    description: "Bytes of shipped decision outbox segments deleted after the retention.",
    unit: "By",
  }),
};

interface Checkpoint {
  version: 1;
  stream: string;
  cursor: string | null;
  fence: string | null;
  lastAckedId: string | null;
  epoch: string | null;
}

/** Which stream entries to skip, and until when. */
interface Dedupe {
  seen: Set<string>;
  /** Records skipped so far, logged once when the deduplication ends. */
  skipped: number;
  /** "first-miss": after a lost ack, what landed is a prefix. "caught-up": a re-ship of the whole outbox. */
  until: "first-miss" | "caught-up";
}

export class StreamShipper {
  private readonly outbox: ShipperOutbox;
  private readonly redis: Redis;
  private readonly stream: string;
  private readonly epochKey: string;
  private readonly checkpointPath: string;
  private readonly dataDir: string;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly degradedAfterMs: number;
  private readonly clockSkewMs: number;
  private readonly retentionMs: number;
  private readonly pruneIntervalMs: number;
  private readonly logger: Logger;

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
  /** Something sent may have landed unseen: read the stream after `fence` before the next send. */
  private uncertain: boolean;
  /** The whole outbox is to be shipped again: read the stream's time window before the next send. */
  private historyPending = false;
  private dedupe: Dedupe | undefined;
  /** The cursor of the last checkpoint written to disk: only what lies before it may be pruned. */
  private savedCursor: string | undefined;
  private prunedAt: number | undefined;

  // Backlog estimate: unshipped records at a mark, plus outbox appends since, minus records consumed since.
  private backlogAtMark = 0;
  private statsAtMark = 0;
  private consumedSinceMark = 0;
  private oldestPendingAt: number | undefined;

  private failures = 0;
  private lastError: string | undefined;
  private lastShippedAt: string | null = null;
  private lastWarnAt = 0;
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
  private readonly onRedisError = (err: unknown) => {
    // Connection errors arrive here as events as well as command failures; the loop reports them.
    this.lastError = err instanceof Error ? err.message : String(err);
  };
  private readonly observeBacklog = (result: { observe(value: number): void }) => {
    result.observe(this.backlog());
  };

  private constructor(opts: StreamShipperOptions, checkpoint: Checkpoint | undefined) {
    this.outbox = opts.outbox;
    this.redis = opts.redis;
    this.stream = opts.keys.decisions;
    this.epochKey = opts.epochKey ?? `${opts.keys.decisions}:epoch`;
    this.dataDir = opts.dataDir;
    this.checkpointPath = join(opts.dataDir, CHECKPOINT_FILE);
    this.batchSize = positive("batchSize", opts.batchSize ?? 500);
    this.intervalMs = positive("intervalMs", opts.intervalMs ?? 100);
    this.maxBackoffMs = positive("maxBackoffMs", opts.maxBackoffMs ?? 2000);
    this.degradedAfterMs = positive("degradedAfterMs", opts.degradedAfterMs ?? 30_000);
    this.clockSkewMs = opts.clockSkewMs ?? 5 * 60_000;
    this.retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    if (Number.isNaN(this.retentionMs) || this.retentionMs < 0) {
      throw new RangeError(`retentionMs must be zero or more, got ${this.retentionMs}`);
    }
    this.pruneIntervalMs = positive("pruneIntervalMs", opts.pruneIntervalMs ?? 60_000);
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.hadCheckpoint = checkpoint !== undefined;
    this.cursor = checkpoint?.cursor ?? undefined;
    this.fence = checkpoint?.fence ?? undefined;
    this.lastAckedId = checkpoint?.lastAckedId ?? undefined;
    this.epoch = checkpoint?.epoch ?? undefined;
    // A previous run may have died between an XADD and its checkpoint.
    this.uncertain = checkpoint !== undefined;
  }

  /** Loads the checkpoint, counts the backlog and starts shipping in the background. */
  static async start(opts: StreamShipperOptions): Promise<StreamShipper> {
    const { options } = opts.redis;
    if (options.autoResendUnfulfilledCommands !== false || !options.commandTimeout) {
      throw new TypeError(
        "StreamShipper needs a Redis client with autoResendUnfulfilledCommands: false and a commandTimeout " +
          "(createRedis with SHIPPER_REDIS_OVERRIDES): a silently resent XADD would be added twice",
      );
    }
    const logger = opts.logger ?? SILENT_LOGGER;
    const checkpoint = await loadCheckpoint(join(opts.dataDir, CHECKPOINT_FILE), opts.keys.decisions, logger);
    const shipper = new StreamShipper(opts, checkpoint);
    await shipper.recount();
    shipper.startedNonEmpty = shipper.backlog() > 0;
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
    const connected = this.redis.status === "ready" && this.failures === 0;
    const backlog = this.backlog();
    const waiting = this.oldestPendingAt === undefined ? 0 : Date.now() - this.oldestPendingAt;
    return {
      connected,
      backlog,
      lastShippedAt: this.lastShippedAt,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      degraded: !connected || (backlog > 0 && waiting > this.degradedAfterMs),
    };
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
      if (this.redis.status !== "ready" && this.failures === 0) await this.backoff(1000);
      let progressed: boolean;
      try {
        progressed = await this.step();
      } catch (err) {
        if (this.stopped) break;
        this.onFailure(err);
        await this.backoff();
        continue;
      }
      if (this.failures > 0) {
        this.logger.info("decision stream: shipping again", { failures: this.failures });
        this.failures = 0;
      }
      await this.maybePrune();
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
    this.oldestPendingAt = timeOf(records[0] as DecisionRecord) ?? Date.now();

    if (this.historyPending) {
      const from = Math.max(
        0,
        Math.min(Date.now(), ...records.map((r) => timeOf(r) ?? 0)) - this.clockSkewMs,
      );
      this.dedupe = { seen: await this.scanIds(`${from}-0`), skipped: 0, until: "caught-up" };
      this.historyPending = false;
    }
    if (this.uncertain) {
      const seen = await this.scanIds(`(${this.fence ?? "0-0"}`);
      if (this.dedupe) for (const id of seen) this.dedupe.seen.add(id);
      else this.dedupe = { seen, skipped: 0, until: "first-miss" };
      this.uncertain = false;
    }
    const seen = this.dedupe?.seen;
    const fresh = seen ? records.filter((r) => !seen.has(r.decisionId)) : records;

    if (fresh.length > 0) {
      const lastId = await this.xadd(fresh);
      this.fence = lastId;
      this.lastAckedId = lastId;
      this.lastShippedAt = new Date().toISOString();
      instruments.shipped.add(fresh.length);
    }
    if (this.dedupe) {
      this.dedupe.skipped += records.length - fresh.length;
      instruments.skipped.add(records.length - fresh.length);
      if (this.dedupe.until === "first-miss" && fresh.length > 0) this.endDedupe();
    }
    this.cursor = page.next ?? this.cursor;
    this.consumedSinceMark += records.length;
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
      // The outbox was replaced under its checkpoint: ship all of it, skipping what the stream holds.
      this.logger.warn("decision stream: the checkpoint does not fit the outbox; re-shipping the outbox", {
        checkpoint: this.checkpointPath,
      });
      this.cursor = undefined;
      this.historyPending = true;
      return this.outbox.page({ limit: this.batchSize });
    }
  }

  private onCaughtUp(startedAt: number, statsBefore: number): void {
    // Every append counted in `statsBefore` finished before this read began, and the read found nothing.
    this.backlogAtMark = 0;
    this.statsAtMark = statsBefore;
    this.consumedSinceMark = 0;
    this.oldestPendingAt = undefined;
    this.endDedupe();
    this.historyPending = false;
    const ready = this.caughtUpWaiters.filter((w) => w.since <= startedAt);
    this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w.since > startedAt);
    for (const waiter of ready) waiter.settle(true);
  }

  private endDedupe(): void {
    if (this.dedupe && this.dedupe.skipped > 0) {
      this.logger.info("decision stream: skipped records the stream already holds", {
        skipped: this.dedupe.skipped,
      });
    }
    this.dedupe = undefined;
  }

  /** One pipelined XADD per record, in order. Any failure leaves the batch's outcome unknown. */
  private async xadd(records: readonly DecisionRecord[]): Promise<string> {
    const pipeline = this.redis.pipeline();
    for (const r of records) pipeline.xadd(this.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      this.uncertain = true;
      throw err;
    }
    const failed = results?.find(([err]) => err !== null);
    if (!results || results.length !== records.length || failed) {
      this.uncertain = true;
      throw failed?.[0] ?? new Error("XADD pipeline returned no results");
    }
    return (results[results.length - 1] as [null, string])[1];
  }

  /** decisionIds of stream entries from `start` (an XRANGE start: `id`, or `(id` for exclusive) on. */
  private async scanIds(start: string): Promise<Set<string>> {
    const ids = new Set<string>();
    let from = start;
    while (!this.stopped) {
      const entries = (await this.redis.xrange(this.stream, from, "+", "COUNT", SCAN_CHUNK)) as StreamEntry[];
      for (const [, fields] of entries) {
        const id = field(fields, "id");
        if (id !== undefined) ids.add(id);
      }
      if (entries.length < SCAN_CHUNK) break;
      from = `(${(entries[entries.length - 1] as StreamEntry)[0]}`;
    }
    if (this.stopped) throw new Error("stopped while reading the stream");
    return ids;
  }

  /**
   * Checks that Redis still holds what it acknowledged (see the header), adopting or setting the epoch
   * token. Before the first XADD ever, it also fixes the fence and writes the first checkpoint.
   */
  private async verify(): Promise<void> {
    const [[epochErr, epochValue], [infoErr, info]] = (await this.redis
      .pipeline()
      .get(this.epochKey)
      .xinfo("STREAM", this.stream)
      .exec()) as [[Error | null, string | null], [Error | null, unknown[]]];
    if (epochErr) throw epochErr;
    const exists = infoErr === null;
    if (infoErr && !/no such key/i.test(infoErr.message)) throw infoErr;
    const lastGenerated = exists ? String(field(info, "last-generated-id") ?? "0-0") : undefined;

    let reason: string | undefined;
    if (this.epoch !== undefined && epochValue !== this.epoch) {
      reason = epochValue === null ? "the epoch key is gone" : "the epoch key changed";
    } else if (this.lastAckedId !== undefined && lastGenerated === undefined) {
      reason = "the stream is gone";
    } else if (
      this.lastAckedId !== undefined &&
      lastGenerated !== undefined &&
      compareStreamIds(lastGenerated, this.lastAckedId) < 0
    ) {
      reason = "the stream ends before the last entry it acknowledged";
    }

    let epoch = epochValue;
    if (epoch === null) {
      // SET NX then GET: of several instances finding no token, all adopt the one that won.
      const [, [getErr, current]] = (await this.redis
        .pipeline()
        .set(this.epochKey, randomUUID(), "NX")
        .get(this.epochKey)
        .exec()) as [[Error | null, unknown], [Error | null, string | null]];
      if (getErr || current === null) throw getErr ?? new Error("epoch key vanished after SET NX");
      epoch = current;
    }
    this.epoch = epoch;

    if (reason !== undefined) {
      instruments.dataLoss.add(1);
      this.logger.warn("decision stream: Redis lost acknowledged decision records; re-shipping the outbox", {
        reason,
        stream: this.stream,
        lastAckedId: this.lastAckedId,
        lastGeneratedId: lastGenerated ?? null,
        note: "records still in the outbox are shipped again, skipping decisionIds the stream holds",
      });
      this.cursor = undefined;
      this.lastAckedId = undefined;
      this.fence = lastGenerated ?? "0-0";
      this.uncertain = false;
      this.dedupe = undefined;
      this.historyPending = true;
      await this.recount();
    } else if (this.fence === undefined) {
      // First start for this outbox: nothing of ours can be in the stream after its current end.
      this.fence = lastGenerated ?? "0-0";
      if (!this.hadCheckpoint && this.startedNonEmpty) {
        this.logger.warn("decision stream: no checkpoint for a non-empty outbox; shipping all of it", {
          checkpoint: this.checkpointPath,
          note: "records the stream already holds are skipped",
        });
        this.historyPending = true;
      }
    }
    await this.saveCheckpoint();
    this.hadCheckpoint = true;
    this.needsVerify = false;
    this.verifiedAt = performance.now();
  }

  // ---- retention ----

  /** Deletes shipped outbox segments past the retention, at most once per `pruneIntervalMs`. Never throws. */
  private async maybePrune(): Promise<void> {
    const cursor = this.savedCursor;
    if (!this.outbox.prune || this.retentionMs === Number.POSITIVE_INFINITY || cursor === undefined) return;
    const now = performance.now();
    if (this.prunedAt !== undefined && now - this.prunedAt < this.pruneIntervalMs) return;
    this.prunedAt = now;
    let result: PruneResult;
    try {
      result = await this.outbox.prune(cursor, { modifiedBefore: Date.now() - this.retentionMs });
    } catch (err) {
      // Shipping does not depend on it: the outbox only grows until the next try.
      this.logger.warn("decision outbox: pruning shipped segments failed", {
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    if (result.segmentsRemoved > 0) {
      instruments.pruned.add(result.bytesRemoved);
      this.logger.info("decision outbox: pruned shipped segments past the retention", {
        ...result,
        retentionMs: this.retentionMs,
      });
    }
  }

  // ---- failures and waiting ----

  private onFailure(err: unknown): void {
    this.failures++;
    this.lastError = err instanceof Error ? err.message : String(err);
    const redisFault = isUnavailable(err) || (err instanceof Error && err.name === "ReplyError");
    if (redisFault) instruments.redisErrors.add(1, { component: "stream-shipper" });
    // One warning when an outage starts, then one per 10 s: an outage must not flood the logs.
    const now = Date.now();
    if (this.failures === 1 || now - this.lastWarnAt > 10_000) {
      this.lastWarnAt = now;
      this.logger.warn("decision stream: shipping failed; records wait in the outbox", {
        error: this.lastError,
        failures: this.failures,
        backlog: this.backlog(),
      });
    }
  }

  /** Exponential, capped; cut short by a reconnection (worth trying at once) or stop. */
  private backoff(ms = Math.min(50 * 2 ** Math.min(this.failures, 10), this.maxBackoffMs)): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeOnReady = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeOnReady = done;
    });
  }

  /** Until `notify()`, stop, or the poll interval. */
  private idle(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.intervalMs);
      this.wake = done;
    });
  }

  // ---- backlog ----

  private backlog(): number {
    const appended = this.outbox.stats().decisionRecords - this.statsAtMark;
    return Math.max(0, this.backlogAtMark + appended - this.consumedSinceMark);
  }

  /** Counts the outbox from the cursor to its end (and checks the cursor fits the outbox). */
  private async recount(): Promise<void> {
    const statsBefore = this.outbox.stats().decisionRecords;
    let count = 0;
    let after = this.cursor;
    for (;;) {
      let page: { records: DecisionRecord[]; next: string | null };
      try {
        page = await this.outbox.page({ ...(after === undefined ? {} : { after }), limit: COUNT_CHUNK });
      } catch (err) {
        if (!(err instanceof InvalidCursorError) || after !== this.cursor) throw err;
        this.logger.warn("decision stream: the checkpoint does not fit the outbox; re-shipping the outbox", {
          checkpoint: this.checkpointPath,
        });
        this.cursor = undefined;
        after = undefined;
        this.historyPending = true;
        continue;
      }
      count += page.records.length;
      if (page.records.length === 0 || page.next === null) break;
      after = page.next;
    }
    // Appends racing this count may be counted twice; the next catch-up resets the estimate.
    this.backlogAtMark = count;
    this.statsAtMark = statsBefore;
    this.consumedSinceMark = 0;
  }

  // ---- checkpoint ----

  private async saveCheckpoint(): Promise<void> {
    const checkpoint: Checkpoint = {
      version: 1,
      stream: this.stream,
      cursor: this.cursor ?? null,
      fence: this.fence ?? null,
      lastAckedId: this.lastAckedId ?? null,
      epoch: this.epoch ?? null,
    };
    await writeFileAtomic(this.checkpointPath, `${JSON.stringify(checkpoint)}\n`);
    this.savedCursor = checkpoint.cursor ?? undefined;
  }
}

async function loadCheckpoint(path: string, stream: string, logger: Logger): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Checkpoint>;
    if (parsed.version !== 1) throw new Error(`unknown version ${parsed.version}`);
    if (parsed.stream !== stream) {
      logger.warn("decision stream: the checkpoint is for another stream; starting this one afresh", {
        checkpoint: path,
        was: parsed.stream,
        now: stream,
      });
      return undefined;
    }
    for (const id of [parsed.fence, parsed.lastAckedId]) {
      if (id !== null && (typeof id !== "string" || parseStreamId(id) === undefined))
        throw new Error(`bad stream id ${id}`);
    }
    return {
      version: 1,
      stream,
      cursor: typeof parsed.cursor === "string" ? parsed.cursor : null,
      fence: parsed.fence ?? null,
      lastAckedId: parsed.lastAckedId ?? null,
      epoch: typeof parsed.epoch === "string" ? parsed.epoch : null,
    };
  } catch (err) {
    // Written by rename, so never torn; unreadable means edited by hand. Treated as absent, which
    // re-ships the outbox with deduplication rather than stopping the service.
    logger.warn("decision stream: unreadable checkpoint; re-shipping the outbox", {
      checkpoint: path,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}

// ---- stream ids ----

type StreamEntry = [id: string, fields: string[]];

/** `ms-seq` as two bigints, or undefined when it is not a stream id. */
export function parseStreamId(id: string): [bigint, bigint] | undefined {
  const match = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/.exec(id);
  if (!match) return undefined;
  const ms = BigInt(match[1] as string);
  const seq = BigInt(match[2] as string);
  const max = 2n ** 64n - 1n;
  return ms > max || seq > max ? undefined : [ms, seq];
}

export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parseStreamId(a) ?? [0n, 0n];
  const [bm, bs] = parseStreamId(b) ?? [0n, 0n];
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** The smallest id greater than `id`. */
export function nextStreamId(id: string): string {
  const [ms, seq] = parseStreamId(id) ?? [0n, 0n];
  return seq === 2n ** 64n - 1n ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

/** A value from a flat `[name, value, name, value, ...]` Redis reply. */
export function field(reply: unknown, name: string): string | undefined {
  if (!Array.isArray(reply)) return undefined;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    if (reply[i] === name) {
      const value = reply[i + 1];
      return value === null || value === undefined ? undefined : String(value);
    }
  }
  return undefined;
}

function timeOf(record: DecisionRecord): number | undefined {
  const t = Date.parse(record.at);
  return Number.isNaN(t) ? undefined : t;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be positive, got ${value}`);
  return Math.floor(value) || 1;
}
