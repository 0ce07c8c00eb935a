/**
 * The embedded report over every decision log of a data directory: the writer's own (`<dir>/decisions`)
 * and each worker's (`<dir>/worker-<slot>/decisions`, CORDON_WORKERS > 1). One `FileAggregateStore` per
 * log, each counting its log exactly once by position as it always has (the main one in `<dir>/report`,
 * a worker's in `<dir>/report/worker-<slot>`); the report reads their months merged. Logs of slots no
 * longer run are read too, so a restart with fewer workers keeps every count. See workers.md.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import { liveHolder } from "../../platform/node/pid-lock.js";
import {
  type AggregateStore,
  type ApplyResult,
  emptyMonth,
  sumOrderTotals,
} from "../../report/aggregate-store.js";
import type { MonthAggregate, OrderTotals } from "../../report/model.js";
import { collectRecords, type RunResult, runFromDecisionLog } from "../../report/runner.js";
import { FileAggregateStore } from "../../store/file/aggregate-store.js";
import { type ReadBound, SegmentReader } from "../../store/file/segment-reader.js";
import type { DecisionLog } from "../../store/interface.js";
import { mergeMonth } from "../../store/redis/aggregate-store.js";

const WORKER_DIR = /^worker-(\d+)$/;

/** A worker's acknowledged log end (its `SegmentLog.end()`), per slot, from the live workers that answer. */
export type WorkerEnds = () => Promise<ReadonlyMap<number, string>>;

interface Part {
  slot: number;
  dir: string;
  store: FileAggregateStore;
}

/** The slots whose decision logs are in the data directory (`worker-<slot>/decisions`), ascending. */
export async function workerSlots(dataDir: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir(dataDir)) {
    const slot = WORKER_DIR.exec(name)?.[1];
    if (slot === undefined) continue;
    const decisions = await stat(join(dataDir, name, "decisions")).catch(() => undefined);
    if (decisions?.isDirectory()) found.push(Number(slot));
  }
  return found.sort((a, b) => a - b);
}

/**
 * How far a worker's log may be read: to the end its live writer acknowledged, or, when no live process
 * holds its lock, to its last complete line (final: segment-reader.ts); undefined while a live writer
 * has not said.
 */
export async function boundOf(
  dir: string,
  slot: number,
  ends: ReadonlyMap<number, string>,
): Promise<ReadBound | undefined> {
  const end = ends.get(slot);
  if (end !== undefined) return { until: end };
  return (await liveHolder(join(dir, "LOCK"))) === undefined ? "complete" : undefined;
}

export class WorkerAggregates implements AggregateStore {
  private readonly parts = new Map<number, Part>();
  /** One discovery and catch-up at a time (parts are opened by it). */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dataDir: string,
    private readonly main: FileAggregateStore,
    private readonly mainLog: Pick<DecisionLog, "page">,
    private readonly ends: WorkerEnds,
    private readonly logger: Logger,
  ) {}

  static async open(
    dataDir: string,
    o: { log: Pick<DecisionLog, "page">; ends?: WorkerEnds; logger?: Logger },
  ): Promise<WorkerAggregates> {
    const main = await FileAggregateStore.open(join(dataDir, "report"), { log: o.log });
    const store = new WorkerAggregates(
      dataDir,
      main,
      o.log,
      o.ends ?? (async () => new Map()),
      o.logger ?? SILENT_LOGGER,
    );
    try {
      await store.discover();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /**
   * Counts what every log holds beyond its checkpoint: the main log to its end, a live worker's log to
   * the end that worker acknowledged just now, a log nobody has open to its last complete line. A live
   * worker that does not answer is left for the next run (its records stay in its log). Answers what
   * was counted, over every log.
   */
  catchUp(): Promise<RunResult> {
    const run = this.tail.then(async () => {
      await this.discover();
      const total = await runFromDecisionLog(this.mainLog, this.main, { logger: this.logger });
      if (this.parts.size === 0) return total;
      const ends = await this.ends();
      for (const part of this.parts.values()) {
        const bound = await this.boundOf(part, ends);
        if (bound === undefined) {
          this.logger.warn("report: a live worker did not say where its log ends; counted at the next run", {
            slot: part.slot,
          });
          continue;
        }
        const counted = await runFromDecisionLog(new SegmentReader(part.dir, bound), part.store, {
          logger: this.logger,
        });
        total.batches += counted.batches;
        total.applied += counted.applied;
        total.duplicates += counted.duplicates;
      }
      // The checkpoint stays the main log's: each worker's is its own part's.
      return total;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Every log's records with these ids (a finalization's archive): the main log, then each worker's. */
  async records(ids: ReadonlySet<string>): Promise<DecisionRecord[]> {
    const found = await collectRecords(this.mainLog, ids);
    for (const part of this.parts.values()) {
      if (found.length === ids.size) break;
      found.push(...(await collectRecords(new SegmentReader(part.dir, "complete"), ids)));
    }
    return found;
  }

  private boundOf(part: Part, ends: ReadonlyMap<number, string>): Promise<ReadBound | undefined> {
    return boundOf(part.dir, part.slot, ends);
  }

  /** Opens a part for each worker log in the data directory not yet known, frozen as the others are. */
  private async discover(): Promise<void> {
    const found = (await workerSlots(this.dataDir)).filter((slot) => !this.parts.has(slot));
    if (found.length === 0) return;
    const frozen = await this.frozenMonths();
    for (const slot of found) {
      const dir = join(this.dataDir, `worker-${slot}`);
      // `counted` reads back between positions counted already: complete lines, final whoever writes on.
      const store = await FileAggregateStore.open(join(this.dataDir, "report", `worker-${slot}`), {
        log: new SegmentReader(dir, "complete"),
      });
      // I9: a log that appears after a finalization counts that period's records late, as the others do.
      if (frozen.length > 0) await store.freeze(frozen);
      this.parts.set(slot, { slot, dir, store });
    }
  }

  private stores(): FileAggregateStore[] {
    return [this.main, ...[...this.parts.values()].map((p) => p.store)];
  }

  /** The main log's own aggregation (the CLI and `runFromDecisionLog` drive it); workers' go by `catchUp`. */
  apply(
    records: readonly DecisionRecord[],
    checkpoint: string | undefined,
    positions?: readonly string[],
  ): Promise<ApplyResult> {
    return this.main.apply(records, checkpoint, positions);
  }

  checkpoint(): Promise<string | undefined> {
    return this.main.checkpoint();
  }

  async months(months: readonly string[]): Promise<MonthAggregate[]> {
    if (this.parts.size === 0) return this.main.months(months);
    const each = await Promise.all(this.stores().map((s) => s.months(months)));
    return months.map((month, i) =>
      each.reduce((into, part) => mergeMonth(into, part[i] as MonthAggregate), emptyMonth(month)),
    );
  }

  async allMonths(): Promise<string[]> {
    const all = await Promise.all(this.stores().map((s) => s.allMonths()));
    return [...new Set(all.flat())].sort();
  }

  /**
   * Counts add up over the logs; the meetings an order's hosts were checked in are a union (a meeting
   * checked in two workers is one meeting), read from the months' sets when any log has some.
   */
  async orderTotals(orderId: string): Promise<OrderTotals> {
    if (this.parts.size === 0) return this.main.orderTotals(orderId);
    const totals = await Promise.all(this.stores().map((s) => s.orderTotals(orderId)));
    const hosted = totals.some(
      (t) => t.meetingsHostedInside !== undefined || t.meetingsHostedOutside !== undefined,
    );
    if (!hosted) {
      return sumOrderTotals(totals.map((t) => ({ ...t, hostedInside: [], hostedOutside: [] })));
    }
    const buckets = [];
    for (const store of this.stores()) {
      for (const month of await store.months(await store.allMonths())) {
        const bucket = month.byOrder[orderId];
        if (bucket)
          buckets.push({
            ...bucket,
            hostedInside: bucket.hostedInside ?? [],
            hostedOutside: bucket.hostedOutside ?? [],
          });
      }
    }
    return sumOrderTotals(buckets);
  }

  async freeze(months: readonly string[]): Promise<void> {
    for (const store of this.stores()) await store.freeze(months);
  }

  async frozenMonths(): Promise<string[]> {
    const all = await Promise.all(this.stores().map((s) => s.frozenMonths()));
    return [...new Set(all.flat())].sort();
  }

  async counted(month: string): Promise<{ records: string[]; late: string[] }> {
    const all = await Promise.all(this.stores().map((s) => s.counted(month)));
    return {
      records: all.flatMap((c) => c.records).sort(),
      late: all.flatMap((c) => c.late).sort(),
    };
  }

  async close(): Promise<void> {
    await this.tail;
    const results = await Promise.allSettled(this.stores().map((s) => s.close()));
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }
}
