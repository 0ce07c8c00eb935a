/**
 * Builds the report of one period (DESIGN.md "Report") from the orders and the month aggregates:
 * requests completed in the period, orders pending at its end, enforcement counts and the dataset.
 * Pure: the caller reads the stores and passes `generatedAt` (no clock here).
 */
import { type Order, ReasonCode } from "../engine/index.js";
import {
  countsOf,
  emptyMerged,
  hostCountsOf,
  type MergedBucket,
  mergeInto,
  mergeMonths,
} from "./accumulate.js";
import {
  type DatasetRow,
  type LateCounts,
  type MonthAggregate,
  OUTCOMES,
  type Outcome,
  type PreviousPeriod,
  type Publisher,
  type Report,
} from "./model.js";
import { completion } from "./outcome.js";
import { type Period, periodOf } from "./periods.js";
import { rollUpOf } from "./roll-up.js";
import { suppressReport } from "./suppress.js";

export interface ReportInput {
  period: Period;
  orders: readonly Order[];
  /** The period's months; aggregates of other months are ignored. */
  months: readonly MonthAggregate[];
  /**
   * Months up to the period's end, for the dataset's `denied_joins`; months after the period's last are
   * ignored. Default: the period's months.
   */
  history?: readonly MonthAggregate[];
  /** Counts below this are published as "< N"; 0 (the default) publishes every count. */
  threshold?: number;
  generatedAt: string;
  /** Who publishes it; absent, the page names the defaults. */
  publisher?: Publisher;
  /**
   * The previous period's months, for its denied joins in the comparison; absent, the comparison gives
   * requests only (a frozen report holds its own period's records only).
   */
  previousMonths?: readonly MonthAggregate[];
  /** False only for the report a finalization freezes (I9). Default true. */
  provisional?: boolean;
}

/** Where an order lacks an account type or location, its requests are counted under this key. */
export const UNKNOWN = "unknown";

interface Completed {
  order: Order;
  outcome: Outcome;
  reasonCode: ReasonCode | undefined;
  at: number;
  received: number;
}

export function buildReport(input: ReportInput): Report {
  const { period } = input;
  const threshold = input.threshold ?? 0;
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw new RangeError(`threshold must be a non-negative integer, got ${threshold}`);
  }

  // Requests. An order counts in the period holding its completion instant; it is pending at the end
  // when it was received before the end and not completed before it (a later completion counts in a
  // later period, so the same order can be pending in one report and completed in the next).
  const completed: Completed[] = [];
  const pending: Order[] = [];
  for (const order of input.orders) {
    const done = completion(order);
    const at = done === undefined ? undefined : Date.parse(done.at);
    const received = Date.parse(order.receivedAt);
    if (done !== undefined && at !== undefined && at >= period.start && at < period.end) {
      completed.push({ order, outcome: done.outcome, reasonCode: done.reasonCode, at, received });
    }
    if (received < period.end && (at === undefined || at >= period.end)) pending.push(order);
  }
  const byJurisdiction = new Map<string, Record<Outcome, number>>();
  const byAccountType = new Map<string, Record<Outcome, number>>();
  const byAccountLocation = new Map<string, Record<Outcome, number>>();
  const byCountry = new Map<string, Record<Outcome, number>>();
  const byReason = Object.fromEntries(ReasonCode.options.map((c) => [c, 0])) as Record<ReasonCode, number>;
  for (const { order, outcome, reasonCode } of completed) {
    tally(byJurisdiction, order.authority.jurisdiction)[outcome] += 1;
    tally(byCountry, rollUpOf(order.authority.jurisdiction))[outcome] += 1;
    if (outcome === "rejected") byReason[reasonCode ?? "other"] += 1;
    tally(byAccountType, order.accountType ?? UNKNOWN)[outcome] += 1;
    tally(byAccountLocation, order.accountLocation ?? UNKNOWN)[outcome] += 1;
  }
  const pendingByJurisdiction = new Map<string, number>();
  for (const order of pending) {
    const key = order.authority.jurisdiction;
    pendingByJurisdiction.set(key, (pendingByJurisdiction.get(key) ?? 0) + 1);
  }

  // Enforcement: the union of the period's months.
  const inPeriod = new Set(period.months);
  const months = input.months.filter((m) => inPeriod.has(m.month));
  const ordersById = new Map(input.orders.map((o) => [o.id, o]));
  const late: LateCounts = { records: 0, deniedJoins: 0, shadowMatches: 0 };
  for (const m of months) {
    if (m.late === undefined) continue;
    late.records += m.late.records;
    late.deniedJoins += m.late.deniedJoins;
    late.shadowMatches += m.late.shadowMatches;
  }
  const mergedByJurisdiction = mergeMonths(months, "byJurisdiction");
  const enforcementByJurisdiction = mapValues(mergedByJurisdiction, countsOf);
  const mergedByCountry = new Map<string, MergedBucket>();
  for (const [code, b] of mergedByJurisdiction) {
    const key = rollUpOf(code);
    let into = mergedByCountry.get(key);
    if (into === undefined) {
      into = emptyMerged();
      mergedByCountry.set(key, into);
    }
    mergeInto(into, b);
  }
  const enforcementByOrder = mapValues(mergeMonths(months, "byOrder"), (merged, id) => {
    const order = ordersById.get(id);
    // An id the order list does not know (an order removed from the store) keeps its counts, unattributed.
    return {
      ...countsOf(merged),
      ...hostCountsOf(merged),
      authorityJurisdiction: order?.authority.jurisdiction ?? "",
      blockJurisdictions: order ? [...order.jurisdictions] : [],
    };
  });

  // Dataset. `denied_joins` of a row: the BLOCKED records naming the order from the start of `history`
  // up to the period's end (never after it, so a closed period's dataset does not change when the report
  // is generated again later). An order denies only once approved, so for an order completed in the
  // period this is its denied joins from approval to the period's end; a rejected or withdrawn order has
  // none. Denials after the period's end count in later periods' enforcement, not in this row.
  const lastMonth = period.months[period.months.length - 1] ?? "";
  const history = (input.history ?? months).filter((m) => m.month <= lastMonth);
  const deniedByOrder = mergeMonths(history, "byOrder");
  completed.sort((a, b) => a.at - b.at || a.received - b.received || (a.order.id < b.order.id ? -1 : 1));
  const dataset: DatasetRow[] = completed.map(({ order, outcome, reasonCode, at, received }) => ({
    period: period.id,
    authorityJurisdiction: order.authority.jurisdiction,
    authorityKind: order.authority.kind,
    targetKind: order.target.kind,
    requestedJurisdictions: [...(order.requested?.jurisdictions ?? order.jurisdictions)],
    blockJurisdictions: [...order.jurisdictions],
    outcome,
    reasonCode: reasonCode ?? null,
    accountType: order.accountType ?? null,
    accountLocation: order.accountLocation ?? null,
    receivedDate: utcDate(received),
    completedDate: utcDate(at),
    deniedJoins: deniedByOrder.get(order.id)?.deniedJoins ?? 0,
    removedParticipants: deniedByOrder.get(order.id)?.removedParticipants ?? 0,
  }));

  const byOutcome = tally(new Map(), "all");
  for (const { outcome } of completed) byOutcome[outcome] += 1;

  // The previous period of the same length: its completed requests, and its denied joins when given.
  const prev = periodOf(period.start - 1, period.kind);
  const previousByOutcome = tally(new Map(), "all");
  let previousTotal = 0;
  for (const order of input.orders) {
    const done = completion(order);
    const at = done === undefined ? Number.NaN : Date.parse(done.at);
    if (done !== undefined && at >= prev.start && at < prev.end) {
      previousByOutcome[done.outcome] += 1;
      previousTotal += 1;
    }
  }
  const prevMonths = new Set(prev.months);
  const previous: PreviousPeriod = {
    period: prev.id,
    total: previousTotal,
    byOutcome: previousByOutcome,
    deniedJoins:
      input.previousMonths === undefined
        ? null
        : input.previousMonths
            .filter((m) => prevMonths.has(m.month))
            .reduce((s, m) => s + Object.values(m.byJurisdiction).reduce((t, b) => t + b.deniedJoins, 0), 0),
  };
  return suppressReport({
    period: period.id,
    start: isoInstant(period.start),
    end: isoInstant(period.end),
    generatedAt: input.generatedAt,
    threshold,
    requests: {
      total: completed.length,
      byOutcome,
      byJurisdiction: sortedRecord(byJurisdiction),
      byCountry: sortedRecord(byCountry),
      byReason,
      byAccountType: sortedRecord(byAccountType),
      byAccountLocation: sortedRecord(byAccountLocation),
      pendingAtEnd: { count: pending.length, byJurisdiction: sortedRecord(pendingByJurisdiction) },
    },
    enforcement: {
      byJurisdiction: sortedRecord(enforcementByJurisdiction),
      byCountry: sortedRecord(mapValues(mergedByCountry, countsOf)),
      byOrder: sortedRecord(enforcementByOrder),
    },
    dataset,
    ...(input.publisher === undefined ? {} : { publisher: input.publisher }),
    previous,
    provisional: input.provisional ?? true,
    late,
  });
}

function tally(map: Map<string, Record<Outcome, number>>, key: string): Record<Outcome, number> {
  let counts = map.get(key);
  if (counts === undefined) {
    counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
    map.set(key, counts);
  }
  return counts;
}

function mapValues<A, B>(map: ReadonlyMap<string, A>, f: (value: A, key: string) => B): Map<string, B> {
  return new Map([...map].map(([key, value]) => [key, f(value, key)]));
}

/** A plain object with its keys in code-point order, so the same report serialises to the same bytes. */
function sortedRecord<T>(map: ReadonlyMap<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of [...map.keys()].sort()) out[key] = map.get(key) as T;
  return out;
}

function isoInstant(ms: number): string {
  return new Date(ms).toISOString();
}

/** `YYYY-MM-DD` of an instant, in UTC. */
function utcDate(ms: number): string {
  return isoInstant(ms).slice(0, 10);
}
