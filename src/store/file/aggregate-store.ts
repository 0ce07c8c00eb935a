/**
 * `FileAggregateStore`: the report's aggregates in a directory of their own (the CLI and the embedded
 * server use `<dataDir>/report/`). It owns this layout:
 *
 *   <dir>/LOCK               pid of the process that has the directory open (one writer: see `open`)
 *   <dir>/months/2023-07.json  one month: its MonthAggregate and the decisionIds counted in it (I5)
 *   <dir>/checkpoint.json    where the aggregation stopped in its source (a decision-log cursor)
 *   <dir>/frozen.json        the frozen months (I9: their period is being or has been finalized)
 *   <dir>/late.json          late records (of a frozen month, counted after the freeze): per month that
 *                            took them, their counts and decisionIds; one file, so ids and counts agree
 *
 * Every file is replaced whole: written to a temporary file, fdatasynced, renamed over the old one, and the
 * directory synced. A reader therefore sees a month before or after a batch, never a torn one, and a
 * month's aggregate and its seen ids always change together (one file), so they cannot disagree.
 *
 * Crash safety. `apply` writes every touched month first, syncs the months directory, and only then writes
 * the checkpoint. A crash (kill -9, power loss) anywhere in between leaves some or all of the batch's
 * months ahead of the checkpoint, never behind it. `late.json` is written after the months and before
 * the checkpoint, by the same rule. The next run reads again from the old checkpoint: the
 * records of months already written are in those months' seen ids and are skipped as duplicates, the
 * others are counted for the first time. So the numbers after the re-run equal those of a run that never
 * crashed. The reverse order (checkpoint first) would lose the batch on a crash: its records would lie
 * before the checkpoint and never be read again.
 *
 * Scale. A month is held in memory and on disk whole, seen ids included: exact deduplication needs every
 * id (a prefix or a hash could make two records one). A UUID costs about 40 bytes in the file and about
 * 100 bytes in memory as a Set member, plus the meeting and participant sets. A few million decisions per
 * month is comfortable; tens of millions are not (one month's JSON must also stay below V8's largest
 * string, about 512 MiB, which caps it near 13 million ids). And every `apply` rewrites each month it
 * touches, so catching up on a month of N records in batches of B writes about N²/2B ids: measured here,
 * one month of 1 million decisions in batches of 10 000 took 23 s, a 39 MB file and 500 MB of memory.
 * Beyond a few million a month use Redis, or split the seen ids into an append-only file per month.
 * At most `maxCachedMonths` months stay in memory between batches; records come in time order, so an
 * evicted month is rarely read again. `orderTotals` reads every month once, then keeps only each month's
 * per-order counts (two numbers per order and month) and refreshes those of the months a batch changes.
 */

import { mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import { readFileIfExists, syncDirectory, writeFileAtomic } from "../../platform/node/atomic-file.js";
import { acquirePidLock, releasePidLock } from "../../platform/node/pid-lock.js";
import { accumulate, accumulateLate } from "../../report/accumulate.js";
import {
  type AggregateStore,
  type ApplyResult,
  emptyMonth,
  lateMonth,
  noTotals,
} from "../../report/aggregate-store.js";
import type { LateCounts, MonthAggregate, OrderTotals } from "../../report/model.js";
import { monthOf } from "../../report/periods.js";

export interface FileAggregateStoreOptions {
  /** Months kept in memory between batches. Default 3. */
  maxCachedMonths?: number;
}

/** What a month file holds. */
interface MonthFile {
  version: 1;
  aggregate: MonthAggregate;
  /** decisionIds counted in this month, in the order they were counted. */
  seen: string[];
}

interface CheckpointFile {
  version: 1;
  checkpoint: string | null;
}

interface FrozenFile {
  version: 1;
  months: string[];
}

interface LateFile {
  version: 1;
  months: Record<string, { counts: LateCounts; ids: string[] }>;
}

interface LoadedMonth {
  aggregate: MonthAggregate;
  seen: Set<string>;
}

const MONTHS_DIR = "months";
const CHECKPOINT_FILE = "checkpoint.json";
const FROZEN_FILE = "frozen.json";
const LATE_FILE = "late.json";
const LOCK_FILE = "LOCK";
const MONTH_FILE = /^(\d{4}-(?:0[1-9]|1[0-2]))\.json$/;

/** Report directories open in this process (resolved paths). */
const openDirs = new Set<string>();

export class FileAggregateStore implements AggregateStore {
  private readonly cache = new Map<string, LoadedMonth>();
  private current: string | undefined;
  /**
   * Each month's per-order counts, for `orderTotals`: built on its first call, refreshed by `apply` for
   * the months it writes; undefined until then, and again after a failed batch.
   */
  private orderCounts: Map<string, Map<string, OrderTotals>> | undefined;
  /** Serialises `apply` and `orderTotals`: two batches interleaving their month writes could lose one. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Late records by the month that took them; small (only records that came after a freeze). */
  private readonly lateIndex = new Map<string, string>();

  private constructor(
    private readonly dir: string,
    checkpoint: string | undefined,
    private readonly maxCachedMonths: number,
    private readonly frozen: Set<string>,
    private late: LateFile,
  ) {
    this.current = checkpoint;
    for (const [month, { ids }] of Object.entries(late.months)) {
      for (const id of ids) this.lateIndex.set(id, month);
    }
  }

  /**
   * Opens (creating) a report directory. One process at a time: two writers would each rewrite a month
   * from what they read, and the one renaming last would drop the other's records while the checkpoint
   * had moved past them.
   */
  static async open(dir: string, options: FileAggregateStoreOptions = {}): Promise<FileAggregateStore> {
    const maxCachedMonths = options.maxCachedMonths ?? 3;
    if (!Number.isSafeInteger(maxCachedMonths) || maxCachedMonths < 1) {
      throw new RangeError(`maxCachedMonths must be a positive integer, got ${maxCachedMonths}`);
    }
    const root = resolve(dir);
    if (openDirs.has(root)) throw new StoreUnavailableError(`${root} is already open in this process`);
    openDirs.add(root);
    let locked = false;
    try {
      await mkdir(join(root, MONTHS_DIR), { recursive: true });
      await acquireLock(root);
      locked = true;
      await syncDirectory(root);
      const frozen = await readSmallFile<FrozenFile>(root, FROZEN_FILE, (f) => Array.isArray(f.months));
      const late = await readSmallFile<LateFile>(
        root,
        LATE_FILE,
        (f) => typeof f.months === "object" && f.months !== null,
      );
      return new FileAggregateStore(
        root,
        await readCheckpoint(root),
        maxCachedMonths,
        new Set(frozen?.months ?? []),
        late ?? { version: 1, months: {} },
      );
    } catch (err) {
      if (locked) await releaseLock(root);
      openDirs.delete(root);
      throw err;
    }
  }

  apply(records: readonly DecisionRecord[], checkpoint: string | undefined): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the aggregate store is closed"));
    const run = this.tail.then(() => this.applyNow(records, checkpoint));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async checkpoint(): Promise<string | undefined> {
    await this.tail;
    return this.current;
  }

  async months(months: readonly string[]): Promise<MonthAggregate[]> {
    await this.tail;
    const out: MonthAggregate[] = [];
    for (const month of months) {
      const loaded = this.cache.get(month) ?? (await this.read(month));
      // A copy: the caller may merge into it without touching what the next batch adds to.
      const aggregate = loaded ? structuredClone(loaded.aggregate) : emptyMonth(month);
      const late = this.late.months[month];
      if (late !== undefined) aggregate.late = { ...late.counts };
      out.push(aggregate);
    }
    return out;
  }

  async allMonths(): Promise<string[]> {
    await this.tail;
    return [...new Set([...(await this.listMonths()), ...Object.keys(this.late.months)])].sort();
  }

  freeze(months: readonly string[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the aggregate store is closed"));
    const run = this.tail.then(async () => {
      const next = new Set([...this.frozen, ...months]);
      if (next.size === this.frozen.size) return;
      const file: FrozenFile = { version: 1, months: [...next].sort() };
      await writeFileAtomic(join(this.dir, FROZEN_FILE), `${JSON.stringify(file)}\n`);
      for (const m of months) this.frozen.add(m);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  async frozenMonths(): Promise<string[]> {
    await this.tail;
    return [...this.frozen].sort();
  }

  async counted(month: string): Promise<{ records: string[]; late: string[] }> {
    await this.tail;
    const loaded = this.cache.get(month) ?? (await this.read(month));
    return {
      records: loaded ? [...loaded.seen].sort() : [],
      late: [...(this.late.months[month]?.ids ?? [])].sort(),
    };
  }

  orderTotals(orderId: string): Promise<OrderTotals> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the aggregate store is closed"));
    const run = this.tail.then(() => this.orderTotalsNow(orderId));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    this.cache.clear();
    await releaseLock(this.dir);
    openDirs.delete(this.dir);
  }

  private async orderTotalsNow(orderId: string): Promise<OrderTotals> {
    if (this.orderCounts === undefined) {
      const index = new Map<string, Map<string, OrderTotals>>();
      for (const month of await this.listMonths()) {
        const loaded = this.cache.get(month) ?? (await this.read(month));
        if (loaded) index.set(month, orderCountsOf(loaded.aggregate));
      }
      this.orderCounts = index;
    }
    const totals = noTotals();
    for (const counts of this.orderCounts.values()) {
      const c = counts.get(orderId);
      if (c === undefined) continue;
      totals.deniedJoins += c.deniedJoins;
      totals.shadowMatches += c.shadowMatches;
    }
    return totals;
  }

  private async listMonths(): Promise<string[]> {
    const names = await readdir(join(this.dir, MONTHS_DIR));
    return names
      .map((name) => MONTH_FILE.exec(name)?.[1])
      .filter((m): m is string => m !== undefined)
      .sort();
  }

  private async applyNow(
    records: readonly DecisionRecord[],
    checkpoint: string | undefined,
  ): Promise<ApplyResult> {
    const byMonth = new Map<string, DecisionRecord[]>();
    for (const record of records) {
      const t = Date.parse(record.at);
      // The decision log only holds validated records: a bad time is damage, and a record cannot be
      // counted without its month. Refused loudly rather than skipped (I5: nothing lost).
      if (Number.isNaN(t))
        throw new RangeError(`decision ${record.decisionId} has no valid time: ${record.at}`);
      const month = monthOf(t);
      const list = byMonth.get(month);
      if (list) list.push(record);
      else byMonth.set(month, [record]);
    }

    let applied = 0;
    let duplicates = 0;
    const changed: string[] = [];
    // Late records (I9) go to a copy of late.json, swapped in once written.
    let late: LateFile | undefined;
    const lateAdded: [string, string][] = [];
    try {
      for (const [month, list] of byMonth) {
        if (!this.frozen.has(month)) continue;
        // Counted before the freeze, or late already: a duplicate. Else late, in the month that takes it.
        const own = this.cache.get(month) ?? (await this.read(month));
        for (const record of list) {
          if (own?.seen.has(record.decisionId) || this.lateIndex.has(record.decisionId)) {
            duplicates++;
            continue;
          }
          late ??= structuredClone(this.late);
          const target = lateMonth(month, this.frozen);
          late.months[target] ??= { counts: { records: 0, deniedJoins: 0, shadowMatches: 0 }, ids: [] };
          const into = late.months[target];
          const effect = emptyMonth(target);
          accumulateLate(effect, record);
          const counts = effect.late as LateCounts;
          into.counts.records += counts.records;
          into.counts.deniedJoins += counts.deniedJoins;
          into.counts.shadowMatches += counts.shadowMatches;
          into.ids.push(record.decisionId);
          this.lateIndex.set(record.decisionId, target);
          lateAdded.push([record.decisionId, target]);
          applied++;
        }
      }
      for (const [month, list] of byMonth) {
        if (this.frozen.has(month)) continue;
        const loaded = this.cache.get(month) ?? (await this.read(month)) ?? fresh(month);
        this.cache.delete(month);
        this.cache.set(month, loaded); // most recently used last
        let added = 0;
        for (const record of list) {
          if (loaded.seen.has(record.decisionId)) {
            duplicates++;
            continue;
          }
          loaded.seen.add(record.decisionId);
          accumulate(loaded.aggregate, record);
          added++;
        }
        applied += added;
        if (added > 0) changed.push(month);
      }
      // Months first, made durable (their names too), then the checkpoint: see the header.
      for (const month of changed) await this.write(month, this.cache.get(month) as LoadedMonth);
      if (changed.length > 0) await syncDirectory(join(this.dir, MONTHS_DIR));
      if (late !== undefined) {
        await writeFileAtomic(join(this.dir, LATE_FILE), `${JSON.stringify(late)}\n`);
        this.late = late;
      }
      if (checkpoint !== undefined && checkpoint !== this.current) {
        const file: CheckpointFile = { version: 1, checkpoint };
        await writeFileAtomic(join(this.dir, CHECKPOINT_FILE), `${JSON.stringify(file)}\n`);
        this.current = checkpoint;
      }
      for (const month of changed) {
        this.orderCounts?.set(month, orderCountsOf((this.cache.get(month) as LoadedMonth).aggregate));
      }
    } catch (err) {
      // Memory may now be ahead of the disk: forget the months touched, so the next batch reads the files.
      for (const month of byMonth.keys()) this.cache.delete(month);
      this.orderCounts = undefined;
      // Late ids taken in memory but not written: forget them, as late.json does not hold them.
      if (this.late !== late) for (const [id] of lateAdded) this.lateIndex.delete(id);
      throw err;
    }
    this.evict(byMonth);
    return { applied, duplicates };
  }

  private evict(keep: Map<string, unknown>): void {
    for (const month of this.cache.keys()) {
      if (this.cache.size <= this.maxCachedMonths) break;
      if (!keep.has(month)) this.cache.delete(month);
    }
  }

  private monthPath(month: string): string {
    return join(this.dir, MONTHS_DIR, `${month}.json`);
  }

  private async read(month: string): Promise<LoadedMonth | undefined> {
    const text = await readFileIfExists(this.monthPath(month));
    if (text === undefined) return undefined;
    // Written by rename, so never torn: a file that does not parse was edited or damaged. Starting the
    // month afresh would silently change published numbers, so it stops the run instead.
    let file: MonthFile;
    try {
      file = JSON.parse(text) as MonthFile;
      if (file.version !== 1 || file.aggregate?.month !== month || !Array.isArray(file.seen)) {
        throw new Error("not a month file of this version");
      }
    } catch (err) {
      throw new StoreUnavailableError(
        `report aggregate ${this.monthPath(month)} is unreadable (${(err as Error).message}); restore it or ` +
          "remove the report directory to aggregate again from the decision log",
        { cause: err },
      );
    }
    const loaded = { aggregate: file.aggregate, seen: new Set(file.seen) };
    return loaded;
  }

  private async write(month: string, loaded: LoadedMonth): Promise<void> {
    const file: MonthFile = { version: 1, aggregate: loaded.aggregate, seen: [...loaded.seen] };
    await writeFileAtomic(this.monthPath(month), `${JSON.stringify(file)}\n`, { syncDirectory: false });
  }
}

function orderCountsOf(aggregate: MonthAggregate): Map<string, OrderTotals> {
  return new Map(
    Object.entries(aggregate.byOrder).map(([id, b]) => [
      id,
      { deniedJoins: b.deniedJoins, shadowMatches: b.shadowMatches },
    ]),
  );
}

function fresh(month: string): LoadedMonth {
  return { aggregate: emptyMonth(month), seen: new Set() };
}

async function readCheckpoint(root: string): Promise<string | undefined> {
  const path = join(root, CHECKPOINT_FILE);
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  try {
    const file = JSON.parse(text) as CheckpointFile;
    if (file.version !== 1 || (file.checkpoint !== null && typeof file.checkpoint !== "string")) {
      throw new Error("not a checkpoint of this version");
    }
    return file.checkpoint ?? undefined;
  } catch (err) {
    // Unlike a month, a lost checkpoint costs only time: reading from the start again is deduplicated.
    // Still refused, so that a damaged directory is looked at rather than silently re-read.
    throw new StoreUnavailableError(`report checkpoint ${path} is unreadable (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** A small JSON file of this directory (frozen.json, late.json), or undefined when there is none. */
async function readSmallFile<T extends { version: number }>(
  root: string,
  name: string,
  shaped: (file: T) => boolean,
): Promise<T | undefined> {
  const path = join(root, name);
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  try {
    const file = JSON.parse(text) as T;
    if (file.version !== 1 || !shaped(file)) throw new Error("not a file of this version");
    return file;
  } catch (err) {
    // Like a month: these decide where records count, so a damaged one stops the run.
    throw new StoreUnavailableError(`report file ${path} is unreadable (${(err as Error).message})`, {
      cause: err,
    });
  }
}

const acquireLock = (root: string) =>
  acquirePidLock(
    join(root, LOCK_FILE),
    (holder) => new StoreUnavailableError(`${root} is in use by process ${holder}: one report run at a time`),
  );
const releaseLock = (root: string) => releasePidLock(join(root, LOCK_FILE));
