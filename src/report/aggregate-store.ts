/**
 * Where the report's aggregates live between runs: per-month buckets (model.ts `MonthAggregate`) and the
 * checkpoint of the decision source, kept together so that a run killed at any point and run again (or
 * fed the same records twice) gives the same numbers. Implementations: `FileAggregateStore` (embedded,
 * in the data directory) and `RedisAggregateStore` (Redis deployments; the reporting consumer group
 * acknowledges stream entries only after their aggregates are stored).
 */
import type { DecisionRecord } from "../engine/index.js";
import type { MonthAggregate, OrderTotals } from "./model.js";

export interface ApplyResult {
  /** Records counted for the first time. */
  applied: number;
  /** Records whose decisionId was already counted (I5: never counted twice). */
  duplicates: number;
}

export interface AggregateStore {
  /**
   * Adds records to their months (by `at`, UTC), skipping decisionIds already counted, and stores the
   * source's new checkpoint. The aggregates are stored before (or atomically with) the checkpoint.
   */
  apply(records: readonly DecisionRecord[], checkpoint: string | undefined): Promise<ApplyResult>;
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
  close(): Promise<void>;
}

export function emptyMonth(month: string): MonthAggregate {
  return { month, records: 0, byJurisdiction: {}, byOrder: {} };
}

export function noTotals(): OrderTotals {
  return { deniedJoins: 0, shadowMatches: 0 };
}
