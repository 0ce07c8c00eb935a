/**
 * `FileAggregateStore`: the report's aggregates in a directory of their own (the CLI and the embedded
 * server use `<dataDir>/report/`), counted from the embedded decision log. It owns this layout:
 *
 *   <dir>/LOCK               pid of the process that has the directory open (one writer: see `open`)
 *   <dir>/months/2023-07.json  one month's counts (version 3): records, each bucket's denied joins and
 *                            shadow matches, `through`, the decision-log position of the last record it
 *                            counts (the cursor just after that record), and `setsBytes`, how much of
 *                            its sets file it counts
 *   <dir>/months/2023-07.sets  the month's distinct meetings and participants per bucket, appended at
 *                            each batch with the members it added (month-sets.ts); bytes past
 *                            `setsBytes` are not part of the month
 *   <dir>/checkpoint.json    where the aggregation stopped in its source (a decision-log cursor)
 *   <dir>/frozen.json        the frozen months (I9: their period is being or has been finalized)
 *   <dir>/late.json          late records (of a frozen month, counted after the freeze): per month that
 *                            took them, their counts and decisionIds; one file, so ids and counts agree
 *
 * Every file but a sets file is replaced whole (written to a temporary file, fdatasynced, renamed, the
 * directory synced). A sets file is only appended to: a batch first cuts it back to the month's
 * `setsBytes` (dropping what a crash left after the last counted append, torn or whole), appends its new
 * members and fdatasyncs them, and only then renames the month's counts file, which names the new
 * length. So a month's counts, its `through` and the sets they count always change together, at that
 * rename.
 *
 * Exactly once (I5) by position, not by id. The log is read in order and positions (segment, byte offset)
 * only grow, so a month that counts every record of it up to `through` has counted a record at or before
 * `through` already: it is a duplicate. `apply` writes the months a batch touched first, then `late.json`,
 * then the checkpoint; a crash in between leaves months ahead of the checkpoint, never behind, and the
 * re-run from the old checkpoint skips in each month exactly what that month's file already counts.
 * Memory and month files hold counts and the distinct meetings and participants the report needs, never
 * one entry per record. Late records (few) are still known by id, in `late.json`. The decision log holds
 * each decisionId once (edge records included: see file/ingest-index.ts), so counting positions is
 * counting decisions. Month files of older versions are read as they are: version 2 holds its sets in
 * the month file (they go to a sets file at the month's next write), version 1 also its `seen` ids,
 * read-only: a record among them is a duplicate too, so an upgrade in the middle of a catch-up counts
 * nothing twice.
 *
 * `counted(month)`, what a finalization archives, is read back from the decision log: the month's records
 * between the first and the last position it counted, page by page (plus a version-1 month's seen ids).
 *
 * Scale. Memory and disk follow distinct meetings and participants, not records, and a batch writes what
 * it adds: each month it touches gets its new members appended and its small counts file replaced. In
 * memory a month's sets are exact and compact (member-set.ts: an ip hash as its 32 bytes, outside V8's
 * heap), so the month being counted costs a few MB even at tens of thousands of participants. Between
 * batches only the months the last one touched stay in memory (or `maxCachedMonths`, if more); records
 * come in time order, so an evicted month is rarely read again. `orderTotals` reads every month once,
 * then keeps only each month's per-order counts and refreshes those of the months a batch changes.
 */

import { Buffer } from "node:buffer";
import { mkdir, open, readdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { InvalidCursorError, StoreUnavailableError } from "../../kernel/errors.js";
import { readFileIfExists, syncDirectory, writeFileAtomic } from "../../platform/node/atomic-file.js";
import { acquirePidLock, releasePidLock } from "../../platform/node/pid-lock.js";
import { accumulate, accumulateLate } from "../../report/accumulate.js";
import {
  type AggregateStore,
  type ApplyResult,
  emptyMonth,
  lateMonth,
  sumOrderTotals,
} from "../../report/aggregate-store.js";
import type { LateCounts, MonthAggregate, MonthBucket, OrderTotals } from "../../report/model.js";
import { monthOf } from "../../report/periods.js";
import type { DecisionLog } from "../interface.js";
import { MemberSet } from "./member-set.js";
import { type BucketKind, decodeSets, encodeUnsaved } from "./month-sets.js";
import { decodeCursor, type Position } from "./segments.js";

export interface FileAggregateStoreOptions {
  /**
   * Months kept in memory between batches, besides those the last batch touched. Default 1: records come
   * in time order, so a batch rarely goes back to a month, and reading one back costs one small file.
   */
  maxCachedMonths?: number;
  /**
   * The decision log the aggregates are counted from: `counted` reads a month's records back from it.
   * Without it `counted` can answer only for months that count nothing, or version-1 months.
   */
  log?: Pick<DecisionLog, "page">;
}

/** What a month file holds. */
interface MonthFile {
  /**
   * 3: counts only, the distinct sets in the month's sets file (`setsBytes` of it); 2: counted by
   * position (`through`), the sets in `aggregate`; 1: written before positions, with `seen`.
   */
  version: 1 | 2 | 3;
  /** Version 3: each bucket's counts without its sets (`BucketCounts`). */
  aggregate: MonthAggregate | MonthCounts;
  /** Version 3: how many bytes of `<month>.sets` this month counts (see month-sets.ts). */
  setsBytes?: number;
  /** Where the month's first counted record starts in the log (the cursor before it); null: unknown. */
  from?: string | null;
  /** The log position just after the last record counted in this month; null: none counted by position. */
  through?: string | null;
  /** Version 1's decisionIds counted in this month; kept as they were, never added to. */
  seen?: string[];
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

/** A month's aggregate as version 3 writes it: the buckets' counts, their sets apart. */
interface MonthCounts {
  month: string;
  records: number;
  byJurisdiction: Record<string, BucketCounts>;
  byOrder: Record<string, BucketCounts>;
  late?: LateCounts;
}

type BucketCounts = Pick<MonthBucket, "deniedJoins" | "shadowMatches" | "removedParticipants">;

/**
 * A bucket in memory: its counts, and its meetings and participants (and, per order, the meetings whose
 * host was checked inside or outside its blocks) as compact exact sets.
 */
interface Bucket extends BucketCounts {
  removedParticipants: number;
  meetings: MemberSet;
  participants: MemberSet;
  hostedInside: MemberSet;
  hostedOutside: MemberSet;
}

/** A bucket's counts as a file holds them: `removedParticipants` only when there are any. */
function countsFor(b: Bucket): BucketCounts {
  return {
    deniedJoins: b.deniedJoins,
    shadowMatches: b.shadowMatches,
    ...(b.removedParticipants > 0 ? { removedParticipants: b.removedParticipants } : {}),
  };
}

interface LoadedMonth {
  month: string;
  records: number;
  /** In the order the buckets were first counted, as `accumulate` adds them to an aggregate. */
  byJurisdiction: Map<string, Bucket>;
  byOrder: Map<string, Bucket>;
  /** Only in aggregates that an older version wrote with it; kept as it was. */
  late: LateCounts | undefined;
  /** Bytes of the month's sets file that it counts; its sets know which members are stored there. */
  setsBytes: number;
  from: string | undefined;
  through: string | undefined;
  /** Decoded `through`, for comparisons. */
  throughPos: Position | undefined;
  /** A version-1 month's ids (see the header); undefined for months written since. */
  legacy: Set<string> | undefined;
}

const MONTHS_DIR = "months";
const CHECKPOINT_FILE = "checkpoint.json";
const FROZEN_FILE = "frozen.json";
const LATE_FILE = "late.json";
const LOCK_FILE = "LOCK";
const MONTH_FILE = /^(\d{4}-(?:0[1-9]|1[0-2]))\.json$/;
const KINDS: readonly BucketKind[] = ["byJurisdiction", "byOrder"];
const COUNTED_PAGE = 5000;

/** Report directories open in this process (resolved paths). */
const openDirs = new Set<string>();

export class FileAggregateStore implements AggregateStore {
  private readonly cache = new Map<string, LoadedMonth>();
  private current: string | undefined;
  /**
   * Each month's per-order counts, for `orderTotals`: built on its first call, refreshed by `apply` for
   * the months it writes; undefined until then, and again after a failed batch.
   */
  private orderCounts: Map<string, Map<string, OrderMonth>> | undefined;
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
    private readonly log: Pick<DecisionLog, "page"> | undefined,
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
    const maxCachedMonths = options.maxCachedMonths ?? 1;
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
        options.log,
      );
    } catch (err) {
      if (locked) await releaseLock(root);
      openDirs.delete(root);
      throw err;
    }
  }

  /**
   * Needs `positions` (see the interface): each record's decision-log cursor, the one just after it.
   * A record at or before its month's `through` is a duplicate; so is one of a frozen month counted late
   * already (by decisionId).
   */
  apply(
    records: readonly DecisionRecord[],
    checkpoint: string | undefined,
    positions?: readonly string[],
  ): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the aggregate store is closed"));
    const run = this.tail.then(() => this.applyNow(records, checkpoint, positions));
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
      // Built afresh: the caller may merge into it without touching what the next batch adds to.
      const aggregate = loaded ? aggregateOf(loaded) : emptyMonth(month);
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

  /**
   * The month's records read back from the decision log: those of the month from `from` up to `through`
   * (both from the month file), page by page, keeping only their ids; plus a version-1 month's seen ids.
   */
  async counted(month: string): Promise<{ records: string[]; late: string[] }> {
    await this.tail;
    const loaded = this.cache.get(month) ?? (await this.read(month));
    const ids = new Set(loaded?.legacy);
    if (loaded?.throughPos !== undefined) {
      if (this.log === undefined) {
        throw new StoreUnavailableError("the aggregate store was opened without its decision log");
      }
      const through = loaded.throughPos;
      let after = loaded.from;
      scan: for (;;) {
        let page: Awaited<ReturnType<DecisionLog["page"]>>;
        try {
          page = await this.log.page({
            ...(after === undefined ? {} : { after }),
            limit: COUNTED_PAGE,
            positions: true,
          });
        } catch (err) {
          // `from` lies in segments pruned since: what is kept is read from its start.
          if (!(err instanceof InvalidCursorError) || after === undefined) throw err;
          after = undefined;
          continue;
        }
        if (page.records.length === 0) break;
        const ends = endsOf(page.records, page.positions);
        for (const [i, record] of page.records.entries()) {
          if (compare(ends[i] as Position, through) > 0) break scan;
          if (monthOf(Date.parse(record.at)) === month && !this.lateIndex.has(record.decisionId)) {
            ids.add(record.decisionId);
          }
        }
        if (page.next === null || page.next === after) break;
        after = page.next;
      }
    }
    return {
      records: [...ids].sort(),
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
      const index = new Map<string, Map<string, OrderMonth>>();
      for (const month of await this.listMonths()) {
        const loaded = this.cache.get(month) ?? (await this.read(month));
        if (loaded) index.set(month, orderCountsOf(loaded));
      }
      this.orderCounts = index;
    }
    const parts: OrderMonth[] = [];
    for (const counts of this.orderCounts.values()) {
      const c = counts.get(orderId);
      if (c !== undefined) parts.push(c);
    }
    return sumOrderTotals(parts);
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
    positions: readonly string[] | undefined,
  ): Promise<ApplyResult> {
    if (positions === undefined || positions.length !== records.length) {
      throw new RangeError("FileAggregateStore.apply needs the decision-log position of every record");
    }
    const byMonth = new Map<string, number[]>();
    const decoded: Position[] = [];
    for (const [i, record] of records.entries()) {
      const pos = decodeCursor(positions[i] as string);
      if (pos === undefined) throw new RangeError(`not a decision-log position: ${positions[i]}`);
      decoded.push(pos);
      const t = Date.parse(record.at);
      // The decision log only holds validated records: a bad time is damage, and a record cannot be
      // counted without its month. Refused loudly rather than skipped (I5: nothing lost).
      if (Number.isNaN(t))
        throw new RangeError(`decision ${record.decisionId} has no valid time: ${record.at}`);
      const month = monthOf(t);
      const list = byMonth.get(month);
      if (list) list.push(i);
      else byMonth.set(month, [i]);
    }
    // Where this batch's first record starts: the checkpoint it was read after (a cursor of the log).
    const batchStart = this.current !== undefined && decodeCursor(this.current) ? this.current : undefined;
    const startOf = (i: number) => (i === 0 ? batchStart : positions[i - 1]);

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
        for (const i of list) {
          const record = records[i] as DecisionRecord;
          if (
            (own !== undefined && countedIn(own, record, decoded[i] as Position)) ||
            this.lateIndex.has(record.decisionId)
          ) {
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
        for (const i of list) {
          const record = records[i] as DecisionRecord;
          const pos = decoded[i] as Position;
          if (countedIn(loaded, record, pos)) {
            duplicates++;
            continue;
          }
          addRecord(loaded, record);
          // The month's first record counted by position: where reading it back begins (`counted`).
          if (loaded.through === undefined && loaded.legacy === undefined) loaded.from = startOf(i);
          loaded.through = positions[i];
          loaded.throughPos = pos;
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
        this.orderCounts?.set(month, orderCountsOf(this.cache.get(month) as LoadedMonth));
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

  private setsPath(month: string): string {
    return join(this.dir, MONTHS_DIR, `${month}.sets`);
  }

  private async read(month: string): Promise<LoadedMonth | undefined> {
    const path = this.monthPath(month);
    const text = await readFileIfExists(path);
    if (text === undefined) return undefined;
    // Written by rename, so never torn: a file that does not parse was edited or damaged. Starting the
    // month afresh would silently change published numbers, so it stops the run instead. So does a
    // sets file shorter than what the month counts of it (its bytes are synced before the month's).
    try {
      const file = JSON.parse(text) as MonthFile;
      if (file.aggregate?.month !== month) throw new Error("not this month's file");
      const through = file.through ?? undefined;
      const throughPos = through === undefined ? undefined : decodeCursor(through);
      const setsBytes = file.setsBytes ?? 0;
      if (
        !(file.version === 1 && Array.isArray(file.seen)) &&
        !(file.version === 2 && (through === undefined || throughPos !== undefined)) &&
        !(
          file.version === 3 &&
          (through === undefined || throughPos !== undefined) &&
          Number.isSafeInteger(setsBytes) &&
          setsBytes >= 0
        )
      ) {
        throw new Error("not a month file of a known version");
      }
      const loaded = fresh(month);
      loaded.records = file.aggregate.records;
      loaded.late = file.aggregate.late;
      loaded.from = file.from ?? undefined;
      loaded.through = through;
      loaded.throughPos = throughPos;
      loaded.legacy = file.seen === undefined ? undefined : new Set(file.seen);
      for (const kind of KINDS) {
        for (const [key, b] of Object.entries(file.aggregate[kind] as Record<string, Partial<MonthBucket>>)) {
          const bucket = bucketOf(loaded[kind], key);
          bucket.deniedJoins = b.deniedJoins ?? 0;
          bucket.shadowMatches = b.shadowMatches ?? 0;
          bucket.removedParticipants = b.removedParticipants ?? 0;
          // Versions 1 and 2 hold the sets here: they go to the sets file at the month's next write.
          for (const m of b.meetings ?? []) bucket.meetings.add(m);
          for (const p of b.participants ?? []) bucket.participants.add(p);
        }
      }
      if (file.version === 3 && setsBytes > 0) {
        const bytes = await readPrefix(this.setsPath(month), setsBytes);
        decodeSets(bytes, (kind, key) => loaded[kind].get(key));
        markSaved(loaded);
        loaded.setsBytes = setsBytes;
      }
      return loaded;
    } catch (err) {
      throw new StoreUnavailableError(
        `report aggregate ${path} is unreadable (${(err as Error).message}); restore it or ` +
          "remove the report directory to aggregate again from the decision log",
        { cause: err },
      );
    }
  }

  /**
   * Appends the members the month has not stored yet to its sets file (after cutting off any bytes past
   * what the month counts of it), syncs them, then replaces the month's counts file, which names the new
   * length: the counts, `through` and the sets they count change together, at the rename.
   */
  private async write(month: string, loaded: LoadedMonth): Promise<void> {
    const added = encodeUnsaved(loaded);
    let setsBytes = loaded.setsBytes;
    if (added.length > 0) {
      await appendSets(this.setsPath(month), setsBytes, added);
      setsBytes += added.length;
    }
    const file: MonthFile = {
      version: 3,
      aggregate: countsOf(loaded),
      from: loaded.from ?? null,
      through: loaded.through ?? null,
      setsBytes,
      ...(loaded.legacy === undefined ? {} : { seen: [...loaded.legacy] }),
    };
    await writeFileAtomic(this.monthPath(month), `${JSON.stringify(file)}\n`, { syncDirectory: false });
    loaded.setsBytes = setsBytes;
    markSaved(loaded);
  }
}

/**
 * Adds one record to a month in memory. What it adds is what `accumulate` adds to an empty aggregate
 * (the counting rule is written once, in report/accumulate.ts), merged into the month's buckets.
 */
function addRecord(loaded: LoadedMonth, record: DecisionRecord): void {
  const effect = emptyMonth(loaded.month);
  accumulate(effect, record);
  loaded.records += effect.records;
  for (const kind of KINDS) {
    for (const [key, b] of Object.entries(effect[kind])) {
      const into = bucketOf(loaded[kind], key);
      into.deniedJoins += b.deniedJoins;
      into.shadowMatches += b.shadowMatches;
      into.removedParticipants += b.removedParticipants ?? 0;
      for (const m of b.meetings) into.meetings.add(m);
      for (const p of b.participants) into.participants.add(p);
      for (const m of b.hostedInside ?? []) into.hostedInside.add(m);
      for (const m of b.hostedOutside ?? []) into.hostedOutside.add(m);
    }
  }
}

function bucketOf(buckets: Map<string, Bucket>, key: string): Bucket {
  let found = buckets.get(key);
  if (found === undefined) {
    found = {
      deniedJoins: 0,
      shadowMatches: 0,
      removedParticipants: 0,
      meetings: new MemberSet(),
      participants: new MemberSet(),
      hostedInside: new MemberSet(),
      hostedOutside: new MemberSet(),
    };
    buckets.set(key, found);
  }
  return found;
}

/** Every member of the month's sets is in its sets file now. */
function markSaved(loaded: LoadedMonth): void {
  for (const kind of KINDS) {
    for (const b of loaded[kind].values()) {
      b.meetings.markSaved();
      b.participants.markSaved();
      b.hostedInside.markSaved();
      b.hostedOutside.markSaved();
    }
  }
}

/** The month as the report reads it: every bucket with its meetings and participants. */
function aggregateOf(loaded: LoadedMonth): MonthAggregate {
  const buckets = (kind: BucketKind) =>
    Object.fromEntries(
      [...loaded[kind]].map(([key, b]): [string, MonthBucket] => [
        key,
        {
          ...countsFor(b),
          meetings: b.meetings.values(),
          participants: b.participants.values(),
          ...(b.hostedInside.size > 0 ? { hostedInside: b.hostedInside.values() } : {}),
          ...(b.hostedOutside.size > 0 ? { hostedOutside: b.hostedOutside.values() } : {}),
        },
      ]),
    );
  const aggregate: MonthAggregate = {
    month: loaded.month,
    records: loaded.records,
    byJurisdiction: buckets("byJurisdiction"),
    byOrder: buckets("byOrder"),
  };
  if (loaded.late !== undefined) aggregate.late = { ...loaded.late };
  return aggregate;
}

/** The month's counts, as its file holds them (version 3). */
function countsOf(loaded: LoadedMonth): MonthCounts {
  const buckets = (kind: BucketKind) =>
    Object.fromEntries([...loaded[kind]].map(([key, b]): [string, BucketCounts] => [key, countsFor(b)]));
  return {
    month: loaded.month,
    records: loaded.records,
    byJurisdiction: buckets("byJurisdiction"),
    byOrder: buckets("byOrder"),
    ...(loaded.late === undefined ? {} : { late: loaded.late }),
  };
}

/** The first `length` bytes of a file; throws if it has fewer. */
async function readPrefix(path: string, length: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const bytes = Buffer.alloc(length);
    let at = 0;
    while (at < length) {
      const { bytesRead } = await fh.read(bytes, at, length - at, at);
      if (bytesRead === 0) throw new Error(`${path} holds ${at} bytes, the month counts ${length}`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await fh.close();
  }
}

/**
 * Appends `bytes` to a month's sets file at `counted`, the length of it that the month counts: a longer
 * file (an append whose counts file was never renamed, or a torn one) is cut back first. Synced before
 * it returns, and so is the directory when the file may be new, so that a counts file never names bytes
 * that a crash could take away.
 */
async function appendSets(path: string, counted: number, bytes: Buffer): Promise<void> {
  const fh = await open(path, "a");
  let size: number;
  try {
    size = (await fh.stat()).size;
    if (size < counted) {
      throw new StoreUnavailableError(`report sets ${path} holds ${size} bytes, its month counts ${counted}`);
    }
    if (size > counted) await fh.truncate(counted);
    let at = 0;
    while (at < bytes.length) at += (await fh.write(bytes, at, bytes.length - at)).bytesWritten;
    await fh.datasync();
  } finally {
    await fh.close();
  }
  if (size === 0) await syncDirectory(dirname(path));
}

/** Whether a month counts the record at `pos` already: at or before its `through`, or a version-1 id. */
function countedIn(loaded: LoadedMonth, record: DecisionRecord, pos: Position): boolean {
  if (loaded.throughPos !== undefined && compare(pos, loaded.throughPos) <= 0) return true;
  return loaded.legacy?.has(record.decisionId) ?? false;
}

function compare(a: Position, b: Position): number {
  return a.seg - b.seg || a.off - b.off;
}

function endsOf(records: readonly DecisionRecord[], ends: readonly string[] | undefined): Position[] {
  if (ends === undefined || ends.length !== records.length) {
    throw new StoreUnavailableError("the decision log gives no position per record");
  }
  return ends.map((e) => decodeCursor(e) as Position);
}

/** One month's share of an order's totals: its counts, and the meetings its hosts were checked in. */
interface OrderMonth extends BucketCounts {
  hostedInside: string[];
  hostedOutside: string[];
}

function orderCountsOf(loaded: LoadedMonth): Map<string, OrderMonth> {
  return new Map(
    [...loaded.byOrder].map(([id, b]) => [
      id,
      { ...countsFor(b), hostedInside: b.hostedInside.values(), hostedOutside: b.hostedOutside.values() },
    ]),
  );
}

function fresh(month: string): LoadedMonth {
  return {
    month,
    records: 0,
    byJurisdiction: new Map(),
    byOrder: new Map(),
    late: undefined,
    setsBytes: 0,
    from: undefined,
    through: undefined,
    throughPos: undefined,
    legacy: undefined,
  };
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
    // Unlike a month, a lost checkpoint costs only time: reading from the start again skips, in each
    // month, what its `through` counts already.
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
