/**
 * A generated history for the report tests: orders with random life cycles built through the real
 * engine (`OrderInput.parse`, `createOrder`, `transition`) at historical instants, and decision records
 * with a known mix of codes, jurisdictions, meetings and ip hashes. Alongside them, the generator keeps
 * its own account of what it did (`truth`), so tests compute expected counts from that account and the
 * record list, never through the code under test. Seeded, so every run sees the same history.
 */
import {
  createOrder,
  type DecisionCode,
  type DecisionRecord,
  type Order,
  OrderInput,
  transition,
} from "../../src/engine/index.js";
import type { MonthAggregate, Outcome } from "../../src/report/model.js";
import { DAY, HOUR } from "../support/fixtures.js";
import { prng } from "../support/prng.js";

// Still offered here, where the report tests have always found it.
export { prng };

/** What the generator did to one order, in epoch ms. */
export interface Truth {
  id: string;
  reference: string;
  authority: string;
  blocks: string[];
  accountType: string | undefined;
  accountLocation: string | undefined;
  meetingIds: string[];
  accountIds: string[];
  received: number;
  outcome: Outcome | undefined;
  completed: number | undefined;
  /** From when until when the order could deny (approved, not yet withdrawn). */
  inForce: [number, number] | undefined;
}

export interface History {
  orders: Order[];
  truth: Truth[];
  records: DecisionRecord[];
  /** Every identifier the history uses, for the tests that check none of them is published. */
  meetingPool: string[];
  accountPool: string[];
  ipPrefixes: string[];
  ipHashes: string[];
}

export const HISTORY_START = Date.parse("2022-01-01T00:00:00Z");
/** Orders are received until here; their completions and the records run to the end of 2024. */
const RECEIVED_UNTIL = Date.parse("2024-09-01T00:00:00Z");
export const HISTORY_END = Date.parse("2025-01-01T00:00:00Z");

const AUTHORITIES: { jurisdiction: string; blocks: string[]; kind: string; name: string }[] = [
  { jurisdiction: "IN", blocks: ["IN", "IN-MH", "IN-DL", "IN-KA"], kind: "agency", name: "Ministry" },
  { jurisdiction: "IN-MH", blocks: ["IN-MH"], kind: "court", name: "Bombay High Court" },
  { jurisdiction: "RU", blocks: ["RU", "RU-MOW", "RU-SPE"], kind: "regulator", name: "Regulator" },
  { jurisdiction: "TR", blocks: ["TR", "TR-34", "TR-06"], kind: "court", name: "Criminal Judgeship" },
  { jurisdiction: "BR", blocks: ["BR", "BR-SP"], kind: "court", name: "Superior Court" },
  { jurisdiction: "DE", blocks: ["DE", "DE-BY"], kind: "police", name: "Landeskriminalamt" },
  { jurisdiction: "PK", blocks: ["PK", "PK-PB"], kind: "regulator", name: "Telecom Authority" },
];
const ACCOUNT_TYPES = ["basic", "business", "education", "enterprise", "no_account", "pro", "phone"];
const LOCATIONS = ["IN", "RU", "TR", "BR", "DE", "PK", "NL", "US"];

/** An instant written with the given UTC offset, as authorities' systems and the console may send it. */
export function instant(ms: number, offsetMinutes = 0): string {
  if (offsetMinutes === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export function generateHistory(seed: number, size = { orders: 600, records: 40_000 }): History {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
  const hex = (chars: number) => Array.from({ length: chars }, () => int(16).toString(16)).join("");
  const offset = () => pick([0, 0, 0, 120, -300, 330]);

  const meetingPool = Array.from(
    { length: 400 },
    (_, i) => `8${String(1_000_000_000 + i * 7_919 + int(7_000))}`,
  );
  const accountPool = Array.from({ length: 150 }, () => `acct_${hex(10)}`);
  const ipPrefixes = Array.from({ length: 300 }, (_, i) =>
    i % 5 === 0 ? `2001:db8:${hex(4)}::/48` : `${11 + int(200)}.${int(256)}.${int(256)}.0/24`,
  );
  const ipHashes = Array.from({ length: 3_000 }, () => hex(64));

  const orders: Order[] = [];
  const truth: Truth[] = [];

  /** Builds one order through the engine and records what was done to it. */
  const add = (spec: {
    received: number;
    lifecycle: "pending" | "approved" | "rejected" | "withdrawn" | "approved-withdrawn";
    decided?: number;
    withdrawn?: number;
    decidedText?: string;
    withdrawnText?: string;
  }) => {
    const n = orders.length;
    const id = `ord_${String(n).padStart(5, "0")}x${hex(6)}`;
    const reference = `CASE/${n}/${hex(4).toUpperCase()}`;
    const authority = pick(AUTHORITIES);
    const blocks = [...new Set([pick(authority.blocks), pick(authority.blocks)])];
    const accountType = random() < 0.2 ? undefined : pick(ACCOUNT_TYPES);
    const accountLocation = random() < 0.25 ? undefined : pick(LOCATIONS);
    const byAccount = random() < 0.3;
    const meetingIds = byAccount ? [] : [...new Set([pick(meetingPool), pick(meetingPool)])];
    const accountIds = byAccount ? [pick(accountPool)] : [];
    const shadow = random() < 0.1;
    // Approved in shadow mode: observed only, reported as `shadow` (DESIGN "Report"), never complied.
    const approvedAs: Outcome = shadow ? "shadow" : "complied";
    const input = OrderInput.parse({
      reference,
      authority: { name: authority.name, jurisdiction: authority.jurisdiction, kind: authority.kind },
      jurisdictions: blocks,
      target: byAccount ? { kind: "account", accountIds } : { kind: "meeting", meetingIds },
      receivedAt: instant(spec.received, offset()),
      ...(shadow ? { mode: "shadow" } : {}),
      ...(accountType ? { accountType } : {}),
      ...(accountLocation ? { accountLocation } : {}),
    });
    let order = createOrder(input, { id, actor: "responder-1", at: instant(spec.received + HOUR) });
    const decidedText =
      spec.decidedText ?? (spec.decided === undefined ? "" : instant(spec.decided, offset()));
    const withdrawnText =
      spec.withdrawnText ?? (spec.withdrawn === undefined ? "" : instant(spec.withdrawn, offset()));
    let outcome: Outcome | undefined;
    let completed: number | undefined;
    let inForce: [number, number] | undefined;
    switch (spec.lifecycle) {
      case "pending":
        break;
      case "approved":
        order = transition(order, { type: "approve" }, "approver-1", decidedText);
        [outcome, completed, inForce] = [approvedAs, spec.decided, [spec.decided as number, HISTORY_END]];
        break;
      case "rejected":
        order = transition(order, { type: "reject", reason: "no legal basis" }, "approver-1", decidedText);
        [outcome, completed] = ["rejected", spec.decided];
        break;
      case "withdrawn":
        order = transition(order, { type: "withdraw" }, "responder-2", withdrawnText);
        [outcome, completed] = ["withdrawn", spec.withdrawn];
        break;
      case "approved-withdrawn":
        order = transition(order, { type: "approve" }, "approver-1", decidedText);
        order = transition(order, { type: "withdraw" }, "responder-2", withdrawnText);
        [outcome, completed, inForce] = [
          approvedAs,
          spec.decided,
          [spec.decided as number, spec.withdrawn as number],
        ];
        break;
    }
    orders.push(order);
    truth.push({
      id,
      reference,
      authority: authority.jurisdiction,
      blocks,
      accountType,
      accountLocation,
      meetingIds,
      accountIds,
      received: spec.received,
      outcome,
      completed,
      inForce,
    });
  };

  for (let i = 0; i < size.orders; i++) {
    const received = HISTORY_START + int(RECEIVED_UNTIL - HISTORY_START);
    const decided = received + int(90 * DAY);
    const roll = random();
    if (roll < 0.12) add({ received, lifecycle: "pending" });
    else if (roll < 0.57) add({ received, lifecycle: "approved", decided });
    else if (roll < 0.72) add({ received, lifecycle: "rejected", decided });
    else if (roll < 0.84) add({ received, lifecycle: "withdrawn", withdrawn: decided });
    else add({ received, lifecycle: "approved-withdrawn", decided, withdrawn: decided + 1 + int(120 * DAY) });
  }

  // The half-year's edge, exactly (DESIGN acceptance): the last second of H1 and the first instant of H2.
  const h1Last = Date.parse("2023-06-30T23:59:59Z");
  const h2First = Date.parse("2023-07-01T00:00:00Z");
  add({
    received: h1Last - 30 * DAY,
    lifecycle: "approved",
    decided: h1Last,
    decidedText: "2023-06-30T23:59:59Z",
  });
  add({
    received: h1Last - 20 * DAY,
    lifecycle: "rejected",
    decided: h2First,
    decidedText: "2023-07-01T00:00:00Z",
  });
  add({
    received: h1Last - 10 * DAY,
    lifecycle: "withdrawn",
    withdrawn: h1Last,
    withdrawnText: "2023-07-01T01:59:59+02:00",
  });
  add({ received: h1Last, lifecycle: "approved", decided: h2First, decidedText: "2023-07-01T00:00:00Z" });

  // Decision records: a known mix of codes. BLOCKED and SHADOW_MATCH name orders in force at the time.
  const inForce = truth.filter((t) => t.inForce !== undefined);
  const records: DecisionRecord[] = [];
  const record = (at: number, code: DecisionCode, named: Truth[]) => {
    const first = named[0];
    const matched = first !== undefined && (code === "BLOCKED" || code === "SHADOW_MATCH");
    const meetingId = first?.meetingIds.length ? pick(first.meetingIds) : pick(meetingPool);
    const prefix = pick(ipPrefixes);
    records.push({
      decisionId: `dec_${records.length}_${hex(8)}`,
      at: new Date(at).toISOString(),
      meetingId,
      ...(first?.accountIds.length
        ? { accountId: pick(first.accountIds) }
        : random() < 0.3
          ? { accountId: pick(accountPool) }
          : {}),
      decision: code === "BLOCKED" ? "deny" : "allow",
      code,
      orderIds: named.map((t) => t.id),
      jurisdiction: matched ? pick(first.blocks) : null,
      country: code === "GEO_UNKNOWN" ? null : pick(LOCATIONS),
      subdivision: null,
      ipPrefix: random() < 0.03 ? null : prefix,
      ipHash: random() < 0.05 ? null : pick(ipHashes),
      rulesetVersion: 1 + int(50),
      geoSource: "mmdb",
      geoDbVersion: "2024-01-01",
    });
  };
  for (let i = 0; i < size.records; i++) {
    const at = HISTORY_START + int(HISTORY_END - HISTORY_START);
    const roll = random();
    const code: DecisionCode =
      roll < 0.35
        ? "NO_ORDER"
        : roll < 0.55
          ? "OUTSIDE_JURISDICTION"
          : roll < 0.65
            ? "GEO_UNKNOWN"
            : roll < 0.75
              ? "SHADOW_MATCH"
              : "BLOCKED";
    if (code === "NO_ORDER") {
      record(at, code, []);
      continue;
    }
    const candidates = inForce.filter(
      (t) => at >= (t.inForce as [number, number])[0] && at < (t.inForce as [number, number])[1],
    );
    if (candidates.length === 0) {
      record(at, "NO_ORDER", []);
      continue;
    }
    const named = [pick(candidates)];
    if (random() < 0.15) {
      const second = pick(candidates);
      if (second !== named[0]) named.push(second);
    }
    record(at, code, named);
  }
  // Records on both sides of the H1/H2 edge, for the order approved at its last second.
  const edge = truth[truth.length - 4] as Truth;
  record(Date.parse("2023-06-30T23:59:59.999Z"), "BLOCKED", [edge]);
  record(h2First, "BLOCKED", [edge]);

  return { orders, truth, records, meetingPool, accountPool, ipPrefixes, ipHashes };
}

/** Accumulates records month by month with the given rule; months named by the record's UTC `at`. */
export function byMonth(
  records: readonly DecisionRecord[],
  accumulate: (month: MonthAggregate, record: DecisionRecord) => void,
): Map<string, MonthAggregate> {
  const months = new Map<string, MonthAggregate>();
  for (const record of records) {
    const key = record.at.slice(0, 7);
    let month = months.get(key);
    if (month === undefined) {
      month = { month: key, records: 0, byJurisdiction: {}, byOrder: {} };
      months.set(key, month);
    }
    accumulate(month, record);
  }
  return months;
}
