/**
 * `RedisAggregateStore`: the report's aggregates in Redis, for deployments whose decision records travel
 * through the decision streams. One set of aggregates per decision partition (keys.ts `partitions[p].report`,
 * under the partition's hash tag with its stream), plus the legacy aggregates of the single stream of
 * earlier versions (`legacy.report`). Per set of aggregates:
 *
 *   months                      SET of the months that have records
 *   <month>:counts              HASH: `records`, and `j:denied:<jurisdiction>`, `j:shadow:<jurisdiction>`,
 *                               `o:denied:<orderId>`, `o:shadow:<orderId>` (a bucket exists once its
 *                               fields do, even at 0), `j:removed:...`/`o:removed:...` once a bucket has
 *                               in-meeting removals
 *   <month>:meetings:<j|o>:<name>      SET of meeting ids of a bucket
 *   <month>:participants:<j|o>:<name>  SET of ip hashes of a bucket (I6: hashes, never addresses)
 *   <month>:hostedInside:o:<orderId>   SET of meeting ids whose host was checked inside the order's
 *   <month>:hostedOutside:o:<orderId>  blocks / outside them (report/model.ts HostLocationCounts)
 *   checkpoint                  STRING: partitions: the last stream id counted; legacy: informational
 *   frozen                      SET of the frozen months (I9), one copy per partition and in the legacy keys
 *   late                        HASH decisionId -> the month that counted it late; its counts are the
 *                               `late:records`, `late:denied`, `late:shadow` fields of that month's counts
 *   <month>:seen                legacy only: SET of the decisionIds counted in the month
 *
 * Partitions count by position (I5 at any volume). `applyEntries` hands one script a run of the partition's
 * stream entries with their ids; the script counts those above the partition's checkpoint, skips those at
 * or below it (counted before: a run that died between the script and XACK re-reads them) and moves the
 * checkpoint to the last one, all in one step that Redis runs to the end and persists as one unit. It
 * refuses a run that does not start right after the checkpoint (entries in between are still with
 * another run): the checkpoint never passes an entry that was not counted, so "at or below the
 * checkpoint" means "counted". What this remembers does not grow with the records: one id per partition,
 * plus the late hash (records of a finalized month that arrived after it: few).
 *
 * The legacy aggregates keep deduplicating by decisionId in per-month seen sets (`apply`, the
 * `AggregateStore` method): the legacy stream is drained by them and nothing new is written there.
 *
 * Frozen months (I9). A batch is built against the partition's frozen set read before it, and the script
 * refuses it (and the batch is built again) when the set has grown since: the set only grows, so its size
 * is its version. `freeze` adds the months to every partition's set and the legacy one (idempotent, so a
 * finalization repeated after a crash completes it); `frozenMonths` is their union.
 *
 * The counting rule is not written twice: what a record adds is computed in JS by `accumulate` on an
 * empty month (the same call the file store makes), and the scripts only add those effects. So both
 * stores count exactly alike. Reading merges the partitions and the legacy aggregates: counts add up,
 * meeting and participant sets are united (a participant counted in two partitions is one participant).
 *
 * Scale (bench/report-aggregation-redis.ts, 1 million records of one month): counting by decisionId kept
 * a seen set of every id, about 90 bytes per record; by position, exactly-once keeps one id per
 * partition. The meeting and participant sets are per partition, so a participant whose records land in
 * several partitions is stored in each: that memory grows with distinct participants (and meetings)
 * times the partitions they reach, not with records, and with many records per participant it can exceed
 * what the seen set saved at a small volume (there, 16 partitions held 7 times the bucket sets of one).
 * Throughput was alike both ways. `months()` reads a month's sets whole, per partition; `orderTotals`
 * reads two counters per month and partition and nothing else.
 */
import type { DecisionRecord } from "../../engine/index.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { RedisClient } from "../../platform/node/redis.js";
import { accumulate, accumulateLate } from "../../report/accumulate.js";
import {
  type AggregateStore,
  type ApplyResult,
  emptyMonth,
  lateMonth,
  noTotals,
  type OrderTotalsPart,
  sumOrderTotals,
} from "../../report/aggregate-store.js";
import type { LateCounts, MonthAggregate, MonthBucket, OrderTotals } from "../../report/model.js";
import { monthOf } from "../../report/periods.js";
import type { PartitionKeys, RedisKeys, ReportKeys } from "./keys.js";
import { parseEntry } from "./report-reader.js";
import { CLOCK_MARGIN_MS } from "./stream-trimmer.js";

/**
 * Legacy aggregates, deduplicated by decisionId.
 * KEYS: 1 checkpoint, 2 months, 3 frozen, 4 late, then the seen sets, counts hashes and member sets the
 * batch touches.
 * ARGV: 1 JSON `{cp: string|null, fv: frozen set size, r: [{i: decisionId, m: month, s: seen key #,
 *       c: counts key #, h: [field, increment, ...], a: [set key #, member, ...], l: late?}, ...]}`;
 *       a late record's `m` and `c` are the month that takes it, `s` its own month's seen set.
 * Reply: {applied, duplicates}, or {-1, 0} when the frozen set changed since the batch was built.
 * Nothing in it can fail halfway on keys of the right types (Redis does not roll a script back).
 */
const APPLY_BY_ID = `
local p = cjson.decode(ARGV[1])
if redis.call('SCARD', KEYS[3]) ~= p.fv then return {-1, 0} end
local applied, duplicates = 0, 0
for _, r in ipairs(p.r) do
  local new
  if r.l then
    new = redis.call('SISMEMBER', KEYS[r.s], r.i) == 0 and redis.call('HSETNX', KEYS[4], r.i, r.m) == 1
  else
    new = redis.call('SADD', KEYS[r.s], r.i) == 1
  end
  if new then
    applied = applied + 1
    for j = 1, #r.h, 2 do redis.call('HINCRBY', KEYS[r.c], r.h[j], r.h[j + 1]) end
    for j = 1, #r.a, 2 do redis.call('SADD', KEYS[r.a[j]], r.a[j + 1]) end
    redis.call('SADD', KEYS[2], r.m)
  else
    duplicates = duplicates + 1
  end
end
if type(p.cp) == 'string' then redis.call('SET', KEYS[1], p.cp) end
return {applied, duplicates}
`;

/**
 * A partition's aggregates, counted by stream position.
 * KEYS: 1 checkpoint, 2 months, 3 frozen, 4 late, 5 the partition's stream, then the counts hashes and
 * member sets the batch touches.
 * ARGV: 1 JSON `{fv: frozen set size, r: [{p: stream id, i: decisionId, m: month, c: counts key #,
 *       h: [field, increment, ...], a: [set key #, member, ...], l: late?}, ...]}` in stream order; an
 *       entry without `i` is not a decision record (malformed): the checkpoint passes it, nothing counts it.
 * Reply: {applied, duplicates, 0}; {-1, 0, 0} when the frozen set changed since the batch was built;
 * {-2, 0, 0} when the entries above the checkpoint are not exactly the stream's next ones (a gap).
 */
const APPLY_AT = `
local p = cjson.decode(ARGV[1])
if redis.call('SCARD', KEYS[3]) ~= p.fv then return {-1, 0, 0} end
local function above(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if #am ~= #bm then return #am > #bm end
  if am ~= bm then return am > bm end
  if #as ~= #bs then return #as > #bs end
  return as > bs
end
local cp = redis.call('GET', KEYS[1]) or '0-0'
local fresh, duplicates = {}, 0
for _, r in ipairs(p.r) do
  if above(r.p, cp) then fresh[#fresh + 1] = r elseif r.i then duplicates = duplicates + 1 end
end
if #fresh == 0 then return {0, duplicates, 0} end
local between = redis.call('XRANGE', KEYS[5], '(' .. cp, fresh[#fresh].p, 'COUNT', #fresh + 1)
if #between ~= #fresh then return {-2, 0, 0} end
for k, e in ipairs(between) do
  if e[1] ~= fresh[k].p then return {-2, 0, 0} end
end
local applied = 0
for _, r in ipairs(fresh) do
  if r.i then
    if r.l == nil or redis.call('HSETNX', KEYS[4], r.i, r.m) == 1 then
      applied = applied + 1
      for j = 1, #r.h, 2 do redis.call('HINCRBY', KEYS[r.c], r.h[j], r.h[j + 1]) end
      for j = 1, #r.a, 2 do redis.call('SADD', KEYS[r.a[j]], r.a[j + 1]) end
      redis.call('SADD', KEYS[2], r.m)
    else
      duplicates = duplicates + 1
    end
  end
end
redis.call('SET', KEYS[1], fresh[#fresh].p)
return {applied, duplicates, 0}
`;

interface ScriptRecord {
  l?: 1;
  p?: string;
  i?: string;
  m?: string;
  s?: number;
  c?: number;
  h?: (string | number)[];
  a?: (number | string)[];
}

/** One stream entry for `applyEntries`: its id, and its record (undefined: not a decision record). */
export interface StreamEntryRecord {
  id: string;
  record: DecisionRecord | undefined;
}

export interface PartitionApplyResult extends ApplyResult {
  /**
   * The entries do not continue the partition's checkpoint: some in between are not counted yet (another
   * run holds them). Nothing was counted; read the partition's pending entries again.
   */
  gap: boolean;
}

type BucketKind = "j" | "o";

const COUNTER = /^([jo]):(denied|shadow|removed):(.*)$/s;

/** Thrown when the frozen months keep changing under a batch: freezes are rare, so this is a fault. */
const MAX_ATTEMPTS = 10;

export class RedisAggregateStore implements AggregateStore {
  private readonly all: ReportKeys[];

  /**
   * `redis` belongs to the caller (it may share it, and closes it); `close` leaves it open. Use a client
   * whose command timeout allows a batch's script (createRedis's default second is plenty for thousands).
   * `keys.partitions` must be the deployment's N (the same on every instance).
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<RedisKeys, "partitions" | "legacy">,
  ) {
    this.all = [...keys.partitions.map((p) => p.report), keys.legacy.report];
  }

  /**
   * The `AggregateStore` method: counts into the legacy aggregates, deduplicated by decisionId in their
   * per-month seen sets. Only the legacy stream is counted this way (report-reader.ts); new records are
   * counted per partition by `applyEntries`.
   */
  async apply(records: readonly DecisionRecord[], checkpoint: string | undefined): Promise<ApplyResult> {
    const keys = this.keys.legacy.report;
    for (let attempt = 1; ; attempt++) {
      const frozen = new Set(await this.redis.smembers(keys.frozen));
      const batch = new Batch(keys, [keys.checkpoint, keys.months, keys.frozen, keys.late]);
      for (const record of records) {
        const entry = batch.entry(record, frozen);
        entry.s = batch.key(keys.seen(monthOf(Date.parse(record.at))));
        batch.records.push(entry);
      }
      if (batch.records.length === 0 && checkpoint === undefined) return { applied: 0, duplicates: 0 };
      const reply = (await this.redis.eval(
        APPLY_BY_ID,
        batch.size,
        ...batch.names(),
        JSON.stringify({ cp: checkpoint ?? null, fv: frozen.size, r: batch.records }),
      )) as [number, number];
      if (Number(reply[0]) !== -1) return { applied: Number(reply[0]), duplicates: Number(reply[1]) };
      // A freeze landed between reading the set and the script: build the batch again.
      if (attempt >= MAX_ATTEMPTS) throw new Error("report: the frozen months kept changing during a batch");
    }
  }

  /**
   * Counts a run of partition `partition`'s stream entries, in stream order, and moves its checkpoint to
   * the last of them, in one script (see the header): entries at or below the checkpoint are duplicates.
   */
  async applyEntries(
    partition: number,
    entries: readonly StreamEntryRecord[],
  ): Promise<PartitionApplyResult> {
    const part = this.partition(partition);
    const keys = part.report;
    if (entries.length === 0) return { applied: 0, duplicates: 0, gap: false };
    for (let attempt = 1; ; attempt++) {
      const frozen = new Set(await this.redis.smembers(keys.frozen));
      const batch = new Batch(keys, [keys.checkpoint, keys.months, keys.frozen, keys.late, part.stream]);
      for (const { id, record } of entries) {
        batch.records.push(record === undefined ? { p: id } : { p: id, ...batch.entry(record, frozen) });
      }
      const reply = (await this.redis.eval(
        APPLY_AT,
        batch.size,
        ...batch.names(),
        JSON.stringify({ fv: frozen.size, r: batch.records }),
      )) as [number, number, number];
      const code = Number(reply[0]);
      if (code === -2) return { applied: 0, duplicates: 0, gap: true };
      if (code !== -1) return { applied: code, duplicates: Number(reply[1]), gap: false };
      if (attempt >= MAX_ATTEMPTS) throw new Error("report: the frozen months kept changing during a batch");
    }
  }

  /** The last stream id counted in a partition; undefined before its first. */
  async partitionCheckpoint(partition: number): Promise<string | undefined> {
    return (await this.redis.get(this.partition(partition).report.checkpoint)) ?? undefined;
  }

  async freeze(months: readonly string[]): Promise<void> {
    if (months.length === 0) return;
    // One SADD per copy: each is in its own slot. Repeating it (a finalization run again) completes it.
    await Promise.all(this.all.map((keys) => this.redis.sadd(keys.frozen, ...months)));
  }

  async frozenMonths(): Promise<string[]> {
    const sets = await Promise.all(this.all.map((keys) => this.redis.smembers(keys.frozen)));
    return [...new Set(sets.flat())].sort();
  }

  /**
   * Partitions: the records of the month in the stream up to the checkpoint, less those counted late
   * (their ids are in the late hash), checked against the month's `records` counter read with the
   * checkpoint; late ones from the late hash. Legacy: the seen set and the late hash, as they were.
   */
  async counted(month: string): Promise<{ records: string[]; late: string[] }> {
    const records = new Set<string>();
    const late = new Set<string>();
    for (const part of this.keys.partitions) {
      const found = await this.countedIn(part, month);
      for (const id of found.records) records.add(id);
      for (const id of found.late) late.add(id);
    }
    const legacy = this.keys.legacy.report;
    for (const id of await this.scanSet(legacy.seen(month))) records.add(id);
    for (const [id, m] of await this.scanHash(legacy.late)) if (m === month) late.add(id);
    return { records: [...records].sort(), late: [...late].sort() };
  }

  private async countedIn(
    part: PartitionKeys,
    month: string,
  ): Promise<{ records: string[]; late: string[] }> {
    const keys = part.report;
    const [checkpoint, counted, lateCounted] = replies(
      await this.redis
        .multi()
        .get(keys.checkpoint)
        .hget(keys.counts(month), "records")
        .hget(keys.counts(month), "late:records")
        .exec(),
    ) as [string | null, string | null, string | null];
    const lateIds = await this.scanHash(keys.late);
    const late = lateIds.filter(([, m]) => m === month).map(([id]) => id);
    if (late.length !== Number(lateCounted ?? 0)) {
      throw new StoreUnavailableError(
        `report: partition ${part.index} counted ${lateCounted ?? 0} late record(s) in ${month} but its late hash names ${late.length}`,
      );
    }
    const records: string[] = [];
    if (checkpoint === null) return { records, late };
    const skip = new Set(lateIds.map(([id]) => id));
    // A record's entry is stamped by Redis's clock, at most CLOCK_MARGIN_MS behind the instance's that
    // wrote `at` (the trimmer keeps the same margin): nothing of the month lies before this.
    const start = Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1, 1);
    let from = `${Math.max(0, start - CLOCK_MARGIN_MS)}-0`;
    for (;;) {
      const page = (await this.redis.xrange(part.stream, from, checkpoint, "COUNT", 1000)) as [
        string,
        string[],
      ][];
      for (const [, fields] of page) {
        const record = parseEntry(fields);
        if (record === undefined || skip.has(record.decisionId)) continue;
        if (monthOf(Date.parse(record.at)) === month) records.push(record.decisionId);
      }
      if (page.length < 1000) break;
      from = `(${(page.at(-1) as [string, string[]])[0]}`;
    }
    if (records.length !== Number(counted ?? 0)) {
      // Trimmed entries, or a record in the stream twice: the ids would not be the ones counted.
      throw new StoreUnavailableError(
        `report: partition ${part.index} counted ${counted ?? 0} record(s) in ${month} but its stream holds ${records.length} of them`,
      );
    }
    return { records, late };
  }

  /** A set's members in pages: a legacy month's seen set can hold millions. */
  private async scanSet(key: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, members] = await this.redis.sscan(key, cursor, "COUNT", 1000);
      cursor = next;
      out.push(...members);
    } while (cursor !== "0");
    return [...new Set(out)]; // SSCAN may return a member twice
  }

  private async scanHash(key: string): Promise<[string, string][]> {
    const out = new Map<string, string>();
    let cursor = "0";
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, "COUNT", 1000);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] as string, flat[i + 1] as string);
    } while (cursor !== "0");
    return [...out];
  }

  /** The legacy aggregates' checkpoint (`AggregateStore`); partitions: `partitionCheckpoint`. */
  async checkpoint(): Promise<string | undefined> {
    return (await this.redis.get(this.keys.legacy.report.checkpoint)) ?? undefined;
  }

  async months(months: readonly string[]): Promise<MonthAggregate[]> {
    const out: MonthAggregate[] = [];
    for (const month of months) {
      const parts = await Promise.all(this.all.map((keys) => this.month(keys, month)));
      out.push(parts.reduce(mergeMonth, emptyMonth(month)));
    }
    return out;
  }

  async allMonths(): Promise<string[]> {
    const sets = await Promise.all(this.all.map((keys) => this.redis.smembers(keys.months)));
    return [...new Set(sets.flat())].sort();
  }

  async orderTotals(orderId: string): Promise<OrderTotals> {
    const parts = await Promise.all(this.all.map((keys) => this.orderTotalsIn(keys, orderId)));
    return sumOrderTotals(parts);
  }

  async close(): Promise<void> {
    // The client is the caller's.
  }

  private partition(index: number): PartitionKeys {
    const part = this.keys.partitions[index];
    if (part === undefined) throw new RangeError(`no decision partition ${index}`);
    return part;
  }

  private async orderTotalsIn(
    keys: ReportKeys,
    orderId: string,
  ): Promise<OrderTotalsPart & { hostedInside: string[]; hostedOutside: string[] }> {
    const totals = { ...noTotals(), hostedInside: [] as string[], hostedOutside: [] as string[] };
    const months = await this.redis.smembers(keys.months);
    if (months.length === 0) return totals;
    // One MULTI: every month's counters of this set of aggregates as of the same moment, never half a batch.
    const multi = this.redis.multi();
    for (const month of months) {
      multi.hmget(keys.counts(month), `o:denied:${orderId}`, `o:shadow:${orderId}`, `o:removed:${orderId}`);
      multi.smembers(keys.members(month, "o", orderId, "hostedInside"));
      multi.smembers(keys.members(month, "o", orderId, "hostedOutside"));
    }
    const results = (await multi.exec()) ?? [];
    for (let i = 0; i < results.length; i += 3) {
      const [denied, shadow, removed] = replyOf(results[i]) as (string | null)[];
      totals.deniedJoins += Number(denied ?? 0);
      totals.shadowMatches += Number(shadow ?? 0);
      if (removed) totals.removedParticipants = (totals.removedParticipants ?? 0) + Number(removed);
      totals.hostedInside.push(...members(results[i + 1]));
      totals.hostedOutside.push(...members(results[i + 2]));
    }
    return totals;
  }

  private async month(keys: ReportKeys, month: string): Promise<MonthAggregate> {
    // The counts name the buckets, so they are read first; the sets follow in one MULTI with the counts
    // read again. Every record applied adds 1 to `records`, so equal `records` in both reads means no
    // batch landed in between and the sets belong to those counts; otherwise read again.
    for (let attempt = 1; ; attempt++) {
      const counts = await this.redis.hgetall(keys.counts(month));
      const { aggregate, buckets } = fromCounts(month, counts);
      if (buckets.length === 0) return aggregate;
      const multi = this.redis.multi();
      // Each set read, with where its members go once the reads agree.
      const fill: ((values: string[]) => void)[] = [];
      for (const { kind, name, bucket } of buckets) {
        multi.smembers(keys.members(month, kind, name, "meetings"));
        fill.push((v) => {
          bucket.meetings = v;
        });
        multi.smembers(keys.members(month, kind, name, "participants"));
        fill.push((v) => {
          bucket.participants = v;
        });
        if (kind !== "o") continue;
        for (const side of ["hostedInside", "hostedOutside"] as const) {
          multi.smembers(keys.members(month, kind, name, side));
          fill.push((v) => {
            if (v.length > 0) bucket[side] = v;
          });
        }
      }
      multi.hget(keys.counts(month), "records");
      const results = (await multi.exec()) ?? [];
      const recordsNow = results[results.length - 1]?.[1];
      if (String(recordsNow) !== String(counts.records) && attempt < MAX_ATTEMPTS) continue;
      if (String(recordsNow) !== String(counts.records)) {
        throw new Error(`report month ${month} kept changing while it was read`);
      }
      fill.forEach((set, i) => {
        set(members(results[i]).sort());
      });
      return aggregate;
    }
  }
}

/** One script call's keys (numbered from 1 in the order first named) and records. */
class Batch {
  readonly records: ScriptRecord[] = [];
  private readonly index = new Map<string, number>();

  constructor(
    private readonly keys: ReportKeys,
    fixed: readonly string[],
  ) {
    for (const name of fixed) this.key(name);
  }

  get size(): number {
    return this.index.size;
  }

  names(): string[] {
    return [...this.index.keys()];
  }

  key(name: string): number {
    let index = this.index.get(name);
    if (index === undefined) {
      index = this.index.size + 1;
      this.index.set(name, index);
    }
    return index;
  }

  /** What this record alone adds (to its month, or late to a later one): the effects the script adds. */
  entry(record: DecisionRecord, frozen: ReadonlySet<string>): ScriptRecord {
    const t = Date.parse(record.at);
    if (Number.isNaN(t))
      throw new RangeError(`decision ${record.decisionId} has no valid time: ${record.at}`);
    const month = monthOf(t);
    if (frozen.has(month)) {
      // Late (I9): only the late counts of the month that takes it change.
      const target = lateMonth(month, frozen);
      const effect = emptyMonth(target);
      accumulateLate(effect, record);
      const late = effect.late as LateCounts;
      return {
        l: 1,
        i: record.decisionId,
        m: target,
        c: this.key(this.keys.counts(target)),
        h: ["late:records", late.records, "late:denied", late.deniedJoins, "late:shadow", late.shadowMatches],
        a: [],
      };
    }
    const effect = emptyMonth(month);
    accumulate(effect, record);
    const h: (string | number)[] = ["records", effect.records];
    const a: (number | string)[] = [];
    for (const [kind, buckets] of [
      ["j", effect.byJurisdiction],
      ["o", effect.byOrder],
    ] as const) {
      for (const [name, b] of Object.entries(buckets)) {
        h.push(`${kind}:denied:${name}`, b.deniedJoins, `${kind}:shadow:${name}`, b.shadowMatches);
        if (b.removedParticipants) h.push(`${kind}:removed:${name}`, b.removedParticipants);
        for (const m of b.meetings) a.push(this.key(this.keys.members(month, kind, name, "meetings")), m);
        for (const p of b.participants)
          a.push(this.key(this.keys.members(month, kind, name, "participants")), p);
        for (const m of b.hostedInside ?? [])
          a.push(this.key(this.keys.members(month, kind, name, "hostedInside")), m);
        for (const m of b.hostedOutside ?? [])
          a.push(this.key(this.keys.members(month, kind, name, "hostedOutside")), m);
      }
    }
    return { i: record.decisionId, m: month, c: this.key(this.keys.counts(month)), h, a };
  }
}

/** Adds `from` (one partition's month) into `into`: counts add up, meeting and participant sets unite. */
export function mergeMonth(into: MonthAggregate, from: MonthAggregate): MonthAggregate {
  into.records += from.records;
  if (from.late !== undefined) {
    const late = into.late ?? { records: 0, deniedJoins: 0, shadowMatches: 0 };
    into.late = late;
    late.records += from.late.records;
    late.deniedJoins += from.late.deniedJoins;
    late.shadowMatches += from.late.shadowMatches;
  }
  for (const kind of ["byJurisdiction", "byOrder"] as const) {
    for (const [name, b] of Object.entries(from[kind])) {
      const have = into[kind][name];
      if (have === undefined) {
        into[kind][name] = { ...b, meetings: [...b.meetings], participants: [...b.participants] };
        continue;
      }
      have.deniedJoins += b.deniedJoins;
      have.shadowMatches += b.shadowMatches;
      if (b.removedParticipants)
        have.removedParticipants = (have.removedParticipants ?? 0) + b.removedParticipants;
      have.meetings = union(have.meetings, b.meetings);
      have.participants = union(have.participants, b.participants);
      for (const side of ["hostedInside", "hostedOutside"] as const) {
        const theirs = b[side];
        if (theirs !== undefined) have[side] = union(have[side] ?? [], theirs);
      }
    }
  }
  return into;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

function fromCounts(
  month: string,
  counts: Record<string, string>,
): { aggregate: MonthAggregate; buckets: { kind: BucketKind; name: string; bucket: MonthBucket }[] } {
  const aggregate = emptyMonth(month);
  aggregate.records = Number(counts.records ?? 0);
  if (counts["late:records"] !== undefined) {
    aggregate.late = {
      records: Number(counts["late:records"]),
      deniedJoins: Number(counts["late:denied"] ?? 0),
      shadowMatches: Number(counts["late:shadow"] ?? 0),
    };
  }
  const buckets: { kind: BucketKind; name: string; bucket: MonthBucket }[] = [];
  for (const [fieldName, value] of Object.entries(counts)) {
    const match = COUNTER.exec(fieldName);
    if (!match) continue;
    const [, kind, counter, name] = match as unknown as [
      string,
      BucketKind,
      "denied" | "shadow" | "removed",
      string,
    ];
    const into = kind === "j" ? aggregate.byJurisdiction : aggregate.byOrder;
    let bucket = into[name];
    if (bucket === undefined) {
      bucket = { deniedJoins: 0, shadowMatches: 0, meetings: [], participants: [] };
      into[name] = bucket;
      buckets.push({ kind, name, bucket });
    }
    if (counter === "denied") bucket.deniedJoins = Number(value);
    else if (counter === "removed") bucket.removedParticipants = Number(value);
    else bucket.shadowMatches = Number(value);
  }
  return { aggregate, buckets };
}

/** The reply of one command in a MULTI, or its error thrown. */
function replyOf(result: [Error | null, unknown] | undefined): unknown {
  if (!result) throw new Error("a command in MULTI returned nothing");
  const [err, value] = result;
  if (err) throw err;
  return value;
}

function replies(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map((r) => replyOf(r));
}

function members(result: [Error | null, unknown] | undefined): string[] {
  return replyOf(result) as string[];
}
