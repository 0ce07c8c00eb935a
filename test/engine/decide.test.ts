/**
 * `decide(ruleset, facts, now)`, table-driven. Every order is built the way production builds it:
 * `OrderInput.parse` -> `createOrder` -> `transition` (approved by a second person) -> `compile`.
 */
import { describe, expect, it } from "vitest";
import {
  type CheckFacts,
  compile,
  createOrder,
  decide,
  type GeoLocation,
  type Order,
  OrderInput,
  transition,
  type Verdict,
} from "../../src/engine/index.js";
// T0: the clock every case is judged against unless it says otherwise.
import { HOUR, iso, NOON as T0 } from "../support/fixtures.js";

type Life = "approved" | "pending" | "rejected" | "withdrawn-while-pending" | "withdrawn-after-approval";

interface OrderSpec {
  id: string;
  authority: string;
  blocks: string[];
  meetings?: string[];
  accounts?: string[];
  from?: number;
  until?: number;
  mode?: "enforce" | "shadow";
  action?: "geoblock" | "prevent_hosting";
  exempt?: string[];
  life?: Life;
  /** When the second person approves; the default start of enforcement. */
  approvedAt?: number;
}

function order(spec: OrderSpec): Order {
  const input = OrderInput.parse({
    reference: `WP/${spec.id}/2026`,
    authority: { name: `Court of ${spec.authority}`, jurisdiction: spec.authority, kind: "court" },
    jurisdictions: spec.blocks,
    target: spec.accounts
      ? { kind: "account", accountIds: spec.accounts }
      : { kind: "meeting", meetingIds: spec.meetings ?? ["m-1"] },
    receivedAt: iso(T0 - 48 * HOUR),
    ...(spec.from === undefined ? {} : { effectiveFrom: iso(spec.from) }),
    ...(spec.until === undefined ? {} : { effectiveUntil: iso(spec.until) }),
    ...(spec.mode === undefined ? {} : { mode: spec.mode }),
    ...(spec.action === undefined ? {} : { action: spec.action }),
    ...(spec.exempt === undefined ? {} : { exemptAccountIds: spec.exempt }),
  });
  const created = createOrder(input, { id: spec.id, actor: "responder-1", at: iso(T0 - 47 * HOUR) });
  const decidedAt = iso(spec.approvedAt ?? T0 - 24 * HOUR);
  const approve = () => transition(created, { type: "approve" }, "approver-1", decidedAt);
  switch (spec.life ?? "approved") {
    case "approved":
      return approve();
    case "pending":
      return created;
    case "rejected":
      return transition(created, { type: "reject", reason: "not lawful" }, "approver-1", decidedAt);
    case "withdrawn-while-pending":
      return transition(created, { type: "withdraw" }, "responder-1", decidedAt);
    case "withdrawn-after-approval":
      return transition(approve(), { type: "withdraw" }, "responder-1", iso(T0 - HOUR));
  }
}

const at = (country: string, ...subdivisions: string[]): GeoLocation => ({ country, subdivisions });
const meeting = (location: GeoLocation | null, meetingId = "m-1"): CheckFacts => ({ meetingId, location });
const host = (location: GeoLocation | null, accountId?: string): CheckFacts => ({
  meetingId: "m-1",
  location,
  role: "host",
  ...(accountId === undefined ? {} : { accountId }),
});
const account = (accountId: string, location: GeoLocation | null, meetingId = "m-1"): CheckFacts => ({
  meetingId,
  accountId,
  location,
});
const exempt = (jurisdiction: string | null, ...orderIds: string[]): Verdict => ({
  decision: "allow",
  code: "EXEMPT",
  orderIds,
  jurisdiction,
});

const allow = (code: Verdict["code"], orderIds: string[] = []): Verdict => ({
  decision: "allow",
  code,
  orderIds,
  jurisdiction: null,
});
const NO_ORDER = allow("NO_ORDER");
const blocked = (jurisdiction: string, ...orderIds: string[]): Verdict => ({
  decision: "deny",
  code: "BLOCKED",
  orderIds,
  jurisdiction,
});
const shadowMatch = (jurisdiction: string, ...orderIds: string[]): Verdict => ({
  decision: "allow",
  code: "SHADOW_MATCH",
  orderIds,
  jurisdiction,
});

interface Case {
  name: string;
  orders: Order[];
  facts: CheckFacts;
  now?: number;
  expected: Verdict;
}

const india = { id: "o-in", authority: "IN", blocks: ["IN"] };
const maharashtra = { id: "o-mh", authority: "IN", blocks: ["IN-MH"] };

const cases: Record<string, Case[]> = {
  "codes and jurisdictions": [
    {
      name: "allows with NO_ORDER when the ruleset is empty",
      orders: [],
      facts: meeting(at("IN", "IN-MH")),
      expected: NO_ORDER,
    },
    {
      name: "allows with NO_ORDER when the orders name other meetings",
      orders: [order({ ...india, meetings: ["m-2", "m-3"] })],
      facts: meeting(at("IN")),
      expected: NO_ORDER,
    },
    {
      name: "denies a participant located in the blocked country",
      orders: [order(india)],
      facts: meeting(at("IN")),
      expected: blocked("IN", "o-in"),
    },
    {
      name: "denies a participant located in the blocked region",
      orders: [order(maharashtra)],
      facts: meeting(at("IN", "IN-MH")),
      expected: blocked("IN-MH", "o-mh"),
    },
    {
      name: "denies a participant anywhere in the country under a country-wide order, region known or not",
      orders: [order(india)],
      facts: meeting(at("IN", "IN-KA")),
      expected: blocked("IN", "o-in"),
    },
    {
      name: "allows a participant in another country with OUTSIDE_JURISDICTION",
      orders: [order(india)],
      facts: meeting(at("PK", "PK-PB")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-in"]),
    },
    {
      name: "allows a participant in another region of the same country with OUTSIDE_JURISDICTION",
      orders: [order(maharashtra)],
      facts: meeting(at("IN", "IN-KA")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-mh"]),
    },
    {
      name: "allows a participant in another country of a regional order even when the region is unknown",
      orders: [order(maharashtra)],
      facts: meeting(at("NL")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-mh"]),
    },
    {
      name: "fails open with GEO_UNKNOWN when the location is unknown",
      orders: [order(india)],
      facts: meeting(null),
      expected: allow("GEO_UNKNOWN", ["o-in"]),
    },
    {
      name: "fails open with GEO_UNKNOWN for a regional order when the database knows only the country",
      orders: [order(maharashtra)],
      facts: meeting(at("IN")),
      expected: allow("GEO_UNKNOWN", ["o-mh"]),
    },
    {
      name: "never places a participant in another country's region because of a stray subdivision code",
      orders: [order(maharashtra)],
      facts: meeting(at("NL", "IN-MH")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-mh"]),
    },
    {
      name: "names the matching block jurisdiction of an order that blocks several",
      orders: [order({ id: "o-south", authority: "IN", blocks: ["IN-MH", "IN-KA", "IN-DL"] })],
      facts: meeting(at("IN", "IN-KA")),
      expected: blocked("IN-KA", "o-south"),
    },
    {
      name: "reports a denial under the most specific block when an order names a country and its region",
      orders: [order({ id: "o-both", authority: "IN", blocks: ["IN", "IN-MH"] })],
      facts: meeting(at("IN", "IN-MH")),
      expected: blocked("IN-MH", "o-both"),
    },
  ],

  "nested subdivisions": [
    {
      name: "denies in Babək under an order on Naxçıvan when the source reports both levels",
      orders: [order({ id: "o-nx", authority: "AZ", blocks: ["AZ-NX"] })],
      facts: meeting(at("AZ", "AZ-NX", "AZ-BAB")),
      expected: blocked("AZ-NX", "o-nx"),
    },
    {
      name: "denies in Babək under an order on Naxçıvan when the source reports only Babək",
      orders: [order({ id: "o-nx", authority: "AZ", blocks: ["AZ-NX"] })],
      facts: meeting(at("AZ", "AZ-BAB")),
      expected: blocked("AZ-NX", "o-nx"),
    },
    {
      name: "denies in Babək under an order of the Naxçıvan authority on Babək",
      orders: [order({ id: "o-bab", authority: "AZ-NX", blocks: ["AZ-BAB"] })],
      facts: meeting(at("AZ", "AZ-NX", "AZ-BAB")),
      expected: blocked("AZ-BAB", "o-bab"),
    },
    {
      name: "fails open for an order on Babək when the source knows only Naxçıvan (too coarse)",
      orders: [order({ id: "o-bab", authority: "AZ-NX", blocks: ["AZ-BAB"] })],
      facts: meeting(at("AZ", "AZ-NX")),
      expected: allow("GEO_UNKNOWN", ["o-bab"]),
    },
    {
      name: "allows a participant in another district of Naxçıvan under an order on Babək",
      orders: [order({ id: "o-bab", authority: "AZ-NX", blocks: ["AZ-BAB"] })],
      facts: meeting(at("AZ", "AZ-NX", "AZ-CUL")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-bab"]),
    },
    {
      name: "allows a participant in Baku under an order on Naxçıvan",
      orders: [order({ id: "o-nx", authority: "AZ", blocks: ["AZ-NX"] })],
      facts: meeting(at("AZ", "AZ-BA")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-nx"]),
    },
    {
      name: "denies in Kent under an order on Kent when the source reports England and Kent",
      orders: [order({ id: "o-ken", authority: "GB", blocks: ["GB-KEN"] })],
      facts: meeting(at("GB", "GB-ENG", "GB-KEN")),
      expected: blocked("GB-KEN", "o-ken"),
    },
    {
      name: "denies in Kent under an order on England when the source reports England and Kent",
      orders: [order({ id: "o-eng", authority: "GB", blocks: ["GB-ENG"] })],
      facts: meeting(at("GB", "GB-ENG", "GB-KEN")),
      expected: blocked("GB-ENG", "o-eng"),
    },
    {
      name: "allows a participant in Kent under an order on Scotland",
      orders: [order({ id: "o-sct", authority: "GB", blocks: ["GB-SCT"] })],
      facts: meeting(at("GB", "GB-ENG", "GB-KEN")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-sct"]),
    },
    {
      // The table puts Kent in England (the iso-3166 data puts it directly under GB): too coarse.
      name: "fails open for an order on Kent when the source knows only England (too coarse)",
      orders: [order({ id: "o-ken", authority: "GB", blocks: ["GB-KEN"] })],
      facts: meeting(at("GB", "GB-ENG")),
      expected: allow("GEO_UNKNOWN", ["o-ken"]),
    },
    {
      name: "denies in Kent under an order on England when the source reports only Kent",
      orders: [order({ id: "o-eng", authority: "GB-ENG", blocks: ["GB-ENG"] })],
      facts: meeting(at("GB", "GB-KEN")),
      expected: blocked("GB-ENG", "o-eng"),
    },
    {
      name: "denies in Glasgow under a Scottish authority's order on Glasgow",
      orders: [order({ id: "o-glg", authority: "GB-SCT", blocks: ["GB-GLG"] })],
      facts: meeting(at("GB", "GB-SCT", "GB-GLG")),
      expected: blocked("GB-GLG", "o-glg"),
    },
  ],

  "enforcement windows (judged by now, no recompile)": [
    {
      name: "enforces an order one millisecond before effectiveUntil",
      orders: [order({ ...india, until: T0 + HOUR })],
      facts: meeting(at("IN")),
      now: T0 + HOUR - 1,
      expected: blocked("IN", "o-in"),
    },
    {
      name: "no longer enforces an order exactly at effectiveUntil",
      orders: [order({ ...india, until: T0 + HOUR })],
      facts: meeting(at("IN")),
      now: T0 + HOUR,
      expected: NO_ORDER,
    },
    {
      name: "does not yet enforce an order scheduled to start in the future",
      orders: [order({ ...india, from: T0 + HOUR })],
      facts: meeting(at("IN")),
      now: T0 + HOUR - 1,
      expected: NO_ORDER,
    },
    {
      name: "enforces a scheduled order exactly at effectiveFrom",
      orders: [order({ ...india, from: T0 + HOUR, until: T0 + 2 * HOUR })],
      facts: meeting(at("IN")),
      now: T0 + HOUR,
      expected: blocked("IN", "o-in"),
    },
    {
      name: "does not enforce an order without effectiveFrom before it was approved",
      orders: [order({ ...india, approvedAt: T0 })],
      facts: meeting(at("IN")),
      now: T0 - 1,
      expected: NO_ORDER,
    },
    {
      name: "enforces an order without effectiveFrom from the moment it was approved",
      orders: [order({ ...india, approvedAt: T0 })],
      facts: meeting(at("IN")),
      now: T0,
      expected: blocked("IN", "o-in"),
    },
    {
      name: "enforces from effectiveFrom even when the approval came later",
      orders: [order({ ...india, from: T0 - 2 * HOUR, approvedAt: T0 })],
      facts: meeting(at("IN")),
      now: T0 - HOUR,
      expected: blocked("IN", "o-in"),
    },
    {
      name: "compares instants, not the text of their offsets",
      orders: [
        order({
          ...india,
          // 17:30 in India is 12:00 UTC: the order ends exactly at T0.
          until: Date.parse("2026-03-01T17:30:00+05:30"),
        }),
      ],
      facts: meeting(at("IN")),
      now: T0,
      expected: NO_ORDER,
    },
  ],

  "order status": [
    {
      name: "never denies on a pending order",
      orders: [order({ ...india, life: "pending" })],
      facts: meeting(at("IN")),
      expected: NO_ORDER,
    },
    {
      name: "never denies on a rejected order",
      orders: [order({ ...india, life: "rejected" })],
      facts: meeting(at("IN")),
      expected: NO_ORDER,
    },
    {
      name: "never denies on an order withdrawn while pending",
      orders: [order({ ...india, life: "withdrawn-while-pending" })],
      facts: meeting(at("IN")),
      expected: NO_ORDER,
    },
    {
      name: "never denies on an order withdrawn after approval",
      orders: [order({ ...india, life: "withdrawn-after-approval" })],
      facts: meeting(at("IN")),
      expected: NO_ORDER,
    },
  ],

  "shadow mode": [
    {
      name: "allows with SHADOW_MATCH where a shadow order would deny",
      orders: [order({ ...india, id: "o-shadow", mode: "shadow" })],
      facts: meeting(at("IN", "IN-MH")),
      expected: shadowMatch("IN", "o-shadow"),
    },
    {
      name: "allows with OUTSIDE_JURISDICTION where a shadow order would not deny",
      orders: [order({ ...india, id: "o-shadow", mode: "shadow" })],
      facts: meeting(at("NL")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-shadow"]),
    },
    {
      name: "allows with GEO_UNKNOWN under a shadow order when the location is unknown",
      orders: [order({ ...india, id: "o-shadow", mode: "shadow" })],
      facts: meeting(null),
      expected: allow("GEO_UNKNOWN", ["o-shadow"]),
    },
    {
      name: "denies with only the enforcing order's id when an enforce and a shadow order both match",
      orders: [order({ ...maharashtra, id: "o-a-shadow", mode: "shadow" }), order(maharashtra)],
      facts: meeting(at("IN", "IN-MH")),
      expected: blocked("IN-MH", "o-mh"),
    },
    {
      name: "reports SHADOW_MATCH over an enforcing order the participant is outside of",
      orders: [
        order({ ...india, id: "o-shadow", mode: "shadow" }),
        order({ id: "o-ru", authority: "RU", blocks: ["RU"] }),
      ],
      facts: meeting(at("IN")),
      expected: shadowMatch("IN", "o-shadow"),
    },
    {
      name: "reports SHADOW_MATCH over an enforcing order the location is too coarse for",
      orders: [order({ ...india, id: "o-shadow", mode: "shadow" }), order(maharashtra)],
      facts: meeting(at("IN")),
      expected: shadowMatch("IN", "o-shadow"),
    },
  ],

  "account orders": [
    {
      name: "denies a participant whose account is named by the order",
      orders: [order({ ...india, id: "o-acct", accounts: ["acct-1"] })],
      facts: { meetingId: "m-9", accountId: "acct-1", location: at("IN") },
      expected: blocked("IN", "o-acct"),
    },
    {
      name: "does not apply an account order to a participant who joins without an account",
      orders: [order({ ...india, id: "o-acct", accounts: ["acct-1"] })],
      facts: { meetingId: "m-9", location: at("IN") },
      expected: NO_ORDER,
    },
    {
      name: "does not apply an account order to another account",
      orders: [order({ ...india, id: "o-acct", accounts: ["acct-1"] })],
      facts: { meetingId: "m-9", accountId: "acct-2", location: at("IN") },
      expected: NO_ORDER,
    },
    {
      name: "does not match an account order by a meeting id equal to the account id",
      orders: [order({ ...india, id: "o-acct", accounts: ["acct-1"] })],
      facts: { meetingId: "acct-1", location: at("IN") },
      expected: NO_ORDER,
    },
    {
      name: "lists both the meeting order and the account order that deny",
      orders: [order({ ...india, id: "o-acct", accounts: ["acct-1"] }), order({ ...india, id: "o-meeting" })],
      facts: { meetingId: "m-1", accountId: "acct-1", location: at("IN") },
      expected: blocked("IN", "o-meeting", "o-acct"),
    },
  ],

  "several orders on one meeting": [
    {
      name: "denies in Russia on the Russian order alone when India and Russia both block the meeting",
      orders: [order(maharashtra), order({ id: "o-ru", authority: "RU", blocks: ["RU"] })],
      facts: meeting(at("RU", "RU-MOW")),
      expected: blocked("RU", "o-ru"),
    },
    {
      name: "denies in Maharashtra on the Indian order alone when India and Russia both block the meeting",
      orders: [order(maharashtra), order({ id: "o-ru", authority: "RU", blocks: ["RU"] })],
      facts: meeting(at("IN", "IN-MH")),
      expected: blocked("IN-MH", "o-mh"),
    },
    {
      name: "allows elsewhere with OUTSIDE_JURISDICTION, listing every order in force",
      orders: [order(maharashtra), order({ id: "o-ru", authority: "RU", blocks: ["RU"] })],
      facts: meeting(at("NL", "NL-NH")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-mh", "o-ru"]),
    },
    {
      name: "prefers GEO_UNKNOWN over OUTSIDE_JURISDICTION when one order cannot be judged",
      orders: [order(maharashtra), order({ id: "o-ru", authority: "RU", blocks: ["RU"] })],
      facts: meeting(at("IN")),
      expected: allow("GEO_UNKNOWN", ["o-mh", "o-ru"]),
    },
    {
      name: "lists only the order in force when another on the meeting has expired",
      orders: [order({ ...india, id: "o-expired", until: T0 - HOUR }), order({ ...india, id: "o-live" })],
      facts: meeting(at("IN")),
      expected: blocked("IN", "o-live"),
    },
    {
      name: "answers NO_ORDER when every order on the meeting has expired",
      orders: [order({ ...india, id: "o-1", until: T0 - HOUR }), order({ ...maharashtra, until: T0 })],
      facts: meeting(at("IN", "IN-MH")),
      expected: NO_ORDER,
    },
    {
      name: "lists every enforcing order that matches, under the most specific matching jurisdiction",
      orders: [order(maharashtra), order(india)],
      facts: meeting(at("IN", "IN-MH")),
      expected: blocked("IN-MH", "o-in", "o-mh"),
    },
    {
      name: "leaves a meeting the orders do not name alone",
      orders: [order(maharashtra), order(india)],
      facts: meeting(at("IN", "IN-MH"), "m-2"),
      expected: NO_ORDER,
    },
  ],
  "hosts and prevent_hosting": [
    {
      name: "never refuses a participant under a prevent_hosting order, located inside or not",
      orders: [order({ ...india, action: "prevent_hosting" })],
      facts: meeting(at("IN")),
      expected: NO_ORDER,
    },
    {
      name: "refuses a host located inside a prevent_hosting order's block",
      orders: [order({ ...india, action: "prevent_hosting" })],
      facts: host(at("IN", "IN-MH")),
      expected: blocked("IN", "o-in"),
    },
    {
      name: "lets a host located outside a prevent_hosting order's block start the meeting",
      orders: [order({ ...maharashtra, action: "prevent_hosting" })],
      facts: host(at("IN", "IN-KA")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-mh"]),
    },
    {
      name: "fails open for a host whose location is too coarse for the block (I2)",
      orders: [order({ ...maharashtra, action: "prevent_hosting" })],
      facts: host(at("IN")),
      expected: allow("GEO_UNKNOWN", ["o-mh"]),
    },
    {
      name: "refuses a host located inside a geoblock (a host is a participant)",
      orders: [order(india)],
      facts: host(at("IN")),
      expected: blocked("IN", "o-in"),
    },
    {
      name: "reports a shadow prevent_hosting order's match for a host, without refusing",
      orders: [order({ ...india, action: "prevent_hosting", mode: "shadow" })],
      facts: host(at("IN")),
      expected: shadowMatch("IN", "o-in"),
    },
    {
      name: "judges a participant by the geoblock alone when a prevent_hosting order names the meeting too",
      orders: [order({ ...india, id: "o-host", action: "prevent_hosting" }), order(maharashtra)],
      facts: meeting(at("IN", "IN-KA")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-mh"]),
    },
  ],
  exemptions: [
    {
      name: "allows an exempt account located inside the block with EXEMPT",
      orders: [order({ ...india, exempt: ["acct-diplomat"] })],
      facts: account("acct-diplomat", at("IN")),
      expected: exempt("IN", "o-in"),
    },
    {
      name: "allows an exempt account whatever its location, even unknown",
      orders: [order({ ...india, exempt: ["acct-diplomat"] })],
      facts: account("acct-diplomat", null),
      expected: exempt(null, "o-in"),
    },
    {
      name: "still refuses an account the order does not exempt",
      orders: [order({ ...india, exempt: ["acct-diplomat"] })],
      facts: account("acct-other", at("IN")),
      expected: blocked("IN", "o-in"),
    },
    {
      name: "refuses an account exempt from one order under another that binds it",
      orders: [order({ ...india, exempt: ["acct-diplomat"] }), order(maharashtra)],
      facts: account("acct-diplomat", at("IN", "IN-MH")),
      expected: blocked("IN-MH", "o-mh"),
    },
    {
      name: "answers OUTSIDE_JURISDICTION when the binding order is outside and the exempting one would not refuse",
      orders: [
        order({ ...maharashtra, exempt: ["acct-diplomat"] }),
        order({ ...india, id: "o-ka", blocks: ["IN-KA"] }),
      ],
      facts: account("acct-diplomat", at("IN", "IN-GJ")),
      expected: allow("OUTSIDE_JURISDICTION", ["o-ka"]),
    },
    {
      name: "answers EXEMPT when only the exempting order would refuse and a binding one lets the account in",
      orders: [
        order({ ...maharashtra, exempt: ["acct-diplomat"] }),
        order({ ...india, id: "o-ka", blocks: ["IN-KA"] }),
      ],
      facts: account("acct-diplomat", at("IN", "IN-MH")),
      expected: exempt("IN-MH", "o-mh"),
    },
    {
      name: "exempts a host from a prevent_hosting order",
      orders: [order({ ...india, action: "prevent_hosting", exempt: ["acct-host"] })],
      facts: host(at("IN"), "acct-host"),
      expected: exempt("IN", "o-in"),
    },
    {
      name: "does nothing for a participant without an account",
      orders: [order({ ...india, exempt: ["acct-diplomat"] })],
      facts: meeting(at("IN")),
      expected: blocked("IN", "o-in"),
    },
    {
      name: "exempts an account from an account-targeted order's block on others' meetings",
      orders: [order({ ...india, accounts: ["acct-target"], exempt: ["acct-diplomat"] })],
      facts: account("acct-target", at("IN")),
      expected: blocked("IN", "o-in"),
    },
  ],
};

describe("decide", () => {
  for (const [group, rows] of Object.entries(cases)) {
    describe(group, () => {
      it.each(rows)("$name", ({ orders, facts, now, expected }) => {
        const ruleset = compile(orders, { version: 7, compiledAt: iso(T0 - HOUR) });
        expect(ruleset.excluded).toEqual([]);
        expect(decide(ruleset, facts, now ?? T0)).toEqual(expected);
      });
    });
  }

  it("covers every decision code in its table", () => {
    const codes = new Set(Object.values(cases).flatMap((rows) => rows.map((row) => row.expected.code)));
    expect([...codes].sort()).toEqual([
      "BLOCKED",
      "EXEMPT",
      "GEO_UNKNOWN",
      "NO_ORDER",
      "OUTSIDE_JURISDICTION",
      "SHADOW_MATCH",
    ]);
  });

  it("lifts an expired order on the same ruleset without a recompile", () => {
    const ruleset = compile([order({ ...india, until: T0 + HOUR })], { version: 1, compiledAt: iso(T0) });
    const facts = meeting(at("IN"));
    expect(decide(ruleset, facts, T0).decision).toBe("deny");
    expect(decide(ruleset, facts, T0 + HOUR).decision).toBe("allow");
  });

  it("hands out a NO_ORDER verdict that callers cannot corrupt for later checks", () => {
    const ruleset = compile([], { version: 1, compiledAt: iso(T0) });
    const first = decide(ruleset, meeting(at("IN")), T0);
    expect(() => (first.orderIds as string[]).push("o-x")).toThrow(/not extensible|read only|read-only/);
    expect(decide(ruleset, meeting(at("IN")), T0).orderIds).toEqual([]);
  });
});
