/**
 * `RedisAggregateStore`: the report's aggregates in RedisClient, for deployments whose decision records travel
 * through the decision stream. Keys (keys.ts `report`), all under one hash tag so that the one
 * script applying a batch may touch them together on Redis Cluster:
 *
 *   months                      SET of the months that have records
 *   <month>:seen                SET of the decisionIds counted in the month (I5)
 *   <month>:counts              HASH: `records`, and `j:denied:<jurisdiction>`, `j:shadow:<jurisdiction>`,
 *                               `o:denied:<orderId>`, `o:shadow:<orderId>` (a bucket exists once its
 *                               fields do, even at 0)
 *   <month>:meetings:<j|o>:<name>      SET of meeting ids of a bucket
 *   <month>:participants:<j|o>:<name>  SET of ip hashes of a bucket (I6: hashes, never addresses)
 *   checkpoint                  STRING: where the source stopped (for the stream: the last entry id applied)
 *   frozen                      SET of the frozen months (I9)
 *   late                        HASH decisionId -> the month that counted it late; its counts are the
 *                               `late:records`, `late:denied`, `late:shadow` fields of that month's counts
 *
 * One batch, one script (APPLY below): per record, SADD the id to its month's seen set and, only when it
 * was new, add the record's effects. Redis runs the script to the end before any other command and
 * persists it as one unit, so a record is never in the seen set without its counts, nor counted without
 * being seen, whatever crashes (this process, or Redis with AOF). A batch applied again is all duplicates.
 *
 * Frozen months (I9). The batch is built against the frozen set read before it, and the script refuses
 * it (and the batch is built again) when the set has grown since: the set only grows, so its size is its
 * version. A record of a frozen month is late unless its month's seen set or the late hash has its id.
 *
 * The counting rule is not written twice: what a record adds is computed in JS by `accumulate` on an
 * empty month (the same call the file store makes), and the script only adds those effects, guarded by
 * the SADD. So both stores count exactly alike.
 *
 * The checkpoint of the stream source is the consumer group itself (entries are acknowledged after
 * `apply`, see runner.ts); the checkpoint kept here is informational for it, and the real resume point
 * for a decision-log source (runFromDecisionLog works with either store).
 *
 * Scale: Redis memory, about 100 bytes per seen id (a UUID; measured), so 10 million decisions a month
 * hold about 1 GB, plus the bucket sets; all report keys share one slot, so one node holds them. Applying
 * ran at about 100 000 records a second (batches of 500) here. `months()` reads a month's sets whole;
 * `orderTotals` reads two counters per month and nothing else.
 */
import type { DecisionRecord } from "../../engine/index.js";
import type { RedisClient } from "../../platform/node/redis.js";
import { accumulate, accumulateLate } from "../../report/accumulate.js";
import {
  type AggregateStore,
  type ApplyResult,
  emptyMonth,
  lateMonth,
  noTotals,
} from "../../report/aggregate-store.js";
import type { LateCounts, MonthAggregate, MonthBucket, OrderTotals } from "../../report/model.js";
import { monthOf } from "../../report/periods.js";
import type { ReportKeys } from "./keys.js";

/**
 * KEYS: 1 checkpoint, 2 months, 3 frozen, 4 late, then the seen sets, counts hashes and member sets the
 * batch touches.
 * ARGV: 1 JSON `{cp: string|null, fv: frozen set size, r: [{i: decisionId, m: month, s: seen key #,
 *       c: counts key #, h: [field, increment, ...], a: [set key #, member, ...], l: late?}, ...]}`;
 *       a late record's `m` and `c` are the month that takes it, `s` its own month's seen set.
 * Reply: {applied, duplicates}, or {-1, 0} when the frozen set changed since the batch was built.
 * Nothing in it can fail halfway on keys of the right types (Redis does not roll a script back).
 */
const APPLY = `
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

interface ScriptRecord {
  l?: 1;
  i: string;
  m: string;
  s: number;
  c: number;
  h: (string | number)[];
  a: (number | string)[];
}

type BucketKind = "j" | "o";

const COUNTER = /^([jo]):(denied|shadow):(.*)$/s;

export class RedisAggregateStore implements AggregateStore {
  /**
   * `redis` belongs to the caller (it may share it, and closes it); `close` leaves it open. Use a client
   * whose command timeout allows a batch's script (createRedis's default second is plenty for thousands).
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: ReportKeys,
  ) {}

  async apply(records: readonly DecisionRecord[], checkpoint: string | undefined): Promise<ApplyResult> {
    for (let attempt = 1; ; attempt++) {
      const frozen = new Set(await this.redis.smembers(this.keys.frozen));
      const result = await this.applyAgainst(records, checkpoint, frozen);
      if (result !== undefined) return result;
      // A freeze landed between reading the set and the script: build the batch again. Freezes are rare
      // (one per finalization), so a second attempt is the most this normally takes.
      if (attempt >= 10) throw new Error("report: the frozen months kept changing during a batch");
    }
  }

  /** One attempt of `apply`; undefined when the frozen set is no longer `frozen`. */
  private async applyAgainst(
    records: readonly DecisionRecord[],
    checkpoint: string | undefined,
    frozen: ReadonlySet<string>,
  ): Promise<ApplyResult | undefined> {
    const keyIndex = new Map<string, number>([
      [this.keys.checkpoint, 1],
      [this.keys.months, 2],
      [this.keys.frozen, 3],
      [this.keys.late, 4],
    ]);
    const key = (name: string): number => {
      let index = keyIndex.get(name);
      if (index === undefined) {
        index = keyIndex.size + 1;
        keyIndex.set(name, index);
      }
      return index;
    };
    const payload: ScriptRecord[] = [];
    for (const record of records) {
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
        payload.push({
          l: 1,
          i: record.decisionId,
          m: target,
          s: key(this.keys.seen(month)),
          c: key(this.keys.counts(target)),
          h: [
            "late:records",
            late.records,
            "late:denied",
            late.deniedJoins,
            "late:shadow",
            late.shadowMatches,
          ],
          a: [],
        });
        continue;
      }
      // What this record alone adds to an empty month: the effects the script adds when it is new.
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
          for (const m of b.meetings) a.push(key(this.keys.members(month, kind, name, "meetings")), m);
          for (const p of b.participants)
            a.push(key(this.keys.members(month, kind, name, "participants")), p);
        }
      }
      payload.push({
        i: record.decisionId,
        m: month,
        s: key(this.keys.seen(month)),
        c: key(this.keys.counts(month)),
        h,
        a,
      });
    }
    if (payload.length === 0 && checkpoint === undefined) return { applied: 0, duplicates: 0 };
    const reply = (await this.redis.eval(
      APPLY,
      keyIndex.size,
      ...keyIndex.keys(),
      JSON.stringify({ cp: checkpoint ?? null, fv: frozen.size, r: payload }),
    )) as [number, number];
    if (Number(reply[0]) === -1) return undefined;
    return { applied: Number(reply[0]), duplicates: Number(reply[1]) };
  }

  async freeze(months: readonly string[]): Promise<void> {
    if (months.length > 0) await this.redis.sadd(this.keys.frozen, ...months);
  }

  async frozenMonths(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.frozen)).sort();
  }

  async counted(month: string): Promise<{ records: string[]; late: string[] }> {
    const records = await this.scanSet(this.keys.seen(month));
    const late: string[] = [];
    let cursor = "0";
    do {
      const [next, flat] = await this.redis.hscan(this.keys.late, cursor, "COUNT", 1000);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i + 1] === month) late.push(flat[i] as string);
    } while (cursor !== "0");
    return { records: records.sort(), late: late.sort() };
  }

  /** A set's members in pages: a month's seen set can hold millions. */
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

  async checkpoint(): Promise<string | undefined> {
    return (await this.redis.get(this.keys.checkpoint)) ?? undefined;
  }

  async months(months: readonly string[]): Promise<MonthAggregate[]> {
    const out: MonthAggregate[] = [];
    for (const month of months) out.push(await this.month(month));
    return out;
  }

  async allMonths(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.months)).sort();
  }

  async orderTotals(orderId: string): Promise<OrderTotals> {
    const totals = noTotals();
    const months = await this.allMonths();
    if (months.length === 0) return totals;
    // One MULTI: every month's counters as of the same moment, never half a batch.
    const multi = this.redis.multi();
    for (const month of months) {
      multi.hmget(this.keys.counts(month), `o:denied:${orderId}`, `o:shadow:${orderId}`);
    }
    for (const result of (await multi.exec()) ?? []) {
      const [denied, shadow] = replyOf(result) as (string | null)[];
      totals.deniedJoins += Number(denied ?? 0);
      totals.shadowMatches += Number(shadow ?? 0);
    }
    return totals;
  }

  async close(): Promise<void> {
    // The client is the caller's.
  }

  private async month(month: string): Promise<MonthAggregate> {
    // The counts name the buckets, so they are read first; the sets follow in one MULTI with the counts
    // read again. Every record applied adds 1 to `records`, so equal `records` in both reads means no
    // batch landed in between and the sets belong to those counts; otherwise read again.
    for (let attempt = 1; ; attempt++) {
      const counts = await this.redis.hgetall(this.keys.counts(month));
      const { aggregate, buckets } = fromCounts(month, counts);
      if (buckets.length === 0) return aggregate;
      const multi = this.redis.multi();
      for (const { kind, name } of buckets) {
        multi.smembers(this.keys.members(month, kind, name, "meetings"));
        multi.smembers(this.keys.members(month, kind, name, "participants"));
      }
      multi.hget(this.keys.counts(month), "records");
      const results = (await multi.exec()) ?? [];
      const recordsNow = results[results.length - 1]?.[1];
      if (String(recordsNow) !== String(counts.records) && attempt < 10) continue;
      if (String(recordsNow) !== String(counts.records)) {
        throw new Error(`report month ${month} kept changing while it was read`);
      }
      buckets.forEach(({ bucket }, i) => {
        bucket.meetings = members(results[2 * i]).sort();
        bucket.participants = members(results[2 * i + 1]).sort();
      });
      return aggregate;
    }
  }
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
    const [, kind, counter, name] = match as unknown as [string, BucketKind, "denied" | "shadow", string];
    const into = kind === "j" ? aggregate.byJurisdiction : aggregate.byOrder;
    let bucket = into[name];
    if (bucket === undefined) {
      bucket = { deniedJoins: 0, shadowMatches: 0, meetings: [], participants: [] };
      into[name] = bucket;
      buckets.push({ kind, name, bucket });
    }
    if (counter === "denied") bucket.deniedJoins = Number(value);
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

function members(result: [Error | null, unknown] | undefined): string[] {
  return replyOf(result) as string[];
}
