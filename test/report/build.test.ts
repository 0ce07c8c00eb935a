/**
 * The report's numbers against a generated history: several hundred orders with random life cycles over
 * three years and tens of thousands of decision records with a known mix of codes, accumulated month by
 * month. Every expected number is computed here, straight from the generator's account of what it did
 * and from the record list, never through the code under test.
 */
import { describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { accumulate, mergeMonths } from "../../src/report/accumulate.js";
import { buildReport } from "../../src/report/build.js";
import type { DatasetRow, EnforcementCounts, MonthAggregate, Outcome } from "../../src/report/model.js";
import { type Period, parsePeriod } from "../../src/report/periods.js";
import { byMonth, generateHistory, HISTORY_END, HISTORY_START, type Truth } from "./history.js";

const GENERATED_AT = "2025-01-15T08:00:00Z";
const history = generateHistory(20230701);
const months = byMonth(history.records, accumulate);
const allMonths = [...months.values()].sort((a, b) => (a.month < b.month ? -1 : 1));

function period(label: string): Period {
  const p = parsePeriod(label);
  if (!p) throw new Error(`bad label ${label}`);
  return p;
}

function monthsOf(p: Period): MonthAggregate[] {
  return allMonths.filter((m) => p.months.includes(m.month));
}

const atMs = (r: DecisionRecord) => Date.parse(r.at);
const zero = (): Record<Outcome, number> => ({
  complied: 0,
  partially_complied: 0,
  shadow: 0,
  rejected: 0,
  withdrawn: 0,
});
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

// ---- The independent account -------------------------------------------------------------------------

function expectedRequests(start: number, end: number) {
  const completed = history.truth.filter(
    (t) => t.completed !== undefined && t.completed >= start && t.completed < end,
  );
  const group = (key: (t: Truth) => string) => {
    const out: Record<string, Record<Outcome, number>> = {};
    for (const t of completed) {
      out[key(t)] ??= zero();
      (out[key(t)] as Record<Outcome, number>)[t.outcome as Outcome] += 1;
    }
    return out;
  };
  const pending = history.truth.filter(
    (t) => t.received < end && (t.completed === undefined || t.completed >= end),
  );
  const pendingBy: Record<string, number> = {};
  for (const t of pending) pendingBy[t.authority] = (pendingBy[t.authority] ?? 0) + 1;
  const byReason = {
    invalid_service: 0,
    legally_invalid: 0,
    outside_jurisdiction: 0,
    insufficient_information: 0,
    no_such_target: 0,
    other: completed.filter((t) => t.outcome === "rejected").length,
  };
  return {
    total: completed.length,
    byOutcome: group(() => "all").all ?? zero(),
    byJurisdiction: group((t) => t.authority),
    byCountry: group((t) => t.authority.slice(0, 2)),
    byReason,
    byAccountType: group((t) => t.accountType ?? "unknown"),
    byAccountLocation: group((t) => t.accountLocation ?? "unknown"),
    pendingAtEnd: { count: pending.length, byJurisdiction: pendingBy },
  };
}

function expectedEnforcement(start: number, end: number) {
  interface Acc {
    denied: number;
    removed: number;
    shadow: number;
    meetings: Set<string>;
    participants: Set<string>;
    hostedInside: Set<string>;
    hostedOutside: Set<string>;
  }
  const byJurisdiction = new Map<string, Acc>();
  const byCountry = new Map<string, Acc>();
  const byOrder = new Map<string, Acc>();
  const into = (map: Map<string, Acc>, key: string, r: DecisionRecord) => {
    let acc = map.get(key);
    if (!acc) {
      acc = {
        denied: 0,
        removed: 0,
        shadow: 0,
        meetings: new Set(),
        participants: new Set(),
        hostedInside: new Set(),
        hostedOutside: new Set(),
      };
      map.set(key, acc);
    }
    if (r.code !== "BLOCKED") {
      acc.shadow++;
      return;
    }
    if (r.phase === "in_meeting") acc.removed++;
    else acc.denied++;
    acc.meetings.add(r.meetingId);
    if (r.ipHash) acc.participants.add(r.ipHash);
  };
  for (const r of history.records) {
    if (atMs(r) < start || atMs(r) >= end) continue;
    if (r.code !== "BLOCKED" && r.code !== "SHADOW_MATCH") continue;
    if (r.jurisdiction) into(byJurisdiction, r.jurisdiction, r);
    if (r.jurisdiction) into(byCountry, r.jurisdiction.slice(0, 2), r);
    for (const id of r.orderIds) into(byOrder, id, r);
  }
  const counts = (acc: Acc): EnforcementCounts => ({
    deniedJoins: acc.denied,
    removedParticipants: acc.removed,
    shadowMatches: acc.shadow,
    distinctMeetings: acc.meetings.size,
    distinctParticipants: acc.participants.size,
  });
  const truthById = new Map(history.truth.map((t) => [t.id, t]));
  return {
    byJurisdiction: Object.fromEntries([...byJurisdiction].map(([k, acc]) => [k, counts(acc)])),
    byCountry: Object.fromEntries([...byCountry].map(([k, acc]) => [k, counts(acc)])),
    byOrder: Object.fromEntries(
      [...byOrder].map(([id, acc]) => [
        id,
        {
          ...counts(acc),
          meetingsHostedInside: acc.hostedInside.size,
          meetingsHostedOutside: acc.hostedOutside.size,
          authorityJurisdiction: truthById.get(id)?.authority,
          blockJurisdictions: truthById.get(id)?.blocks,
        },
      ]),
    ),
  };
}

/** Denied joins naming the order in [from, until). */
function deniedJoins(id: string, from: number, until: number): number {
  return history.records.filter(
    (r) => r.code === "BLOCKED" && r.orderIds.includes(id) && atMs(r) >= from && atMs(r) < until,
  ).length;
}

const ordersById = new Map(history.orders.map((o) => [o.id, o]));

function expectedDataset(p: Period, deniedFrom: number): DatasetRow[] {
  return history.truth
    .filter((t) => t.completed !== undefined && t.completed >= p.start && t.completed < p.end)
    .sort(
      (a, b) =>
        (a.completed as number) - (b.completed as number) ||
        a.received - b.received ||
        (a.id < b.id ? -1 : 1),
    )
    .map((t) => ({
      period: p.id,
      authorityJurisdiction: t.authority,
      authorityKind: ordersById.get(t.id)?.authority.kind as string,
      targetKind: t.accountIds.length > 0 ? "account" : "meeting",
      requestedJurisdictions: t.blocks,
      blockJurisdictions: t.blocks,
      outcome: t.outcome as Outcome,
      // The generator rejects without a reason code: stored as `other`.
      reasonCode: t.outcome === "rejected" ? "other" : null,
      accountType: t.accountType ?? null,
      accountLocation: t.accountLocation ?? null,
      receivedDate: day(t.received),
      completedDate: day(t.completed as number),
      deniedJoins: deniedJoins(t.id, deniedFrom, p.end),
      removedParticipants: 0,
    }));
}

// ---- The tests ---------------------------------------------------------------------------------------

describe("the generated history", () => {
  it("has hundreds of orders in every outcome and tens of thousands of records with every code", () => {
    expect(history.orders.length).toBeGreaterThanOrEqual(500);
    const outcomes = new Map<string, number>();
    for (const t of history.truth)
      outcomes.set(t.outcome ?? "pending", (outcomes.get(t.outcome ?? "pending") ?? 0) + 1);
    for (const o of ["complied", "rejected", "withdrawn", "pending"])
      expect(outcomes.get(o)).toBeGreaterThan(30);
    expect(history.records.length).toBeGreaterThanOrEqual(40_000);
    const codes = new Map<string, number>();
    for (const r of history.records) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    for (const c of ["NO_ORDER", "OUTSIDE_JURISDICTION", "GEO_UNKNOWN", "SHADOW_MATCH", "BLOCKED"]) {
      expect(codes.get(c)).toBeGreaterThan(2_000);
    }
    expect(
      history.records.filter((r) => r.orderIds.length > 1 && r.code === "BLOCKED").length,
    ).toBeGreaterThan(100);
  });

  it("counts every record once in its month, whatever its code", () => {
    expect(allMonths.reduce((n, m) => n + m.records, 0)).toBe(history.records.length);
    for (const m of allMonths) {
      expect(m.records).toBe(history.records.filter((r) => r.at.startsWith(m.month)).length);
    }
  });

  it("repeats meetings and participants across months, so a sum of monthly distinct counts would be wrong", () => {
    const h = period("2023-H2");
    const merged = mergeMonths(monthsOf(h), "byJurisdiction");
    const overcounted = [...merged].filter(
      ([j, b]) =>
        monthsOf(h).reduce((n, m) => n + (m.byJurisdiction[j]?.participants.length ?? 0), 0) >
        b.participants.size,
    );
    expect(overcounted.length).toBeGreaterThan(0);
  });
});

const PERIODS = [
  "2022-H1",
  "2022-H2",
  "2023-H1",
  "2023-H2",
  "2024-H1",
  "2024-H2",
  "2023-Q3",
  "2023-07",
  "2024-02",
];

describe.each(PERIODS)("the report for %s", (label) => {
  const p = period(label);
  const report = buildReport({
    period: p,
    orders: history.orders,
    months: allMonths, // all of them: the build must keep only the period's
    history: allMonths, // all of them: the dataset must stop at the period's end
    generatedAt: GENERATED_AT,
  });

  it("names the period and its bounds", () => {
    expect(report).toMatchObject({
      period: label,
      start: new Date(p.start).toISOString(),
      end: new Date(p.end).toISOString(),
      generatedAt: GENERATED_AT,
      threshold: 0,
    });
  });

  it("counts the requests completed in the period per jurisdiction, account type and location, and those pending at its end", () => {
    const expected = expectedRequests(p.start, p.end);
    expect(report.requests).toEqual(expected);
    if (p.kind === "half") expect(expected.total).toBeGreaterThan(20);
  });

  it("counts denied joins, shadow matches and distinct meetings and participants per jurisdiction and per order", () => {
    const expected = expectedEnforcement(p.start, p.end);
    expect(report.enforcement).toEqual(expected);
    expect(Object.keys(expected.byOrder).length).toBeGreaterThan(0);
  });

  it("lists one dataset row per completed order, with its denied joins up to the period's end", () => {
    const expected = expectedDataset(p, HISTORY_START);
    expect(report.dataset).toEqual(expected);
    expect(report.dataset.length).toBe(report.requests.total);
  });

  it("counts the dataset's denied joins over the period's months when no history is given", () => {
    const own = buildReport({
      period: p,
      orders: history.orders,
      months: monthsOf(p),
      generatedAt: GENERATED_AT,
    });
    expect(own.dataset).toEqual(expectedDataset(p, p.start));
    expect(own.requests).toEqual(report.requests);
    expect(own.enforcement).toEqual(report.enforcement);
  });
});

describe("the dataset's denied joins", () => {
  it("exclude denials after the period's end, which the order keeps collecting while in force", () => {
    const h = period("2023-H1");
    const report = buildReport({
      period: h,
      orders: history.orders,
      months: monthsOf(h),
      history: allMonths,
      generatedAt: GENERATED_AT,
    });
    const complied = history.truth.filter(
      (t) =>
        (t.outcome === "complied" || t.outcome === "shadow") &&
        (t.completed as number) >= h.start &&
        (t.completed as number) < h.end,
    );
    const published = report.dataset.reduce((n, r) => n + r.deniedJoins, 0);
    expect(published).toBe(complied.reduce((n, t) => n + deniedJoins(t.id, HISTORY_START, h.end), 0));
    // The same orders deny again after June; those denials stay out of the H1 rows.
    expect(published).toBeLessThan(
      complied.reduce((n, t) => n + deniedJoins(t.id, HISTORY_START, HISTORY_END), 0),
    );
  });
});

describe("orders at the edge of a half-year", () => {
  const [approvedLastSecond, rejectedFirstInstant, withdrawnWithOffset, receivedLastSecond] =
    history.truth.slice(-4) as Truth[];
  const h1 = buildReport({
    period: period("2023-H1"),
    orders: history.orders,
    months: monthsOf(period("2023-H1")),
    generatedAt: GENERATED_AT,
  });
  const h2 = buildReport({
    period: period("2023-H2"),
    orders: history.orders,
    months: monthsOf(period("2023-H2")),
    generatedAt: GENERATED_AT,
  });
  const rowOf = (report: typeof h1, t: Truth) =>
    report.dataset.filter(
      (r) =>
        r.receivedDate === day(t.received) &&
        r.completedDate === day(t.completed as number) &&
        r.authorityJurisdiction === t.authority &&
        r.outcome === t.outcome,
    );

  it("counts an order approved at 2023-06-30T23:59:59Z in the first half-year", () => {
    expect(rowOf(h1, approvedLastSecond as Truth)).toHaveLength(1);
    expect(rowOf(h1, approvedLastSecond as Truth)[0]?.completedDate).toBe("2023-06-30");
    expect(rowOf(h2, approvedLastSecond as Truth)).toHaveLength(0);
  });

  it("counts an order rejected at 2023-07-01T00:00:00Z in the second half-year", () => {
    expect(rowOf(h2, rejectedFirstInstant as Truth)).toHaveLength(1);
    expect(rowOf(h2, rejectedFirstInstant as Truth)[0]?.completedDate).toBe("2023-07-01");
    expect(rowOf(h1, rejectedFirstInstant as Truth)).toHaveLength(0);
  });

  it("judges a withdrawal written as 01:59:59+02:00 on 1 July by its UTC instant, in the first half-year", () => {
    expect(rowOf(h1, withdrawnWithOffset as Truth)).toHaveLength(1);
    expect(rowOf(h1, withdrawnWithOffset as Truth)[0]?.completedDate).toBe("2023-06-30");
  });

  it("lists an order received at the first half-year's last second and approved at the second's first instant as pending, then complied", () => {
    const t = receivedLastSecond as Truth;
    const withOnly = (orders: typeof history.orders) =>
      buildReport({ period: period("2023-H1"), orders, months: [], generatedAt: GENERATED_AT });
    const order = history.orders.find((o) => o.id === t.id);
    expect(order).toBeDefined();
    expect(withOnly([order as (typeof history.orders)[number]]).requests.pendingAtEnd).toEqual({
      count: 1,
      byJurisdiction: { [t.authority]: 1 },
    });
    expect(rowOf(h2, t)).toHaveLength(1);
  });

  it("counts a denial at 23:59:59.999 on 30 June in the first half-year and one at midnight in the second", () => {
    const t = approvedLastSecond as Truth;
    expect(h1.enforcement.byOrder[t.id]?.deniedJoins).toBe(
      deniedJoins(t.id, period("2023-H1").start, period("2023-H1").end),
    );
    expect(h1.enforcement.byOrder[t.id]?.deniedJoins).toBeGreaterThanOrEqual(1);
    expect(h2.enforcement.byOrder[t.id]?.deniedJoins).toBeGreaterThanOrEqual(1);
  });
});

describe("buildReport's inputs", () => {
  it("refuses a threshold that is negative or not a whole number", () => {
    for (const threshold of [-1, 2.5, Number.NaN]) {
      expect(() =>
        buildReport({
          period: period("2023-H1"),
          orders: [],
          months: [],
          threshold,
          generatedAt: GENERATED_AT,
        }),
      ).toThrow(RangeError);
    }
  });

  it("gives an empty report for a period without orders or records", () => {
    const report = buildReport({
      period: period("2021-H1"),
      orders: history.orders,
      months: allMonths,
      generatedAt: GENERATED_AT,
    });
    expect(report.requests).toEqual({
      total: 0,
      byOutcome: { complied: 0, partially_complied: 0, shadow: 0, rejected: 0, withdrawn: 0 },
      byJurisdiction: {},
      byCountry: {},
      byReason: {
        invalid_service: 0,
        legally_invalid: 0,
        outside_jurisdiction: 0,
        insufficient_information: 0,
        no_such_target: 0,
        other: 0,
      },
      byAccountType: {},
      byAccountLocation: {},
      pendingAtEnd: { count: 0, byJurisdiction: {} },
    });
    expect(report.enforcement).toEqual({ byJurisdiction: {}, byCountry: {}, byOrder: {} });
    expect(report.dataset).toEqual([]);
  });
});

// ---- accumulate, record by record ---------------------------------------------------------------------

describe("accumulate", () => {
  const base: DecisionRecord = {
    decisionId: "d",
    at: "2023-07-10T12:00:00Z",
    meetingId: "m1",
    decision: "deny",
    code: "BLOCKED",
    orderIds: ["o1", "o2"],
    jurisdiction: "IN-MH",
    country: "IN",
    subdivision: "IN-MH",
    ipPrefix: "203.0.113.0/24",
    ipHash: "h1",
    rulesetVersion: 1,
    geoSource: "mmdb",
    geoDbVersion: null,
  };
  const empty = (): MonthAggregate => ({ month: "2023-07", records: 0, byJurisdiction: {}, byOrder: {} });

  it("counts a denial once under its jurisdiction and once under each order it names, and a shadow match apart, without its participant", () => {
    const m = empty();
    accumulate(m, base);
    accumulate(m, { ...base, decisionId: "d2", meetingId: "m2", ipHash: null });
    accumulate(m, {
      ...base,
      decisionId: "d3",
      code: "SHADOW_MATCH",
      decision: "allow",
      orderIds: ["o3"],
      ipHash: "h2",
    });
    const twoDenials = { deniedJoins: 2, shadowMatches: 0, meetings: ["m1", "m2"], participants: ["h1"] };
    expect(m).toEqual({
      month: "2023-07",
      records: 3,
      byJurisdiction: {
        "IN-MH": { deniedJoins: 2, shadowMatches: 1, meetings: ["m1", "m2"], participants: ["h1"] },
      },
      byOrder: {
        o1: twoDenials,
        o2: twoDenials,
        o3: { deniedJoins: 0, shadowMatches: 1, meetings: [], participants: [] },
      },
    });
  });

  it.each(["NO_ORDER", "OUTSIDE_JURISDICTION", "GEO_UNKNOWN"] as const)("only counts a %s record", (code) => {
    const m = empty();
    accumulate(m, { ...base, code, decision: "allow", jurisdiction: null });
    expect(m).toEqual({ ...empty(), records: 1 });
  });

  it("refuses a record of another month", () => {
    expect(() => accumulate(empty(), { ...base, at: "2023-08-01T00:00:00Z" })).toThrow(RangeError);
    expect(() => accumulate(empty(), { ...base, at: "2023-07-01T01:00:00+02:00" })).toThrow(/2023-06/);
  });

  it("keeps sets exact across a JSON round trip, as a store that writes the month between batches does", () => {
    const records = history.records.filter((r) => r.at.startsWith("2023-09"));
    const straight: MonthAggregate = { month: "2023-09", records: 0, byJurisdiction: {}, byOrder: {} };
    for (const r of records) accumulate(straight, r);
    let stored: MonthAggregate = { month: "2023-09", records: 0, byJurisdiction: {}, byOrder: {} };
    records.forEach((r, i) => {
      if (i % 97 === 0) stored = JSON.parse(JSON.stringify(stored)) as MonthAggregate;
      accumulate(stored, r);
    });
    expect(stored).toEqual(straight);
    for (const b of Object.values(straight.byOrder))
      expect(new Set(b.participants).size).toBe(b.participants.length);
  });
});
