/**
 * `runFromStream`: the report's incremental aggregation fed from the Redis decision streams through the
 * `report` consumer group: every partition's stream (counted by position, aggregate-store.ts
 * `applyEntries`), and the legacy stream of earlier versions until it is drained (counted by decisionId,
 * `apply`). One stream per command: on a cluster each partition is in a slot of its own.
 *
 * An entry is acknowledged (XACK) only after the script that counted it, so a run killed between the two
 * leaves the entry pending, and the next run reads its own pending entries first (XREADGROUP from id 0),
 * applies them again (at or below the partition's checkpoint: nothing counts twice) and acknowledges them.
 * The trimmer (stream-trimmer.ts) never trims at or above the oldest pending entry, nor above a
 * partition's checkpoint, so nothing is trimmed before it is counted.
 *
 * A partition's checkpoint moves only through consecutive entries. When entries between it and a batch
 * are still with another consumer (delivered to it, not counted yet), the runner counts them itself
 * from the stream (XRANGE), then its batch; and it ends with whatever the stream holds after the
 * checkpoint. The other consumer's later apply finds them counted. So a slow or dead consumer never holds
 * the report back; its pending entries are still claimed after `claimIdleMs` (XAUTOCLAIM) so that someone
 * acknowledges them.
 *
 * Malformed stream entries (no `r`, not JSON, not a DecisionRecord, no valid time) cannot be counted and
 * are not acknowledged either: they stay pending, are counted in `malformed` and logged on every run
 * (the checkpoint passes them). Acknowledging them would drop the only copy of a record that something
 * wrote badly, with a log line as its sole trace; left pending, the entry stays in the stream for someone
 * to repair (XADD a corrected record to the record's partition, then XACK the bad entry by hand). The
 * price is visible and bounded: the trimmer keeps that stream from the oldest such entry on. A pending
 * entry whose stream entry is gone (deleted by hand; the trimmer never does that) is acknowledged and
 * counted in `missing`: nothing is left to count or to keep.
 *
 * A partition's stream holds each decisionId once (the shipper's deduplication, shipper/): position is
 * what makes a count exact here, and `counted` (finalization) checks it.
 */
import { DecisionRecord } from "../../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import type { RedisClient } from "../../platform/node/redis.js";
import { positiveInt, type RunResult } from "../../report/runner.js";
import type { RedisAggregateStore, StreamEntryRecord } from "./aggregate-store.js";
import { partitionOf, type RedisKeys } from "./keys.js";
import { compareStreamIds } from "./stream-ids.js";
import { createReportGroup } from "./stream-trimmer.js";

export interface StreamRunResult extends RunResult {
  /** Stream ids of entries that are not decision records; left pending (see the header). */
  malformed: string[];
  /** Pending entries whose stream entry no longer exists; acknowledged. */
  missing: number;
  /** Each partition's checkpoint after the run (`checkpoint` is the legacy aggregates'). */
  checkpoints: (string | undefined)[];
}

export interface StreamRunOptions {
  /**
   * Consumer name in the `report` group. Use a stable one per runner (the CLI uses `report-cli`): a run
   * picks up the entries its consumer left pending.
   */
  consumer: string;
  /** Entries per read and per `apply`. Default 500. */
  batch?: number;
  /**
   * Entries pending at another consumer for at least this long are claimed (XAUTOCLAIM) and counted here:
   * a runner that died under another name would otherwise hold them, and the trim, forever. Claiming from
   * a consumer that is only slow costs a second `apply` of the same records, which deduplicates. Default
   * 10 minutes.
   */
  claimIdleMs?: number;
  stopAfterBatches?: number;
  logger?: Logger;
}

type StreamEntry = [id: string, fields: string[] | null];

export async function runFromStream(
  redis: RedisClient,
  keys: RedisKeys,
  store: RedisAggregateStore,
  opts: StreamRunOptions,
): Promise<StreamRunResult> {
  const batchSize = positiveInt("batch", opts.batch ?? 500);
  const stopAfter = opts.stopAfterBatches ?? Number.POSITIVE_INFINITY;
  const claimIdleMs = opts.claimIdleMs ?? 10 * 60_000;
  const logger = opts.logger ?? SILENT_LOGGER;
  const { consumer } = opts;
  if (consumer.length === 0) throw new RangeError("consumer must not be empty");
  const result: StreamRunResult = {
    batches: 0,
    applied: 0,
    duplicates: 0,
    checkpoint: undefined,
    checkpoints: [],
    malformed: [],
    missing: 0,
  };
  const group = keys.reportGroup;
  const done = () => result.batches >= stopAfter;

  /** Splits entries into records to count, malformed ids, and ids to acknowledge. */
  const sort = (entries: StreamEntry[]) => {
    const present: StreamEntryRecord[] = [];
    const ack: string[] = [];
    for (const [id, fields] of entries) {
      if (fields === null) {
        result.missing++;
        ack.push(id);
        continue;
      }
      const record = parseEntry(fields);
      if (record === undefined) result.malformed.push(id);
      else ack.push(id);
      present.push({ id, record });
    }
    return { present, ack };
  };

  /** Entries of a partition: counted (with whatever lies between the checkpoint and them), then acknowledged. */
  const handlePartition = async (p: number, stream: string, entries: StreamEntry[]) => {
    result.batches++;
    let { present, ack } = sort(entries);
    for (let stuck = 0; ; ) {
      const r = await store.applyEntries(p, present);
      if (!r.gap) {
        result.applied += r.applied;
        result.duplicates += r.duplicates;
        break;
      }
      if (await fillGap(p, stream, present)) continue;
      // Nothing lay between: an entry of the batch left the stream after it was read (deleted by hand).
      if (++stuck > 2) throw new Error(`report: partition ${p} cannot continue its checkpoint`);
      const kept = await inStream(stream, present);
      result.missing += present.length - kept.length;
      const gone = new Set(present.filter((e) => !kept.includes(e)).map((e) => e.id));
      ack = [...ack, ...gone].filter((id, i, all) => all.indexOf(id) === i);
      result.malformed = result.malformed.filter((id) => !gone.has(id));
      present = kept;
    }
    if (ack.length > 0) await redis.xack(stream, group, ...ack);
  };

  /**
   * Counts the partition's entries after its checkpoint that lie before the first of `batch` above it,
   * read from the stream (another consumer holds them). True when it counted any.
   */
  const fillGap = async (p: number, stream: string, batch: readonly StreamEntryRecord[]) => {
    let progressed = false;
    for (;;) {
      const checkpoint = (await store.partitionCheckpoint(p)) ?? "0-0";
      const before = batch.find((e) => compareStreamIds(e.id, checkpoint) > 0)?.id;
      if (before === undefined) return true;
      const page = (await redis.xrange(stream, `(${checkpoint}`, `(${before}`, "COUNT", batchSize)) as [
        string,
        string[],
      ][];
      if (page.length === 0) return progressed;
      const r = await store.applyEntries(
        p,
        page.map(([id, fields]) => ({ id, record: parseEntry(fields) })),
      );
      result.applied += r.applied;
      result.duplicates += r.duplicates;
      progressed = true;
    }
  };

  /**
   * Counts what the partition's stream holds after its checkpoint, to its end: entries delivered to a
   * consumer that has not counted them yet (slow, or dead until its entries are claimed) count now.
   */
  const fillTail = async (p: number, stream: string) => {
    for (;;) {
      const checkpoint = (await store.partitionCheckpoint(p)) ?? "0-0";
      const page = (await redis.xrange(stream, `(${checkpoint}`, "+", "COUNT", batchSize)) as [
        string,
        string[],
      ][];
      if (page.length === 0) return;
      const r = await store.applyEntries(
        p,
        page.map(([id, fields]) => ({ id, record: parseEntry(fields) })),
      );
      result.applied += r.applied;
      result.duplicates += r.duplicates;
    }
  };

  /** The entries of `batch` still in the stream. */
  const inStream = async (stream: string, batch: readonly StreamEntryRecord[]) => {
    if (batch.length === 0) return [];
    const ids = new Set<string>();
    let from = (batch[0] as StreamEntryRecord).id;
    const to = (batch.at(-1) as StreamEntryRecord).id;
    for (;;) {
      const page = (await redis.xrange(stream, from, to, "COUNT", batchSize)) as [string, string[]][];
      for (const [id] of page) ids.add(id);
      if (page.length < batchSize) break;
      from = `(${(page.at(-1) as [string, string[]])[0]}`;
    }
    return batch.filter((e) => ids.has(e.id));
  };

  /** Legacy entries: counted by decisionId, then acknowledged. */
  const handleLegacy = async (entries: StreamEntry[], checkpoint: string | undefined) => {
    result.batches++;
    const { present, ack } = sort(entries);
    const records = present.flatMap((e) => (e.record === undefined ? [] : [e.record]));
    if (records.length > 0 || checkpoint !== undefined) {
      const { applied, duplicates } = await store.apply(records, checkpoint);
      result.applied += applied;
      result.duplicates += duplicates;
    }
    if (ack.length > 0) await redis.xack(keys.legacy.stream, group, ...ack);
  };

  await createReportGroup(redis, keys);

  const streams: {
    stream: string;
    handle: (entries: StreamEntry[], last?: string) => Promise<void>;
    tail?: () => Promise<void>;
  }[] = [];
  // The legacy stream first, while it has entries; it exists only where an earlier version wrote it.
  if ((await redis.exists(keys.legacy.stream)) === 1) {
    streams.push({ stream: keys.legacy.stream, handle: handleLegacy });
  }
  for (const part of keys.partitions) {
    streams.push({
      stream: part.stream,
      handle: (entries) => handlePartition(part.index, part.stream, entries),
      tail: () => fillTail(part.index, part.stream),
    });
  }

  for (const { stream, handle, tail } of streams) {
    // 1. Entries another consumer has held too long become ours (read below with our own).
    if (Number.isFinite(claimIdleMs)) {
      let start = "0-0";
      do {
        const reply = (await redis.xautoclaim(
          stream,
          group,
          consumer,
          claimIdleMs,
          start,
          "COUNT",
          batchSize,
          "JUSTID",
        )) as [string, string[], string[]?];
        start = reply[0];
        // Redis 7 drops pending entries whose stream entry is gone and names them here.
        result.missing += reply[2]?.length ?? 0;
      } while (start !== "0-0");
    }

    // 2. Our own pending entries: delivered before, not acknowledged (a run that died between apply and
    //    XACK, a failed XACK, or malformed entries waiting for repair).
    let after = "0";
    while (!done()) {
      const entries = await readGroup(redis, group, consumer, batchSize, stream, after);
      if (entries.length === 0) break;
      after = (entries[entries.length - 1] as StreamEntry)[0];
      // No legacy checkpoint from here: these ids lie below what the group delivered already.
      await handle(entries, undefined);
    }

    // 3. New entries, in stream order.
    while (!done()) {
      const entries = await readGroup(redis, group, consumer, batchSize, stream, ">");
      if (entries.length === 0) break;
      await handle(entries, (entries[entries.length - 1] as StreamEntry)[0]);
    }

    // 4. Partitions: what other consumers hold and have not counted yet.
    if (tail !== undefined && !done()) await tail();
  }

  if (result.malformed.length > 0) {
    logger.warn("report: decision stream entries that are not decision records stay pending", {
      count: result.malformed.length,
      ids: result.malformed.slice(0, 20),
      note: "the stream is not trimmed past the oldest of them; repair (XADD a corrected record) then XACK them",
    });
  }
  if (result.missing > 0) {
    logger.warn("report: pending decision stream entries were gone from the stream", {
      count: result.missing,
    });
  }
  result.checkpoint = await store.checkpoint();
  result.checkpoints = await Promise.all(keys.partitions.map((p) => store.partitionCheckpoint(p.index)));
  return result;
}

async function readGroup(
  redis: RedisClient,
  group: string,
  consumer: string,
  count: number,
  stream: string,
  id: string,
): Promise<StreamEntry[]> {
  const reply = (await redis.call(
    "XREADGROUP",
    "GROUP",
    group,
    consumer,
    "COUNT",
    String(count),
    "STREAMS",
    stream,
    id,
  )) as [string, StreamEntry[]][] | null;
  return reply?.[0]?.[1] ?? [];
}

/** The record in an entry's `r` field, or undefined when there is none that can be counted. */
export function parseEntry(fields: readonly string[]): DecisionRecord | undefined {
  let text: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === "r") text = fields[i + 1];
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = DecisionRecord.safeParse(json);
  if (!parsed.success || Number.isNaN(Date.parse(parsed.data.at))) return undefined;
  return parsed.data;
}

/**
 * The records with these decisionIds from the decision streams (the legacy one, and the partitions that
 * hold any of them): the first of each id, in no particular order. What a finalization archives; the
 * trimmer keeps a period's records until then.
 */
export async function streamRecords(
  redis: RedisClient,
  keys: RedisKeys,
  ids: ReadonlySet<string>,
): Promise<DecisionRecord[]> {
  const found = new Map<string, DecisionRecord>();
  const n = keys.partitions.length;
  const wanted = new Set([...ids].map((id) => partitionOf(id, n)));
  const streams = [
    keys.legacy.stream,
    ...keys.partitions.filter((p) => wanted.has(p.index)).map((p) => p.stream),
  ];
  for (const stream of streams) {
    let from = "-";
    for (;;) {
      const page = (await redis.xrange(stream, from, "+", "COUNT", 1000)) as [string, string[]][];
      for (const [, fields] of page) {
        const record = parseEntry(fields);
        if (record !== undefined && ids.has(record.decisionId) && !found.has(record.decisionId)) {
          found.set(record.decisionId, record);
        }
      }
      if (page.length < 1000) break;
      from = `(${(page.at(-1) as [string, string[]])[0]}`;
    }
  }
  return [...found.values()];
}
