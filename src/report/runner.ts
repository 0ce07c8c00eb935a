/**
 * The incremental aggregation: reads decision records from where the last run stopped and hands them to
 * an `AggregateStore`, which counts each record once (I5). `runFromDecisionLog` reads any `DecisionLog`
 * (the embedded one in a data directory), from the store's checkpoint (a log cursor) until a page comes
 * back empty, handing over each record's position with it. The store keeps the aggregates and the cursor
 * together (months first, then the cursor), so a run killed anywhere re-reads at most the batch it was
 * in, and those records are skipped as duplicates. The Redis stream has a reader of its own,
 * store/redis/report-reader.ts.
 */

import type { DecisionRecord } from "../engine/index.js";
import { InvalidCursorError } from "../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { DecisionLog } from "../store/interface.js";
import type { AggregateStore } from "./aggregate-store.js";

export interface RunResult {
  /** Batches read (including, for the stream, batches of pending entries read again). */
  batches: number;
  /** Records counted for the first time. */
  applied: number;
  /** Records skipped because they were counted already. */
  duplicates: number;
  /** Where the source stands after the run (the store's checkpoint). */
  checkpoint: string | undefined;
}

export interface DecisionLogRunOptions {
  /**
   * Records per page and per `apply`. Default 5000: FileAggregateStore syncs and replaces the counts file
   * of each month a batch touches, so fewer, bigger batches make a long catch-up cheaper.
   */
  batch?: number;
  /** Stop after this many batches (tests: a run interrupted part-way). */
  stopAfterBatches?: number;
  logger?: Logger;
}

export async function runFromDecisionLog(
  log: Pick<DecisionLog, "page">,
  store: AggregateStore,
  opts: DecisionLogRunOptions = {},
): Promise<RunResult> {
  const batch = positiveInt("batch", opts.batch ?? 5000);
  const stopAfter = opts.stopAfterBatches ?? Number.POSITIVE_INFINITY;
  const logger = opts.logger ?? SILENT_LOGGER;
  const result: RunResult = { batches: 0, applied: 0, duplicates: 0, checkpoint: await store.checkpoint() };
  let after = result.checkpoint;
  while (result.batches < stopAfter) {
    let page: { records: DecisionRecord[]; next: string | null; positions?: string[] };
    try {
      page = await log.page({ ...(after === undefined ? {} : { after }), limit: batch, positions: true });
    } catch (err) {
      if (!(err instanceof InvalidCursorError) || after === undefined) throw err;
      // The log was pruned past the checkpoint. Reading what is kept from its start is safe: positions are
      // never reused, so every record counted before is a duplicate now. Records pruned before they were
      // counted are lost to the report, which this says out loud.
      logger.warn("report: the checkpoint does not fit the decision log; reading the log from its start", {
        checkpoint: after,
        note: "records counted before are skipped; records pruned before any run counted them are missing",
      });
      after = undefined;
      continue;
    }
    if (page.records.length === 0) break;
    // `next` is never null for SegmentLog; a log that ends with null keeps the old position.
    const next = page.next ?? after;
    const { applied, duplicates } = await store.apply(page.records, next, page.positions);
    result.batches++;
    result.applied += applied;
    result.duplicates += duplicates;
    after = next;
    result.checkpoint = next;
  }
  return result;
}

/** Checks a count option (batch sizes); the stream reader's options use it too. */
export function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * The records with the given decisionIds, read through the whole log in order: the first record of each
 * id (the one the aggregation counted, as it counts in log order). What a finalization archives.
 */
export async function collectRecords(
  log: Pick<DecisionLog, "page">,
  ids: ReadonlySet<string>,
  opts: { batch?: number } = {},
): Promise<DecisionRecord[]> {
  const found = new Map<string, DecisionRecord>();
  if (ids.size === 0) return [];
  const limit = positiveInt("batch", opts.batch ?? 5000);
  let after: string | undefined;
  for (;;) {
    const page = await log.page({ ...(after === undefined ? {} : { after }), limit });
    for (const record of page.records) {
      if (ids.has(record.decisionId) && !found.has(record.decisionId)) found.set(record.decisionId, record);
    }
    if (page.records.length === 0 || page.next === null || found.size === ids.size) break;
    after = page.next;
  }
  return [...found.values()];
}
