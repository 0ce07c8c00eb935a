/**
 * Where the report's aggregates live between runs: per-month buckets (model.ts `MonthAggregate`) and the
 * checkpoint of the decision source, kept together so that a run killed at any point and run again (or
 * fed the same records twice) gives the same numbers. What tells a record counted already is the store's:
 * its position in the source (FileAggregateStore) or its decisionId. Implementations: `FileAggregateStore` (embedded,
 * in the data directory) and `RedisAggregateStore` (Redis deployments; the reporting consumer group
 * acknowledges stream entries only after their aggregates are stored).
 */
import type { DecisionRecord } from "../engine/index.js";
import type { MonthAggregate, OrderTotals } from "./model.js";
import { monthOf } from "./periods.js";

export interface ApplyResult {
  /** Records counted for the first time. */
  applied: number;
  /** Records counted already (I5: never counted twice). */
  duplicates: number;
}

export interface AggregateStore {
  /**
   * Adds records to their months (by `at`, UTC), skipping those already counted, and stores the source's
   * new checkpoint. The aggregates are stored before (or atomically with) the checkpoint. `positions[i]`
   * is where `records[i]` ends in the source (for the decision log, the cursor that reads on after it),
   * ascending except where the source is read again: a store that counts by position needs them
   * (FileAggregateStore refuses a batch without them), one that counts by decisionId may ignore them.
   */
  apply(
    records: readonly DecisionRecord[],
    checkpoint: string | undefined,
    positions?: readonly string[],
  ): Promise<ApplyResult>;
  /** Where the last run stopped in the source; undefined before the first run. */
  checkpoint(): Promise<string | undefined>;
  /** The aggregates of the given months (`YYYY-MM`); a month without records comes back empty. */
  months(months: readonly string[]): Promise<MonthAggregate[]>;
  /** Every month that has records, sorted. */
  allMonths(): Promise<string[]>;
  /**
   * One order's denied joins and shadow matches summed over every month (`byOrder`), without reading
   * the months' meeting and participant sets; zeros for an order never counted.
   */
  orderTotals(orderId: string): Promise<OrderTotals>;
  /**
   * Freezes months (I9: their period is being finalized). Idempotent, and never undone. Once it has
   * resolved, a record of a frozen month that was not counted before is counted late instead: in the
   * `late` counts of `lateMonth(its month)`, never in its own month, whose aggregate no longer changes.
   * Each decisionId is still counted once, whether in its month or late (I5).
   */
  freeze(months: readonly string[]): Promise<void>;
  /** Every frozen month, sorted. */
  frozenMonths(): Promise<string[]>;
  /**
   * The decisionIds counted in a month (`records`) and those counted late in it (`late`), each sorted.
   * Stable for a frozen month: what a finalization archives.
   */
  counted(month: string): Promise<{ records: string[]; late: string[] }>;
  close(): Promise<void>;
}

/**
 * Where a late record of a frozen month is counted: the first month after it that is not frozen. Months
 * are frozen only once their period has ended plus the grace days, so this is normally the period
 * that was open when the record arrived.
 */
export function lateMonth(month: string, frozen: ReadonlySet<string>): string {
  let m = nextMonth(month);
  while (frozen.has(m)) m = nextMonth(m);
  return m;
}

function nextMonth(month: string): string {
  const year = Number(month.slice(0, 4));
  const index = Number(month.slice(5, 7)); // 1-12: the next month's 0-based index
  return monthOf(Date.UTC(year, index, 1));
}

export function emptyMonth(month: string): MonthAggregate {
  return { month, records: 0, byJurisdiction: {}, byOrder: {} };
}

export function noTotals(): OrderTotals {
  return { deniedJoins: 0, shadowMatches: 0 };
}

/** One month's (or one partition's) share of an order's totals, with the meetings its hosts were checked in. */
export interface OrderTotalsPart extends OrderTotals {
  hostedInside: Iterable<string>;
  hostedOutside: Iterable<string>;
}

/**
 * An order's totals over its parts: counts add up, and where its meetings were hosted is counted over
 * the union of the parts' meetings (a meeting in two months is one meeting). The host counts are absent
 * when no host was checked.
 */
export function sumOrderTotals(parts: Iterable<OrderTotalsPart>): OrderTotals {
  const totals = noTotals();
  const inside = new Set<string>();
  const outside = new Set<string>();
  for (const part of parts) {
    totals.deniedJoins += part.deniedJoins;
    totals.shadowMatches += part.shadowMatches;
    if (part.removedParticipants)
      totals.removedParticipants = (totals.removedParticipants ?? 0) + part.removedParticipants;
    for (const m of part.hostedInside) inside.add(m);
    for (const m of part.hostedOutside) outside.add(m);
  }
  if (inside.size + outside.size > 0) {
    totals.meetingsHostedInside = inside.size;
    totals.meetingsHostedOutside = outside.size;
  }
  return totals;
}
