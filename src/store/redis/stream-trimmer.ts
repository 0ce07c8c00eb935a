/**
 * `StreamTrimmer`: keeps the decision streams (every partition's, and the legacy one while it exists) from
 * growing without bound, trimming only entries that every consumer group has acknowledged and the report
 * has counted. The shipper's XADDs carry no MAXLEN: a length cap cannot know what the reporting pipeline
 * has read, and a record trimmed before it was counted is lost to the report (I5). Also
 * `createReportGroup`, the one place the reporting group is created.
 *
 * Safe point, per stream and group: the oldest pending (delivered, not acknowledged) id if any, else the id
 * after the group's last-delivered-id. XTRIM MINID with the lowest safe point over all groups removes only
 * ids below it. Without the `report` group nothing is trimmed: no reader has said what it has read. Other
 * groups (an archiver, say) count too: trimming what one of them still needs would lose it for that one.
 * A partition is also never trimmed above its report checkpoint (the id after it): a runner counts
 * entries another consumer holds from the stream itself (report-reader.ts), so counted and acknowledged
 * need not go together.
 *
 * Finalization (I9). A period's records must stay readable until a finalization has archived them
 * (service/reports.ts): the archive is built from the streams, and `cordon verify-report` compares it
 * with what they still hold. So, by default, nothing is trimmed at or above the start of the oldest
 * month that has counted records in the stream's aggregates and is not archived (`keepFloor`), less a day
 * for the clocks of the instances that wrote the records against Redis's, which stamps the entries.
 * Finalize periods to let the streams shrink; until then they hold every record since the oldest
 * unfinalized month.
 *
 * The reads and the trim are separate round trips. Between them a group and a checkpoint only move
 * forward, so a safe point read earlier stays safe; the exception is an operator moving a group back with
 * XGROUP SETID while a trim runs, which would then miss what was trimmed.
 */

import { metrics } from "@opentelemetry/api";
import type { Logger } from "../../kernel/logger.js";
import { isUnavailable, type RedisClient } from "../../platform/node/redis.js";
import type { RedisKeys, ReportKeys } from "./keys.js";
import { compareStreamIds, field, nextStreamId } from "./stream-ids.js";

export interface StreamTrimmerOptions {
  /** Any client; the trimmer sends a few commands per interval. */
  redis: RedisClient;
  keys: RedisKeys;
  /** Default 60 s. */
  intervalMs?: number;
  /**
   * Keep the records of months no finalization has archived (see the header). Default true; false trims
   * on acknowledgement alone (a deployment that never finalizes, or tests of that rule).
   */
  keepUnarchived?: boolean;
  logger?: Logger;
}

export interface TrimResult {
  /** Entries removed, over every stream. */
  trimmed: number;
  /**
   * The first partition's trim point (entries below it were trimmed); null when nothing was eligible
   * (no report group). `streams` has every stream's.
   */
  minId: string | null;
  /** Per stream (key name): its trim point and the entries removed. */
  streams: Record<string, { minId: string | null; trimmed: number }>;
}

/** What XINFO GROUPS and XPENDING say about one group. */
export interface GroupState {
  name: string;
  lastDeliveredId: string;
  pending: number;
  /** Oldest pending id, when `pending` > 0. */
  minPendingId: string | null;
}

const meter = metrics.getMeter("cordon");
const instruments = {
  trimmed: meter.createCounter("cordon.decisions.trimmed", {
    description: "Decision stream entries trimmed after every consumer group acknowledged them.",
  }),
  redisErrors: meter.createCounter("cordon.redis.errors", {
    description: "Failed Redis commands and connection errors, by component.",
  }),
};

/**
 * The id below which every group has acknowledged everything, or null when the report group is missing.
 * Pure, so the rule is tested without Redis.
 */
export function safeTrimPoint(groups: readonly GroupState[], reportGroup: string): string | null {
  if (!groups.some((g) => g.name === reportGroup)) return null;
  let min: string | null = null;
  for (const g of groups) {
    const point = g.pending > 0 && g.minPendingId !== null ? g.minPendingId : nextStreamId(g.lastDeliveredId);
    if (min === null || compareStreamIds(point, min) < 0) min = point;
  }
  return min;
}

/** A day: how far an instance's clock may run ahead of Redis's without a record being trimmed early. */
export const CLOCK_MARGIN_MS = 86_400_000;

/**
 * The stream id below which trimming keeps no unarchived record: the start of the oldest month (`YYYY-MM`)
 * with counted records that is not archived, less `CLOCK_MARGIN_MS`; null when every such month is
 * archived. Pure.
 */
export function keepFloor(months: readonly string[], archived: readonly string[]): string | null {
  const done = new Set(archived);
  const oldest = [...months].filter((m) => !done.has(m)).sort()[0];
  if (oldest === undefined) return null;
  const start = Date.UTC(Number(oldest.slice(0, 4)), Number(oldest.slice(5, 7)) - 1, 1);
  return `${Math.max(0, start - CLOCK_MARGIN_MS)}-0`;
}

/**
 * Creates the reporting consumer group (and the stream, if missing), reading from the stream's start so
 * that nothing shipped before the group existed escapes the report. True when created, false when it
 * existed already.
 */
export async function createReportGroup(
  redis: RedisClient,
  keys: RedisKeys,
  startId = "0",
): Promise<boolean> {
  let created = false;
  // The legacy stream only where an earlier version left it: never made anew.
  if ((await redis.exists(keys.legacy.stream)) === 1) {
    created = (await createGroup(redis, keys.legacy.stream, keys.reportGroup, startId, false)) || created;
  }
  for (const part of keys.partitions) {
    created = (await createGroup(redis, part.stream, keys.reportGroup, startId, true)) || created;
  }
  return created;
}

async function createGroup(
  redis: RedisClient,
  stream: string,
  group: string,
  startId: string,
  mkstream: boolean,
): Promise<boolean> {
  try {
    if (mkstream) await redis.xgroup("CREATE", stream, group, startId, "MKSTREAM");
    else await redis.xgroup("CREATE", stream, group, startId);
    return true;
  } catch (err) {
    if (err instanceof Error && /BUSYGROUP/.test(err.message)) return false;
    // The stream went away between the check and the command (legacy, drained and deleted): nothing to read.
    if (!mkstream && err instanceof Error && /requires the key to exist/i.test(err.message)) return false;
    throw err;
  }
}

export class StreamTrimmer {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly logger: Logger | undefined;
  private readonly keepUnarchived: boolean;
  private readonly timer: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  private constructor(opts: StreamTrimmerOptions) {
    this.redis = opts.redis;
    this.keys = opts.keys;
    this.logger = opts.logger;
    this.keepUnarchived = opts.keepUnarchived ?? true;
    const intervalMs = opts.intervalMs ?? 60_000;
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be positive, got ${intervalMs}`);
    this.timer = setInterval(() => {
      this.running = this.trimOnce().catch((err: unknown) => {
        instruments.redisErrors.add(1, { component: "stream-trimmer" });
        // Unreachable Redis is the shipper's to report; anything else is worth a line.
        if (!isUnavailable(err)) {
          this.logger?.warn("decision stream: trimming failed", {
            error: err instanceof Error ? err.message : String(err),
          });
        }
      });
    }, intervalMs);
    // A trimmer alone must not keep the process alive.
    this.timer.unref();
  }

  static start(opts: StreamTrimmerOptions): StreamTrimmer {
    return new StreamTrimmer(opts);
  }

  /** Trims every stream below its safe point (see the header). */
  async trimOnce(): Promise<TrimResult> {
    const out: TrimResult = { trimmed: 0, minId: null, streams: {} };
    if (this.stopped) return out;
    const archived = this.keepUnarchived ? await this.redis.smembers(this.keys.report.archived) : [];
    const streams: { stream: string; report: ReportKeys; byPosition: boolean }[] = [
      { stream: this.keys.legacy.stream, report: this.keys.legacy.report, byPosition: false },
      ...this.keys.partitions.map((p) => ({ stream: p.stream, report: p.report, byPosition: true })),
    ];
    for (const [i, { stream, report, byPosition }] of streams.entries()) {
      const trim = await this.trimStream(stream, report, byPosition, archived);
      out.streams[stream] = trim;
      out.trimmed += trim.trimmed;
      if (i === 1) out.minId = trim.minId;
    }
    return out;
  }

  private async trimStream(
    stream: string,
    report: ReportKeys,
    byPosition: boolean,
    archived: readonly string[],
  ): Promise<{ minId: string | null; trimmed: number }> {
    const groups = await this.groups(stream);
    let minId = safeTrimPoint(groups, this.keys.reportGroup);
    if (minId === null) return { trimmed: 0, minId };
    if (byPosition) {
      // Never past what the report counted: nothing, before its first batch.
      const checkpoint = await this.redis.get(report.checkpoint);
      const counted = checkpoint === null ? "0-0" : nextStreamId(checkpoint);
      if (compareStreamIds(counted, minId) < 0) minId = counted;
    }
    if (this.keepUnarchived) {
      const floor = keepFloor(await this.redis.smembers(report.months), archived);
      if (floor !== null && compareStreamIds(floor, minId) < 0) minId = floor;
    }
    const trimmed = Number(await this.redis.xtrim(stream, "MINID", minId));
    if (trimmed > 0) instruments.trimmed.add(trimmed);
    return { trimmed, minId };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async groups(stream: string): Promise<GroupState[]> {
    let infos: unknown[];
    try {
      infos = (await this.redis.xinfo("GROUPS", stream)) as unknown[];
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return [];
      throw err;
    }
    const names = infos.map((info) => ({
      name: field(info, "name") ?? "",
      lastDeliveredId: field(info, "last-delivered-id") ?? "0-0",
    }));
    if (names.length === 0) return [];
    // XPENDING after XINFO: an entry delivered in between is either pending (then the oldest pending id
    // bounds the trim) or acknowledged, so the point computed is never above what is acknowledged.
    const pipeline = this.redis.pipeline();
    for (const { name } of names) pipeline.xpending(stream, name);
    const results = (await pipeline.exec()) ?? [];
    return names.map(({ name, lastDeliveredId }, i) => {
      const [err, summary] = results[i] ?? [new Error("XPENDING returned nothing"), null];
      if (err) throw err;
      const [count, minId] = summary as [number, string | null];
      return { name, lastDeliveredId, pending: Number(count), minPendingId: minId ?? null };
    });
  }
}
