/**
 * `runFromStream`: the report's incremental aggregation (report/runner.ts) fed from the Redis decision
 * stream through the `report` consumer group. The group is the checkpoint: an entry is acknowledged
 * (XACK) only after `apply` stored its record, so a run killed between the two leaves the entry pending,
 * and the next run reads its own pending entries first (XREADGROUP from id 0), applies them again (all
 * duplicates) and acknowledges them. The trimmer (stream-trimmer.ts) never trims at or above the oldest
 * pending entry, so nothing is trimmed before it is counted.
 *
 * Malformed stream entries (no `r`, not JSON, not a DecisionRecord, no valid time) cannot be counted and
 * are not acknowledged either: they stay pending, are counted in `malformed` and logged on every run.
 * Acknowledging them would drop the only copy of a record that something wrote badly, with a log line as
 * its sole trace; left pending, the entry stays in the stream for someone to repair (XADD a corrected
 * record, then XACK the bad entry by hand). The price is visible and bounded: the trimmer keeps the stream
 * from the oldest such entry on, so the stream grows until they are dealt with. A pending entry whose
 * stream entry is gone (deleted by hand; the trimmer never does that) is acknowledged and counted in
 * `missing`: nothing is left to count or to keep.
 */

import { DecisionRecord } from "../../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import type { RedisClient } from "../../platform/node/redis.js";
import type { AggregateStore } from "../../report/aggregate-store.js";
import { positiveInt, type RunResult } from "../../report/runner.js";
import type { RedisKeys } from "./keys.js";
import { createReportGroup } from "./stream-trimmer.js";

export interface StreamRunResult extends RunResult {
  /** Stream ids of entries that are not decision records; left pending (see the header). */
  malformed: string[];
  /** Pending entries whose stream entry no longer exists; acknowledged. */
  missing: number;
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
   * Wait this long for new entries once caught up (XREADGROUP BLOCK) before stopping; default: stop at
   * once. The client's command timeout must be longer.
   */
  blockMs?: number;
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
  store: AggregateStore,
  opts: StreamRunOptions,
): Promise<StreamRunResult> {
  const batch = positiveInt("batch", opts.batch ?? 500);
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
    malformed: [],
    missing: 0,
  };
  const stream = keys.decisions;
  const group = keys.reportGroup;
  const done = () => result.batches >= stopAfter;

  /** Applies the good entries, then acknowledges them: never the other way round. */
  const handle = async (entries: StreamEntry[], checkpoint: string | undefined) => {
    result.batches++;
    const records: DecisionRecord[] = [];
    const ack: string[] = [];
    for (const [id, fields] of entries) {
      if (fields === null) {
        result.missing++;
        ack.push(id);
        continue;
      }
      const record = parseEntry(fields);
      if (record === undefined) {
        result.malformed.push(id);
        continue;
      }
      records.push(record);
      ack.push(id);
    }
    if (records.length > 0 || checkpoint !== undefined) {
      const { applied, duplicates } = await store.apply(records, checkpoint);
      result.applied += applied;
      result.duplicates += duplicates;
    }
    if (ack.length > 0) await redis.xack(stream, group, ...ack);
  };

  await createReportGroup(redis, keys);

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
        batch,
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
    const entries = await readGroup(redis, group, consumer, batch, stream, after);
    if (entries.length === 0) break;
    after = (entries[entries.length - 1] as StreamEntry)[0];
    // No checkpoint from here: these ids lie below what the group delivered already.
    await handle(entries, undefined);
  }

  // 3. New entries, in stream order.
  while (!done()) {
    const entries = await readGroup(redis, group, consumer, batch, stream, ">", opts.blockMs);
    if (entries.length === 0) break;
    await handle(entries, (entries[entries.length - 1] as StreamEntry)[0]);
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
  return result;
}

async function readGroup(
  redis: RedisClient,
  group: string,
  consumer: string,
  count: number,
  stream: string,
  id: string,
  blockMs?: number,
): Promise<StreamEntry[]> {
  const block = blockMs === undefined ? [] : ["BLOCK", String(blockMs)];
  const reply = (await redis.call(
    "XREADGROUP",
    "GROUP",
    group,
    consumer,
    "COUNT",
    String(count),
    ...block,
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
