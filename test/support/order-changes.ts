/**
 * Random order changes for the engine's property tests of incremental versions (`recompile`, deltas):
 * orders of India's or Russia's authority on meetings or accounts, entered, approved, withdrawn,
 * rejected or slipped past I1, and `expectSame`, which holds two rulesets to the same hash, orders,
 * index, exclusions and decisions.
 */
import fc from "fast-check";
import { expect } from "vitest";
import {
  type CheckFacts,
  decide,
  type GeoLocation,
  type Order,
  type Ruleset,
  transition,
} from "../../src/engine/index.js";
import { HOUR, iso, NOON } from "./fixtures.js";
import { approve, pending } from "./rulesets.js";

export const IDS = ["o-a", "o-b", "o-c", "o-d", "o-e", "o-f", "o-g", "o-h"];
const MEETINGS = ["m-1", "m-2", "m-3", "m-4"];
const ACCOUNTS = ["acct-1", "acct-2", "acct-3"];
const PLACES: GeoLocation[] = [
  { country: "IN", subdivisions: ["IN-MH"] },
  { country: "IN", subdivisions: ["IN-KA"] },
  { country: "IN", subdivisions: [] },
  { country: "RU", subdivisions: [] },
  { country: "US", subdivisions: ["US-CA"] },
];

/** An order input: India's or Russia's authority, meeting or account targets, windows, modes, actions. */
const orderFields = fc.record({
  russia: fc.boolean(),
  blocks: fc.subarray(["IN-MH", "IN-KA", "IN"], { minLength: 1 }),
  meeting: fc.boolean(),
  targets: fc.integer({ min: 0, max: 15 }),
  shadow: fc.boolean(),
  hosting: fc.boolean(),
  exempt: fc.subarray(ACCOUNTS),
  until: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
});

type Fields = typeof orderFields extends fc.Arbitrary<infer T> ? T : never;

function overrides(f: Fields) {
  const pick = (list: string[]) => list.filter((_, i) => (f.targets >> i) & 1);
  const meetings = pick(MEETINGS);
  const accounts = pick(ACCOUNTS);
  return {
    ...(f.russia
      ? { authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" }, jurisdictions: ["RU"] }
      : { jurisdictions: f.blocks }),
    target: f.meeting
      ? { kind: "meeting", meetingIds: meetings.length > 0 ? meetings : ["m-1"] }
      : { kind: "account", accountIds: accounts.length > 0 ? accounts : ["acct-1"] },
    mode: f.shadow ? "shadow" : "enforce",
    action: f.hosting ? "prevent_hosting" : "geoblock",
    exemptAccountIds: f.meeting ? f.exempt : f.exempt.filter((a) => !accounts.includes(a) && a !== "acct-1"),
    ...(f.until === undefined ? {} : { effectiveUntil: iso(NOON + f.until * HOUR) }),
  };
}

/** One change: an order (re)entered pending, approved, withdrawn, or replaced by a differently-made one. */
export const change = fc.record({
  id: fc.constantFrom(...IDS),
  kind: fc.constantFrom("approve", "approve", "pending", "withdraw", "reject", "slipped"),
  fields: orderFields,
});

export type Change = typeof change extends fc.Arbitrary<infer T> ? T : never;

export function apply(orders: Map<string, Order>, c: Change): Order {
  const fresh = pending(c.id, overrides(c.fields));
  const current = orders.get(c.id);
  let next: Order;
  switch (c.kind) {
    case "approve":
      next = approve(fresh);
      break;
    case "pending":
      next = fresh;
      break;
    case "reject":
      next = transition(fresh, { type: "reject", reason: "no" }, "approver-1", iso(NOON - HOUR));
      break;
    case "withdraw":
      next = transition(
        current?.status === "approved" ? current : approve(fresh),
        { type: "withdraw" },
        "responder-1",
        iso(NOON - HOUR),
      );
      break;
    case "slipped":
      // Approved, then edited by hand past I1 (an old order the table now refuses): compile leaves it out.
      next = {
        ...approve(fresh),
        jurisdictions: ["CN-HK"],
        authority: { name: "X", jurisdiction: "CN", kind: "court" },
      };
      break;
  }
  orders.set(c.id, next);
  return next;
}

function facts(): CheckFacts[] {
  const out: CheckFacts[] = [];
  for (const meetingId of [...MEETINGS, "m-none"])
    for (const accountId of [undefined, "acct-1", "acct-3"])
      for (const location of PLACES)
        for (const role of ["participant", "host"] as const)
          out.push({
            meetingId,
            ...(accountId === undefined ? {} : { accountId }),
            location,
            role,
          } as CheckFacts);
  return out;
}
export const FACTS = facts();
export const TIMES = [NOON - 30 * HOUR, NOON, NOON + 2 * HOUR];

export function expectSame(incremental: Ruleset, full: Ruleset): void {
  expect(incremental.hash).toBe(full.hash);
  expect(incremental.orders).toEqual(full.orders);
  expect(new Map(incremental.meetings)).toEqual(new Map(full.meetings));
  expect(new Map(incremental.accounts)).toEqual(new Map(full.accounts));
  expect(incremental.meetings.size).toBe(full.meetings.size);
  expect(incremental.accounts.size).toBe(full.accounts.size);
  const byId = (list: readonly { id: string; reason: string }[]) =>
    [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  expect(byId(incremental.excluded)).toEqual(byId(full.excluded));
  for (const now of TIMES)
    for (const f of FACTS) expect(decide(incremental, f, now)).toEqual(decide(full, f, now));
}
