/**
 * `RedisFrozenReportStore`: finalized reports in Redis (I9). The frozen report of a period is one value
 * under the low-volume hash tag (keys.ts `frozen`), stored by one script that sets it only if absent and
 * adds the period to the finalized set: two instances finalizing at once agree on the first. The
 * archived records scale with the decisions, so they live with the report aggregates (keys.ts `report`):
 * a HASH decisionId -> canonical JSON per period and kind, and the `archived` set of months, which lets
 * the stream trimmer drop those months' records from the stream (stream-trimmer.ts).
 */
import type { DecisionRecord } from "../../engine/index.js";
import type { RedisClient } from "../../platform/node/redis.js";
import {
  FROZEN_FORMATS,
  type FrozenReport,
  type FrozenReportStore,
  type RecordArchive,
} from "../../report/frozen.js";
import type { Period } from "../../report/periods.js";
import { canonicalJson } from "../audit.js";
import { byDecisionId } from "../merkle.js";
import type { FrozenKeys, ReportKeys } from "./keys.js";

/** KEYS: 1 the frozen report, 2 the finalized set. ARGV: 1 the report JSON, 2 the period. Reply: the stored JSON. */
const COMMIT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then redis.call('SADD', KEYS[2], ARGV[2]) end
return redis.call('GET', KEYS[1])
`;

const BATCH = 500;

export class RedisFrozenReportStore implements FrozenReportStore {
  /** `redis` is the caller's, as for the aggregate store. */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: { frozen: FrozenKeys; report: ReportKeys },
  ) {}

  async putArchive(period: Period, archive: RecordArchive): Promise<void> {
    for (const kind of ["records", "late"] as const) {
      const key = this.keys.report.archive(period.id, kind);
      const list = archive[kind];
      for (let i = 0; i < list.length; i += BATCH) {
        const flat: string[] = [];
        for (const r of list.slice(i, i + BATCH)) flat.push(r.decisionId, canonicalJson(r));
        // The same value whoever writes it: the months were frozen before the records were chosen.
        await this.redis.hset(key, ...flat);
      }
    }
    await this.redis.sadd(this.keys.report.archived, ...period.months);
  }

  async archive(period: string): Promise<RecordArchive | undefined> {
    const out: Partial<RecordArchive> = {};
    for (const kind of ["records", "late"] as const) {
      const values: DecisionRecord[] = [];
      let cursor = "0";
      do {
        const [next, flat] = await this.redis.hscan(
          this.keys.report.archive(period, kind),
          cursor,
          "COUNT",
          1000,
        );
        cursor = next;
        for (let i = 1; i < flat.length; i += 2) values.push(JSON.parse(flat[i] as string) as DecisionRecord);
      } while (cursor !== "0");
      out[kind] = byDecisionId([...new Map(values.map((r) => [r.decisionId, r])).values()]);
    }
    const frozen = await this.get(period);
    if (frozen === undefined && out.records?.length === 0 && out.late?.length === 0) return undefined;
    return out as RecordArchive;
  }

  async commit(period: string, frozen: FrozenReport): Promise<FrozenReport> {
    const stored = (await this.redis.eval(
      COMMIT,
      2,
      this.keys.frozen.report(period),
      this.keys.frozen.periods,
      JSON.stringify(frozen),
      period,
    )) as string;
    return parseFrozen(stored);
  }

  async get(period: string): Promise<FrozenReport | undefined> {
    const text = await this.redis.get(this.keys.frozen.report(period));
    return text === null ? undefined : parseFrozen(text);
  }

  async list(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.frozen.periods)).sort();
  }
}

function parseFrozen(text: string): FrozenReport {
  const frozen = JSON.parse(text) as FrozenReport;
  for (const format of FROZEN_FORMATS) {
    if (typeof frozen.formats?.[format] !== "string") throw new Error(`frozen report lacks its ${format}`);
  }
  return frozen;
}
