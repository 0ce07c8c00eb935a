/**
 * `StreamShipper`: moves decision records from the local outbox (a `SegmentLog`) to the Redis streams the
 * reporting pipeline reads, exactly once. I5 wants a record durable before its check is answered, and a
 * check must never wait on Redis: `append` only writes the outbox, and this loop forwards it in the
 * background, whether Redis is up, down, slow, failing over or restarted. Records are spread over the
 * decision partitions by decisionId (keys.ts `partitionOf`); each partition is a lane (lane.ts) with its
 * own fence, deduplication and loss detection, so a fault of one shard is repaired on that shard alone.
 * Lines travel as the outbox holds them, never parsed and serialised again (lines.ts). The parts:
 * checkpoint.ts (progress on disk), lane.ts and dedupe.ts (exactly once), data-loss.ts and repair below,
 * retention.ts, backlog.ts; README.md tells the story.
 */

import { Cluster } from "ioredis";
import { InvalidCursorError } from "../../../kernel/errors.js";
import type { Logger } from "../../../kernel/logger.js";
import { SILENT_LOGGER } from "../../../kernel/logger.js";
import { nodeOptions, type RedisClient } from "../../../platform/node/redis.js";
import type { SegmentLog } from "../../file/segment-log.js";
import type { RedisKeys } from "../keys.js";
import { compareStreamIds } from "../stream-ids.js";
import { Backlog, countOutbox } from "./backlog.js";
import { type Checkpoint, checkpointPath, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { checkDataset } from "./data-loss.js";
import { scanIds } from "./dedupe.js";
import { ShipperHealth, type ShipperStatus } from "./health.js";
import { defineShip, Lane, type LanePart, ship } from "./lane.js";
import { type OutboxLine, readLine } from "./lines.js";
import { instruments } from "./metrics.js";
import { OutboxRetention } from "./retention.js";

/** The part of the outbox the shipper uses. An outbox without `prune` is read only, never pruned. */
export type ShipperOutbox = Pick<SegmentLog, "pageLines" | "pageRaw" | "stats"> &
  Partial<Pick<SegmentLog, "prune">>;

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
  /**
   * Records per outbox page (each page is one script per partition it touches). Default 2000: about 125
   * records per script over 16 partitions, so the per-script cost (the command, its write and reply, the
   * lane's bookkeeping) is spread thin. Such a script holds its shard for about half a millisecond to a
   * millisecond (bench/README.md), the time of its XADDs, which a smaller batch would only spread out.
   */
  batchSize?: number;
  /** Poll interval when idle, ms; `notify()` wakes the shipper earlier. Default 100. */
  intervalMs?: number;
  /**
   * How long appends gather before the shipper reads, ms: after `notify()` wakes an idle shipper, and
   * after a page that reached the outbox's end. Default 100 (CORDON_SHIP_DELAY_MS): under load a page
   * then carries the records of many checks (one outbox read, one script, one socket write for all of
   * them) instead of a page per append. Most of a page's cost is per page: at 10 000 records a second the
   * shipper cost 3.6 µs a record at 100 ms against 5.7 µs at 25 ms (`bench/shipper.ts --rate=10000`).
   * Records reach the streams that much later; the check never waits on it, and the report reads them
   * hours or days later.
   */
  coalesceMs?: number;
  /** Upper bound of the retry backoff while Redis fails, ms. Default 2000. */
  maxBackoffMs?: number;
  /** `degraded` once the oldest unshipped record is older than this, ms. Default 30 s. */
  degradedAfterMs?: number;
  /** Allowed difference between this host's clock and Redis's, for the data-loss window. Default 5 min. */
  clockSkewMs?: number;
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
 * "unknown" would not mean only "unknown" (dedupe.ts): ioredis would resend in-flight scripts after a
 * reconnect and report the second copy as the only one, and a command could hang for ever.
 */
export const SHIPPER_REDIS_OVERRIDES = { autoResendUnfulfilledCommands: false } as const;

/** Reconnections trigger a check at once; this catches a dataset replaced without one (FLUSHALL, failover). */
const VERIFY_EVERY_MS = 10_000;
const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60_000;
/** How often, and for how long, the shipper remembers where it was (the repair ring, below). */
const RING_EVERY_MS = 1000;
const RING_KEEP_MS = 15 * 60_000;
/**
 * Least time between two checkpoint writes while pages keep coming. Each is an atomic replace (open,
 * write, fdatasync, rename, directory sync: eight file-system calls through the thread pool); at 100 ms
 * they took 4% of a Redis-mode instance's CPU under load (bench/profile.ts --redis). A checkpoint up to a
 * second behind only means that a restart reads up to a second of pages again, and finds them in the
 * streams after the fences that pair with it (dedupe.ts).
 */
const CHECKPOINT_EVERY_MS = 1000;

/**
 * Where this shipper was at one moment: the outbox cursor and each lane's last acknowledged id. When a
 * partition comes back from a failover without its newest entries (its stream ends at L, before what it
 * acknowledged), the newest mark whose id for that lane is at or below L tells where to re-ship from:
 * everything acknowledged there before the mark survived, and what was sent since is re-sent unless the
 * stream after the mark's id holds it.
 */
interface Mark {
  at: number;
  cursor: string | undefined;
  acked: (string | undefined)[];
}

/** A partition to re-ship into, from an outbox cursor, skipping what its stream holds from `window` on. */
interface Repair {
  from: string | undefined;
  /** An XRANGE start: `(id` after a mark's id, or `ms-0` for a time window. */
  window: string;
  reason: string;
}

/** A page read from the outbox and not yet in every lane. */
interface PendingPage {
  next: string | null;
  count: number;
  /** Lines per lane index; a lane done with its part is removed. */
  lanes: Map<number, OutboxLine[]>;
}

export class StreamShipper {
  private readonly outbox: ShipperOutbox;
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly lanes: Lane[];
  /** Every partition lives on the one server (not a cluster): a page's lanes go in one script. */
  private readonly together: boolean;
  private readonly checkpointPath: string;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly coalesceMs: number;
  private coalescing: NodeJS.Timeout | undefined;
  private readonly maxBackoffMs: number;
  private readonly clockSkewMs: number;
  private readonly retentionMs: number;
  private readonly logger: Logger;
  private readonly retention: OutboxRetention;
  private readonly backlog: Backlog;
  private readonly health: ShipperHealth;

  /** Outbox cursor of the next record to ship; undefined: from the outbox's start. */
  private cursor: string | undefined;
  private pending: PendingPage | undefined;
  /** The last page read was short: it reached the end of the outbox. */
  private reachedEnd = false;
  private readonly repairs = new Map<number, Repair>();
  private marks: Mark[] = [];
  /** decisionIds a version-1 shipper may have sent to the legacy stream without knowing. */
  private legacyFence: string | null | undefined;
  private legacySeen: Set<string> | undefined;
  private hadCheckpoint: boolean;
  /** The outbox held records when this shipper started (set by the first count). */
  private startedNonEmpty = false;
  private countChecked = false;
  private needsVerify = true;
  private verifiedAt = 0;
  /** The cursor of the last checkpoint written to disk; nothing after it is ever pruned. */
  private checkpointDirty = false;
  private checkpointSavedAt = Number.NEGATIVE_INFINITY;
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
    this.keys = opts.keys;
    this.together = !(opts.redis instanceof Cluster);
    this.checkpointPath = checkpointPath(opts.dataDir);
    this.batchSize = positive("batchSize", opts.batchSize ?? 2000);
    this.intervalMs = positive("intervalMs", opts.intervalMs ?? 100);
    this.coalesceMs = Math.max(0, opts.coalesceMs ?? 100);
    this.maxBackoffMs = positive("maxBackoffMs", opts.maxBackoffMs ?? 2000);
    const degradedAfterMs = positive("degradedAfterMs", opts.degradedAfterMs ?? 30_000);
    this.clockSkewMs = opts.clockSkewMs ?? 5 * 60_000;
    const retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    if (Number.isNaN(retentionMs) || retentionMs < 0) {
      throw new RangeError(`retentionMs must be zero or more, got ${retentionMs}`);
    }
    this.retentionMs = retentionMs;
    const pruneIntervalMs = positive("pruneIntervalMs", opts.pruneIntervalMs ?? 60_000);
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.hadCheckpoint = checkpoint !== undefined;
    this.cursor = checkpoint?.cursor ?? undefined;
    this.savedCursor = this.cursor;
    this.legacyFence = checkpoint?.legacyFence;
    const isStopped = () => this.stopped;
    // A previous run may have died between a send and its checkpoint: every lane deduplicates first.
    this.lanes = opts.keys.partitions.map(
      (keys, i) =>
        new Lane(keys, opts.redis, checkpoint?.lanes[i], {
          clockSkewMs: this.clockSkewMs,
          logger: this.logger,
          isStopped,
          uncertain: checkpoint !== undefined,
        }),
    );
    this.marks = [{ at: Date.now(), cursor: this.cursor, acked: this.lanes.map((l) => l.lastAckedId) }];
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
          "(createRedis with SHIPPER_REDIS_OVERRIDES): a silently resent batch would be added twice",
      );
    }
    defineShip(opts.redis);
    const logger = opts.logger ?? SILENT_LOGGER;
    const checkpoint = await loadCheckpoint(checkpointPath(opts.dataDir), streamsOf(opts.keys), logger);
    const shipper = new StreamShipper(opts, checkpoint);
    await shipper.recount();
    shipper.startedNonEmpty = shipper.backlog.value() > 0;
    shipper.redis.on("ready", shipper.onReady);
    // A cluster stays ready while a shard fails over; a node leaving or joining its view is the sign.
    shipper.redis.on("+node", shipper.onReady);
    shipper.redis.on("-node", shipper.onReady);
    shipper.redis.on("error", shipper.onRedisError);
    instruments.backlog.addCallback(shipper.observeBacklog);
    shipper.loop = shipper.run();
    return shipper;
  }

  /**
   * Something was appended to the outbox: ship it soon (after `coalesceMs`, so that the appends of that
   * moment travel together) rather than at the next poll. Never blocks.
   */
  notify(): void {
    if (this.wake === undefined || this.coalescing !== undefined) return;
    if (this.coalesceMs === 0) {
      this.wake();
      return;
    }
    this.coalescing = setTimeout(() => {
      this.coalescing = undefined;
      this.wake?.();
    }, this.coalesceMs);
  }

  status(): ShipperStatus {
    return this.health.status(this.redis.status === "ready");
  }

  /**
   * Resolves true once everything appended before the call is in the streams (or was found there), false
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
      clearTimeout(this.coalescing);
      this.wake?.();
      this.wakeOnReady?.();
      await this.loop;
      if (this.checkpointDirty) await this.saveCheckpoint().catch(() => undefined);
      this.redis.off("ready", this.onReady);
      this.redis.off("+node", this.onReady);
      this.redis.off("-node", this.onReady);
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
        // A failure may be a failover or a restart under way: check the partitions before the next page.
        this.needsVerify = true;
        await this.backoff();
        continue;
      }
      this.health.succeeded();
      await this.retention.maybePrune(this.pruneBefore());
      if (!progressed) await this.idle();
      // A short page reached the outbox's end: let appends gather for a while before the next read, so
      // that under a steady load pages are large (one script per lane for many records), not one per
      // handful of checks. A full page means the shipper is behind: the next one goes at once.
      else if (this.reachedEnd && this.coalesceMs > 0) await this.sleep(this.coalesceMs, "wake");
    }
  }

  /** One page. Returns false when the outbox had nothing to ship. */
  private async step(): Promise<boolean> {
    if (this.needsVerify || performance.now() - this.verifiedAt > VERIFY_EVERY_MS) await this.verify();
    if (this.repairs.size > 0) await this.repairAll();
    if (this.pending === undefined) {
      const statsBefore = this.outbox.stats().decisionRecords;
      const startedAt = performance.now();
      const page = await this.readOutbox();
      if (page.lines.length === 0) {
        if (this.checkpointDirty) await this.saveCheckpoint();
        this.onCaughtUp(startedAt, statsBefore);
        return false;
      }
      this.mark();
      this.reachedEnd = page.lines.length < this.batchSize;
      this.pending = await this.route(page.lines, page.next);
    }
    const pending = this.pending;
    // One script for every lane of the page on a single server; on a cluster one per lane, all at once,
    // each on its own shard. A script that fails leaves its lanes' parts for the next try; the others are
    // done with theirs.
    const groups = this.together ? [[...pending.lanes]] : [...pending.lanes].map((entry) => [entry]);
    const results = await Promise.allSettled(
      groups.map(async (group) => {
        const parts: LanePart[] = [];
        for (const [index, lines] of group) {
          const lane = this.lanes[index] as Lane;
          parts.push({ lane, lines: await lane.dedupe.fresh(lines, lane.fence) });
        }
        const added = await ship(this.redis, parts);
        group.forEach(([index, lines], i) => {
          (this.lanes[index] as Lane).dedupe.sent(lines.length, (parts[i] as LanePart).lines.length);
          const n = added[i] as number;
          if (n > 0) instruments.shipped.add(n);
          pending.lanes.delete(index);
        });
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    // The lanes done with their part keep it (in memory); on disk every lane keeps the fence it had at
    // the cursor, so a restart deduplicates the whole page in every lane (Lane.committedFence).
    if (failed) throw failed.reason;
    this.health.shipped();
    for (const lane of this.lanes) lane.commit();
    this.cursor = pending.next ?? this.cursor;
    this.backlog.consumed(pending.count);
    this.pending = undefined;
    this.legacySeen = undefined;
    // In memory first, and on disk at most every CHECKPOINT_EVERY_MS (and when caught up or stopping): a
    // checkpoint behind the cursor only means that a restart reads those pages again and finds every
    // record of them in the streams, after the fences that pair with it. A failed write is retried later.
    this.checkpointDirty = true;
    if (performance.now() - this.checkpointSavedAt >= CHECKPOINT_EVERY_MS) await this.saveCheckpoint();
    return true;
  }

  private async readOutbox(): Promise<{ lines: OutboxLine[]; next: string | null }> {
    try {
      return await this.readLines({
        ...(this.cursor === undefined ? {} : { after: this.cursor }),
        limit: this.batchSize,
      });
    } catch (err) {
      if (!(err instanceof InvalidCursorError)) throw err;
      this.checkpointMisfit();
      return this.readLines({ limit: this.batchSize });
    }
  }

  /** A page of the outbox, each line as its bytes and its partition (lines.ts). */
  private async readLines(opts: {
    after?: string;
    until?: string;
    limit: number;
  }): Promise<{ lines: OutboxLine[]; next: string | null }> {
    const partitions = this.lanes.length;
    const page = await this.outbox.pageRaw(opts, (buf, start, end) => readLine(buf, start, end, partitions));
    return { lines: page.items, next: page.next };
  }

  /** Sorts a page's lines into their lanes, leaving out what a version-1 shipper already sent. */
  private async route(lines: readonly OutboxLine[], next: string | null): Promise<PendingPage> {
    if (this.legacyFence !== undefined) {
      // Once: what the single stream of earlier versions holds after that version's fence.
      this.legacySeen = await scanIds(
        this.redis,
        this.keys.legacy.stream,
        `(${this.legacyFence ?? "0-0"}`,
        () => this.stopped,
      );
      this.legacyFence = undefined;
    }
    const lanes = new Map<number, OutboxLine[]>();
    let oldest: string | undefined;
    for (const line of lines) {
      if (!line.valid) {
        // Not a record this process could have written; shipped as it is to the first partition, where
        // the report's reader leaves it pending for repair rather than dropping it unseen.
        this.logger.error("decision outbox: a line without a decisionId; shipped for repair", {
          line: line.buf.toString("utf8", line.start, Math.min(line.end, line.start + 80)),
        });
      } else {
        oldest ??= line.at;
      }
      if (this.legacySeen?.has(line.decisionId)) {
        instruments.skipped.add(1);
        continue;
      }
      let list = lanes.get(line.partition);
      if (list === undefined) {
        list = [];
        lanes.set(line.partition, list);
      }
      list.push(line);
    }
    this.backlog.reading(oldest ?? "");
    return { next, count: lines.length, lanes };
  }

  /** The outbox was replaced under its checkpoint: ship all of it, skipping what the streams hold. */
  private checkpointMisfit(): void {
    this.logger.warn("decision stream: the checkpoint does not fit the outbox; re-shipping the outbox", {
      checkpoint: this.checkpointPath,
    });
    this.cursor = undefined;
    this.pending = undefined;
    this.reshipAll();
  }

  /** Every lane ships the outbox again from its start, skipping what its stream holds (a time window). */
  private reshipAll(): void {
    for (const lane of this.lanes) lane.dedupe.reshipAll();
  }

  private onCaughtUp(startedAt: number, statsBefore: number): void {
    // Every append counted in `statsBefore` finished before this read began, and the read found nothing.
    this.backlog.caughtUp(statsBefore);
    for (const lane of this.lanes) lane.dedupe.caughtUp();
    this.mark(true);
    const ready = this.caughtUpWaiters.filter((w) => w.since <= startedAt);
    this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w.since > startedAt);
    for (const waiter of ready) waiter.settle(true);
  }

  // ---- data loss and repair ----

  /**
   * Checks that every partition still holds what it acknowledged (data-loss.ts), adopting or setting the
   * epoch tokens, and that the partition count is the one the deployment fixed. Plans a repair for each
   * partition that lost records.
   */
  private async verify(): Promise<void> {
    if (!this.countChecked) await this.checkPartitionCount();
    const checks = await Promise.all(
      this.lanes.map((lane) =>
        checkDataset(
          this.redis,
          {
            stream: lane.keys.stream,
            epochKey: lane.keys.epoch,
            epoch: lane.epoch,
            lastAckedId: lane.lastAckedId,
          },
          this.logger,
        ),
      ),
    );
    checks.forEach((check, i) => {
      const lane = this.lanes[i] as Lane;
      lane.epoch = check.epoch;
      if (check.loss !== undefined) {
        this.planRepair(lane, check.loss, check.lastGenerated, check.epochLost === true);
      } else if (lane.fence === undefined) {
        // First start for this lane: nothing of ours can be in the stream after its current end.
        lane.restart(check.lastGenerated ?? "0-0");
      }
    });
    if (!this.hadCheckpoint && this.startedNonEmpty) {
      this.logger.warn("decision stream: no checkpoint for a non-empty outbox; shipping all of it", {
        checkpoint: this.checkpointPath,
        note: "records the streams already hold are skipped",
      });
      this.reshipAll();
    }
    await this.saveCheckpoint();
    this.hadCheckpoint = true;
    this.needsVerify = false;
    this.verifiedAt = performance.now();
  }

  /**
   * The partition count is fixed by the first instance (a record's partition depends on it): an instance
   * configured with another count ships nothing and says why, rather than scattering records.
   */
  private async checkPartitionCount(): Promise<void> {
    const want = String(this.lanes.length);
    await this.redis.set(this.keys.partitionCount, want, "NX");
    const fixed = await this.redis.get(this.keys.partitionCount);
    if (fixed !== null && fixed !== want) {
      throw new Error(
        `decision partitions: this deployment has ${fixed}, this instance is configured with ${want} ` +
          "(CORDON_DECISION_PARTITIONS must be the same on every instance and never change)",
      );
    }
    this.countChecked = true;
  }

  private planRepair(lane: Lane, reason: string, lastGenerated: string | undefined, emptied: boolean): void {
    const index = lane.keys.index;
    lane.dedupe.reset();
    lane.lastAckedId = undefined;
    // Below everything the repair and the pages after it send, until the cursor moves past them.
    lane.restart(lastGenerated ?? "0-0");
    let repair: Repair = { from: undefined, window: "time", reason };
    if (!emptied && lastGenerated !== undefined) {
      // The newest mark from before what was lost: re-ship from there (see Mark).
      for (let i = this.marks.length - 1; i >= 0; i--) {
        const mark = this.marks[i] as Mark;
        const acked = mark.acked[index];
        if (acked === undefined || compareStreamIds(acked, lastGenerated) <= 0) {
          repair = {
            from: mark.cursor,
            window: acked === undefined ? `${Math.max(0, mark.at - this.clockSkewMs)}-0` : `(${acked}`,
            reason,
          };
          break;
        }
      }
    }
    // A repair planned before and not yet done keeps the earlier start: it covers this one too.
    const earlier = this.repairs.get(index);
    this.repairs.set(index, earlier ?? repair);
  }

  /**
   * Runs the planned repairs: each lane's share of the outbox from the repair's start to the end of the
   * page in flight (or the cursor). The page in flight is covered too, for that lane only: whatever of
   * its part landed before the loss was either lost or is in the stream after the window's start, where
   * the repair finds it. The other lanes keep their state of that page.
   */
  private async repairAll(): Promise<void> {
    for (const [index, repair] of this.repairs) {
      const pendingEnd = this.pending?.next ?? undefined;
      await this.repair(this.lanes[index] as Lane, repair, pendingEnd ?? this.cursor);
      if (pendingEnd !== undefined) this.pending?.lanes.delete(index);
      this.repairs.delete(index);
      await this.saveCheckpoint();
    }
  }

  private async repair(lane: Lane, repair: Repair, until: string | undefined): Promise<void> {
    let window = repair.window;
    if (window === "time") {
      const first = await this.readLines({ ...(repair.from ? { after: repair.from } : {}), limit: 1 });
      const at = first.lines[0]?.at;
      const t = at === undefined ? Date.now() : Date.parse(at);
      window = `${Math.max(0, (Number.isNaN(t) ? Date.now() : t) - this.clockSkewMs)}-0`;
    }
    const seen = await scanIds(this.redis, lane.keys.stream, window, () => this.stopped);
    let after = repair.from;
    let resent = 0;
    let skipped = 0;
    // Up to the cursor: what lies after it is shipped by the loop as usual.
    while (until !== undefined && !this.stopped) {
      const page = await this.readLines({
        ...(after === undefined ? {} : { after }),
        until,
        limit: this.batchSize,
      });
      if (page.lines.length === 0) break;
      const send: OutboxLine[] = [];
      for (const line of page.lines) {
        if (!line.valid || line.partition !== lane.keys.index) continue;
        if (seen.has(line.decisionId)) skipped++;
        else send.push(line);
      }
      resent += await lane.send(send);
      after = page.next ?? after;
    }
    instruments.skipped.add(skipped);
    this.logger.warn("decision stream: re-shipped what a partition lost", {
      partition: lane.keys.index,
      stream: lane.keys.stream,
      reason: repair.reason,
      resent,
      skipped,
    });
  }

  /**
   * Remembers where the shipper is (between pages, so cursor and ids agree), at most once a second, for
   * as long as a repair may need it: `RING_KEEP_MS`, or the outbox retention when that is shorter (what
   * is pruned cannot be re-shipped anyway). Also taken once the outbox is shipped to its end, so that
   * an idle shipper's oldest mark moves on too and shipped segments can be pruned.
   */
  private mark(caughtUp = false): void {
    const now = Date.now();
    const last = this.marks[this.marks.length - 1];
    if (last !== undefined && now - last.at < RING_EVERY_MS && !caughtUp) return;
    if (last !== undefined && last.cursor === this.cursor && now - last.at < RING_EVERY_MS) return;
    this.marks.push({ at: now, cursor: this.cursor, acked: this.lanes.map((l) => l.lastAckedId) });
    const keep = Math.min(RING_KEEP_MS, this.retentionMs);
    while (this.marks.length > 1 && now - (this.marks[0] as Mark).at > keep) this.marks.shift();
  }

  /**
   * Before what the outbox may be pruned: the oldest mark's cursor, which a repair could still need and
   * which lies at or before the last checkpoint written (marks are taken from the saved cursor on).
   */
  private pruneBefore(): string | undefined {
    if (this.repairs.size > 0 || this.savedCursor === undefined || this.checkpointDirty) return undefined;
    return (this.marks[0] as Mark).cursor;
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
      version: 2,
      streams: streamsOf(this.keys).streams,
      cursor: this.cursor ?? null,
      lanes: this.lanes.map((lane) => lane.checkpoint()),
      ...(this.legacyFence === undefined ? {} : { legacyFence: this.legacyFence }),
    };
    await saveCheckpoint(this.checkpointPath, checkpoint);
    this.savedCursor = checkpoint.cursor ?? undefined;
    this.checkpointDirty = false;
    this.checkpointSavedAt = performance.now();
  }
}

/** What a checkpoint belongs to: the first partition's stream and the partition count. */
function streamsOf(keys: RedisKeys): { streams: string; lanes: number; legacyStream: string } {
  return {
    streams: `${(keys.partitions[0] as { stream: string }).stream}/${keys.partitions.length}`,
    lanes: keys.partitions.length,
    legacyStream: keys.legacy.stream,
  };
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be positive, got ${value}`);
  return Math.floor(value) || 1;
}
