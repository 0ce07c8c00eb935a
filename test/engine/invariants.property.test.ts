/**
 * I1-I3 as properties over random orders, life cycles, windows, locations and clocks.
 *
 * The oracle below is written from the ISO 3166-2 data (the `iso-3166` package) and the reviewed table's
 * data (`jurisdiction-table.ts`) directly, not from `src/engine/jurisdiction.ts`, so that a containment
 * bug in the engine cannot hide in the oracle too.
 * Orders are built through the real path (`OrderInput.parse` -> `createOrder` -> `transition`), except
 * for "slipped" orders: approved Order objects edited by hand to break I1, which `compile` must catch.
 */
import fc from "fast-check";
import { iso31662 } from "iso-3166";
import { describe, expect, it } from "vitest";
import {
  type CheckFacts,
  compile,
  createOrder,
  type DecisionCode,
  decide,
  fromDocument,
  type GeoLocation,
  type Order,
  OrderInput,
  OrderRuleError,
  type OrderStep,
  subdivisionsOf,
  toDocument,
  transition,
  type Verdict,
} from "../../src/engine/index.js";
import {
  GB_CONSTITUENTS,
  GROUPINGS,
  SUBDIVISION_ALIASES,
  TERRITORIES,
  UNLOCATABLE,
} from "../../src/engine/jurisdiction-table.js";
import { HOUR, iso, T0 } from "../support/fixtures.js";

const NUM_RUNS = 2000;

// ---------------------------------------------------------------------------------------------------
// The oracle's own geography.

// The reviewed table is data (`jurisdiction-table.ts`): the oracle reads it itself and builds its own
// map from it and the ISO data, without the engine's `lineage`, `contains` or `blockProblem`.
const ALIAS: ReadonlyMap<string, string> = new Map([
  ...TERRITORIES.flatMap((t) => t.aliases.map((a) => [a, t.code] as const)),
  ...SUBDIVISION_ALIASES,
]);
const canon = (code: string): string => ALIAS.get(code) ?? code;
const PARENT: ReadonlyMap<string, string> = new Map([
  ...iso31662.filter((s) => !ALIAS.has(s.code)).map((s) => [s.code, s.parent] as const),
  ...[...GB_CONSTITUENTS].flatMap(([nation, codes]) => codes.map((c) => [c, nation] as const)),
  ...TERRITORIES.filter((t) => t.status === "integral").map((t) => [t.code, t.state] as const),
]);

/** `code` (normalised) and every region or state containing it by the table. */
function ancestorsOrSelf(code: string): string[] {
  const out = [canon(code)];
  for (let parent = PARENT.get(out[0] as string); parent !== undefined; parent = PARENT.get(parent))
    out.push(parent);
  return out;
}
const countryPart = (code: string): string => canon(code).slice(0, 2);

/** The codes a location is known to lie in: its country's and its own regions' ancestors. */
function knownCodes(location: GeoLocation): Set<string> {
  const codes = new Set(ancestorsOrSelf(location.country));
  for (const s of location.subdivisions)
    if (s.slice(0, 2) === location.country) for (const a of ancestorsOrSelf(s)) codes.add(a);
  return codes;
}

/** The location lies inside `j`. */
const locatedIn = (location: GeoLocation, j: string): boolean => knownCodes(location).has(canon(j));

/** I1 by the table: a reportable block equal to or inside the authority (or one of its groupings). */
const validBlock = (authority: string, j: string): boolean =>
  !UNLOCATABLE.has(j) &&
  ancestorsOrSelf(j).some((a) => a === canon(authority) || (GROUPINGS.get(authority) ?? []).includes(a));

/** The location lies inside the authority's jurisdiction (a grouping such as GB-EAW: one of its members). */
const locatedInAuthority = (location: GeoLocation, authority: string): boolean =>
  locatedIn(location, authority) || (GROUPINGS.get(authority) ?? []).some((m) => locatedIn(location, m));

/** I1: every block jurisdiction equals or lies inside the authority's. */
const blocksWithinAuthority = (order: Order): boolean =>
  order.jurisdictions.every((j) => validBlock(order.authority.jurisdiction, j));

const namesTarget = (order: Order, facts: CheckFacts): boolean =>
  order.target.kind === "meeting"
    ? order.target.meetingIds.includes(facts.meetingId)
    : facts.accountId !== undefined && order.target.accountIds.includes(facts.accountId);

/** I3: approved, and `now` in [effectiveFrom ?? decidedAt, effectiveUntil). */
function inForceAt(order: Order, now: number): boolean {
  if (order.status !== "approved") return false;
  const start = Date.parse(order.effectiveFrom ?? order.decidedAt ?? "");
  const until =
    order.effectiveUntil === undefined ? Number.POSITIVE_INFINITY : Date.parse(order.effectiveUntil);
  return start <= now && now < until;
}

/** The order concerns the check's role: `prevent_hosting` concerns hosts only, `geoblock` everyone. */
const concernsRole = (order: Order, facts: CheckFacts): boolean =>
  (order.action ?? "geoblock") === "geoblock" || facts.role === "host";

/** The order exempts the account checked. */
const exempts = (order: Order, facts: CheckFacts): boolean =>
  facts.accountId !== undefined && (order.exemptAccountIds ?? []).includes(facts.accountId);

/** An order that may deny this participant now: what property (a) demands of every denying order. */
const mayDeny = (order: Order, facts: CheckFacts, now: number): boolean =>
  order.mode === "enforce" &&
  inForceAt(order, now) &&
  namesTarget(order, facts) &&
  concernsRole(order, facts) &&
  !exempts(order, facts) &&
  facts.location !== null &&
  deniedAt(order, facts.location).length > 0;

/** The block jurisdictions of `order` that lie inside the authority's and hold the location. */
const deniedAt = (order: Order, location: GeoLocation): string[] =>
  order.jurisdictions.filter((j) => validBlock(order.authority.jurisdiction, j) && locatedIn(location, j));

/**
 * The expected verdict, from the README: only approved, I1-valid orders in force that name the meeting
 * or account count; BLOCKED > SHADOW_MATCH > GEO_UNKNOWN > OUTSIDE_JURISDICTION. A subdivision block is
 * "too coarse" to judge when the location has no region of its country, or its most specific region
 * contains the block.
 */
function expectedVerdict(orders: readonly Order[], facts: CheckFacts, now: number): Expected {
  const live = orders.filter(
    (o) => blocksWithinAuthority(o) && inForceAt(o, now) && namesTarget(o, facts) && concernsRole(o, facts),
  );
  if (live.length === 0) return { code: "NO_ORDER", orderIds: [], jurisdictions: [] };
  const exempting = live.filter((o) => exempts(o, facts));
  const bound = live.filter((o) => !exempts(o, facts));
  // An exempting order never refuses the account; it turns an allow into EXEMPT where it would have.
  const verdict = bound.length === 0 ? null : judged(bound, facts.location);
  if (exempting.length === 0) return verdict as Expected;
  if (verdict?.code === "BLOCKED") return verdict;
  const spared = facts.location === null ? null : judged(exempting, facts.location);
  if (spared?.code === "BLOCKED") return { ...spared, code: "EXEMPT" };
  return verdict ?? { code: "EXEMPT", orderIds: exempting.map((o) => o.id), jurisdictions: [] };
}

interface Expected {
  code: DecisionCode;
  orderIds: string[];
  jurisdictions: string[];
}

/** The verdict of orders that all apply to the check: BLOCKED > SHADOW_MATCH > GEO_UNKNOWN > OUTSIDE. */
function judged(live: readonly Order[], location: GeoLocation | null): Expected {
  const ids = (list: readonly Order[]) => list.map((o) => o.id);
  if (location === null) return { code: "GEO_UNKNOWN", orderIds: ids(live), jurisdictions: [] };

  const regions = location.subdivisions.filter((s) => s.slice(0, 2) === location.country);
  const mostSpecific = regions[regions.length - 1];
  const tooCoarse = (j: string) =>
    countryPart(j) === location.country &&
    !locatedIn(location, j) &&
    (mostSpecific === undefined || ancestorsOrSelf(j).includes(canon(mostSpecific)));
  // Enforced as sources report the place: an order stored as `GB-UKM` matches as `GB`.
  const hits = (o: Order) => o.jurisdictions.filter((j) => locatedIn(location, j)).map(canon);

  const enforcing = live.filter((o) => o.mode === "enforce" && hits(o).length > 0);
  if (enforcing.length > 0)
    return { code: "BLOCKED", orderIds: ids(enforcing), jurisdictions: enforcing.flatMap(hits) };
  const shadowing = live.filter((o) => o.mode === "shadow" && hits(o).length > 0);
  if (shadowing.length > 0)
    return { code: "SHADOW_MATCH", orderIds: ids(shadowing), jurisdictions: shadowing.flatMap(hits) };
  if (live.some((o) => o.jurisdictions.some(tooCoarse)))
    return { code: "GEO_UNKNOWN", orderIds: ids(live), jurisdictions: [] };
  return { code: "OUTSIDE_JURISDICTION", orderIds: ids(live), jurisdictions: [] };
}

// ---------------------------------------------------------------------------------------------------
// Generators.

const COUNTRIES = [
  "AZ",
  "IN",
  "GB",
  "US",
  "RU",
  "NL",
  "PK",
  "FR",
  "GP",
  "RE",
  "PR",
  "BQ",
  "SJ",
  "AX",
  "CN",
  "HK",
  "TW",
  "CW",
  "NO",
  "FI",
  "JE",
];
const REGIONS = [
  "AZ-NX",
  "AZ-BAB",
  "AZ-CUL",
  "AZ-BA",
  "IN-MH",
  "IN-KA",
  "GB-ENG",
  "GB-KEN",
  "GB-SCT",
  "GB-GLG",
  "GB-WLS",
  "GB-CRF",
];
const MORE_REGIONS = ["US-CA", "US-NY", "RU-MOW", "NL-NH", "PK-PB", "FR-IDF", "FR-75", "BQ-BO", "CN-GD"];
/** Codes with an equivalent, unlocatable codes and separate territories' ISO codes. */
const TABLE_CODES = [
  "FR-971",
  "FR-974",
  "US-PR",
  "NL-BQ1",
  "FI-01",
  "NO-21",
  "CN-HK",
  "CN-TW",
  "NL-CW",
  "GB-EAW",
  "GB-UKM",
  "FR-NC",
];
const POOL = new Set([...COUNTRIES, ...REGIONS, ...MORE_REGIONS, ...TABLE_CODES]);
const AUTHORITIES = [
  "AZ",
  "AZ-NX",
  "AZ-BAB",
  "IN",
  "IN-MH",
  "IN-KA",
  "GB",
  "GB-ENG",
  "GB-SCT",
  "GB-EAW",
  "GB-KEN",
  "US",
  "US-CA",
  "RU",
  "NL",
  "FR",
  "FR-971",
  "CN",
  "HK",
  "NO",
  "FI",
];
const MEETINGS = ["m-1", "m-2"];
const ACCOUNTS = ["acct-1", "acct-2"];
const ACTORS = ["alice", "bob", "carol"];

function descendants(code: string): string[] {
  return subdivisionsOf(code).flatMap((child) => [child, ...descendants(child)]);
}

/** Valid block choices per authority (by the oracle): from the pool, and two more of its descendants. */
const BLOCK_CHOICES: ReadonlyMap<string, readonly string[]> = new Map(
  AUTHORITIES.map((authority) => {
    const below = descendants(authority).filter((c) => !POOL.has(c) && validBlock(authority, c));
    return [authority, [...[...POOL].filter((c) => validBlock(authority, c)), ...below.slice(0, 2)]];
  }),
);
/** Every region an order can block, so that locations can land in each of them. */
const LOCATION_REGIONS = [
  ...new Set([...REGIONS, ...MORE_REGIONS, ...[...BLOCK_CHOICES.values()].flat()].map(canon)),
].filter((code) => code.includes("-"));

/** Instants on an hourly grid around T0, with one-millisecond neighbours to hit every boundary. */
const instant = fc
  .tuple(fc.integer({ min: -4, max: 4 }), fc.constantFrom(-1, 0, 0, 0, 1))
  .map(([hours, ms]) => T0 + hours * HOUR + ms);

/** Decisions on orders (approvals, rejections, withdrawals) happen before or at T0. */
const past = fc
  .tuple(fc.integer({ min: -4, max: 0 }), fc.constantFrom(-1, 0, 0, 0, 1))
  .map(([hours, ms]) => T0 + hours * HOUR + ms);

const target = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .uniqueArray(fc.constantFrom(...MEETINGS), { minLength: 1, maxLength: 2 })
      .map((meetingIds) => ({ kind: "meeting" as const, meetingIds })),
  },
  {
    weight: 1,
    arbitrary: fc
      .uniqueArray(fc.constantFrom(...ACCOUNTS), { minLength: 1, maxLength: 2 })
      .map((accountIds) => ({ kind: "account" as const, accountIds })),
  },
);
const mode = fc.constantFrom<"enforce" | "shadow">("enforce", "enforce", "shadow");
const action = fc.constantFrom<"geoblock" | "prevent_hosting">("geoblock", "geoblock", "prevent_hosting");
/** Half none, half one account (dropped by `build` when the order targets it). */
const exemptions = fc
  .uniqueArray(fc.constantFrom(...ACCOUNTS), { minLength: 1, maxLength: 1 })
  .chain((ids) => fc.constantFrom<string[]>([], ids));
const enforcementWindow = fc.record({
  from: fc.option(instant, { nil: undefined, freq: 2 }),
  until: fc.option(instant, { nil: undefined, freq: 2 }),
});

/** An order entered through `createOrder` and taken through random actions by random people. */
const entered = fc.constantFrom(...AUTHORITIES).chain((authority) =>
  fc.record({
    kind: fc.constant("entered" as const),
    authority: fc.constant(authority),
    blocks: fc.uniqueArray(fc.constantFrom(...(BLOCK_CHOICES.get(authority) ?? [authority])), {
      minLength: 1,
      maxLength: 3,
    }),
    target,
    window: enforcementWindow,
    mode,
    action,
    exempt: exemptions,
    creator: fc.constantFrom(...ACTORS),
    actions: fc.array(
      fc.record({
        type: fc.constantFrom("approve", "approve", "approve", "approve", "reject", "withdraw"),
        actor: fc.constantFrom(...ACTORS),
        at: past,
      }),
      { minLength: 1, maxLength: 3 },
    ),
  }),
);

/** An approved order edited by hand, past `createOrder`: its blocks are anything in the pool. */
const slipped = fc.record({
  kind: fc.constant("slipped" as const),
  authority: fc.constantFrom(...AUTHORITIES),
  blocks: fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: 3 }),
  target,
  window: enforcementWindow,
  mode,
  action,
  exempt: exemptions,
  approvedAt: past,
});

type OrderSpec =
  typeof entered extends fc.Arbitrary<infer E>
    ? E | (typeof slipped extends fc.Arbitrary<infer S> ? S : never)
    : never;

/** What a source may report for a place in `region`: the chain largest first, only the smallest, or only the top. */
const reportedIn = (region: string): fc.Arbitrary<GeoLocation> => {
  const chain = ancestorsOrSelf(region)
    .filter((c) => c.includes("-"))
    .reverse();
  return fc
    .constantFrom(chain, [canon(region)], chain.slice(0, 1))
    .map((subdivisions) => ({ country: countryPart(region), subdivisions }));
};

/**
 * A place around `j`: mostly inside it (at `j` or in a region below it, however reported), sometimes
 * known only more coarsely (the country alone, or a region containing `j`).
 */
const near = (j: string): fc.Arbitrary<GeoLocation> => {
  const inside = LOCATION_REGIONS.filter((r) => ancestorsOrSelf(r).includes(canon(j)));
  const coarser = LOCATION_REGIONS.filter((r) => r !== canon(j) && ancestorsOrSelf(j).includes(r));
  const countryOnly: fc.Arbitrary<GeoLocation> = fc.constant({ country: countryPart(j), subdivisions: [] });
  // Territories sources report as countries, inside `j` by the table (GP for a block on FR).
  const territories = COUNTRIES.filter((c) => c !== canon(j) && ancestorsOrSelf(c).includes(canon(j)));
  const options = [{ weight: 1, arbitrary: countryOnly }];
  if (territories.length > 0)
    options.push({
      weight: 2,
      arbitrary: fc.constantFrom(...territories).map((country) => ({ country, subdivisions: [] })),
    });
  if (inside.length > 0) options.push({ weight: 4, arbitrary: fc.constantFrom(...inside).chain(reportedIn) });
  if (coarser.length > 0)
    options.push({ weight: 1, arbitrary: fc.constantFrom(...coarser).chain(reportedIn) });
  return fc.oneof(...options);
};

const location: fc.Arbitrary<GeoLocation | null> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constantFrom(...COUNTRIES).map((country) => ({ country, subdivisions: [] })) },
  { weight: 6, arbitrary: fc.constantFrom(...LOCATION_REGIONS).chain(reportedIn) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(["GB-ENG", "GB-KEN"], ["GB-ENG"], ["GB-KEN"], ["GB-SCT"])
      .map((subdivisions) => ({ country: "GB", subdivisions })),
  },
  {
    // Anything at all, including regions of another country than `country`.
    weight: 1,
    arbitrary: fc.record({
      country: fc.constantFrom(...COUNTRIES),
      subdivisions: fc.array(fc.constantFrom(...LOCATION_REGIONS), { maxLength: 2 }),
    }),
  },
);

function toAction(type: string): OrderStep {
  if (type === "approve") return { type: "approve" };
  if (type === "reject") return { type: "reject", reason: "no legal basis" };
  return { type: "withdraw" };
}

interface Force {
  mode?: "enforce" | "shadow";
  action?: "geoblock" | "prevent_hosting";
}

function build(spec: OrderSpec, index: number, force?: Force): Order {
  const { from, until } = spec.window;
  const input = OrderInput.parse({
    reference: `REF-${index}`,
    authority: { name: "Authority", jurisdiction: spec.authority, kind: "court" },
    jurisdictions:
      spec.kind === "entered" ? spec.blocks : (BLOCK_CHOICES.get(spec.authority) ?? []).slice(0, 1),
    target: spec.target,
    receivedAt: iso(T0 - 48 * HOUR),
    ...(from === undefined ? {} : { effectiveFrom: iso(from) }),
    // An end at or before the start is refused by the schema; such a spec simply has no end.
    ...(until === undefined || (from !== undefined && until <= from) ? {} : { effectiveUntil: iso(until) }),
    mode: force?.mode ?? spec.mode,
    action: force?.action ?? spec.action,
    // An order cannot exempt an account it targets (the schema refuses it).
    exemptAccountIds: spec.exempt.filter(
      (id) => spec.target.kind !== "account" || !spec.target.accountIds.includes(id),
    ),
  });
  const id = `o${index}`;
  if (spec.kind === "slipped") {
    const created = createOrder(input, { id, actor: "alice", at: iso(T0 - 24 * HOUR) });
    return {
      ...created,
      jurisdictions: spec.blocks,
      status: "approved",
      decidedBy: "bob",
      decidedAt: iso(spec.approvedAt),
    };
  }
  let order = createOrder(input, { id, actor: spec.creator, at: iso(T0 - 24 * HOUR) });
  for (const action of spec.actions) {
    try {
      order = transition(order, toAction(action.type), action.actor, iso(action.at));
    } catch (error) {
      if (!(error instanceof OrderRuleError)) throw error;
    }
  }
  return order;
}

/**
 * Participants mostly near a block of an order in force that names them, so that matches, misses and
 * coarse data all occur often (a uniform location almost never lands in a block). `build` is pure, so
 * building inside the generator is only a way of looking ahead.
 */
const scenario = fc
  .array(fc.oneof({ weight: 4, arbitrary: entered }, { weight: 1, arbitrary: slipped }), {
    minLength: 1,
    maxLength: 5,
  })
  .chain((specs) =>
    fc
      .record({
        meetingId: fc.constantFrom(...MEETINGS),
        accountId: fc.option(fc.constantFrom(...ACCOUNTS), { nil: undefined }),
        role: fc.constantFrom<"participant" | "host">("participant", "participant", "host"),
        now: instant,
        /** Sort keys that permute the orders for the order-independence property. */
        shuffle: fc.array(fc.integer(), { minLength: 5, maxLength: 5 }),
      })
      .chain(({ meetingId, accountId, role, now, shuffle }) => {
        const orders = specs.map((spec, i) => build(spec, i));
        const live = orders.filter(
          (o) => inForceAt(o, now) && namesTarget(o, { meetingId, accountId, location: null }),
        );
        const blocks = [...new Set((live.length > 0 ? live : orders).flatMap((o) => o.jurisdictions))];
        const where =
          blocks.length === 0
            ? location
            : fc.oneof(
                { weight: 1, arbitrary: location },
                { weight: 3, arbitrary: fc.constantFrom(...blocks).chain(near) },
              );
        return where.map((loc) => ({
          specs,
          facts: { meetingId, accountId, role, location: loc } as CheckFacts,
          now,
          shuffle,
        }));
      }),
  );
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

const buildAll = (s: Scenario, force?: Force): Order[] => s.specs.map((spec, i) => build(spec, i, force));
const META = { version: 1, compiledAt: iso(T0) };
const check = (orders: readonly Order[], s: Scenario): Verdict =>
  decide(compile(orders, META), s.facts, s.now);
const run = (property: (s: Scenario) => void) =>
  fc.assert(fc.property(scenario, property), { numRuns: NUM_RUNS });

// ---------------------------------------------------------------------------------------------------

describe("engine invariants (property)", () => {
  it("(a) denies only with BLOCKED, on approved enforcing orders in force that name the target and whose valid block holds the location (I1, I3)", () => {
    let denies = 0;
    run((s) => {
      const orders = buildAll(s);
      const verdict = check(orders, s);
      if (verdict.decision !== "deny") return;
      denies++;
      expect(verdict.code).toBe("BLOCKED");
      expect(verdict.orderIds.length).toBeGreaterThan(0);
      for (const id of verdict.orderIds) {
        const order = orders.find((o) => o.id === id);
        expect(order && mayDeny(order, s.facts, s.now)).toBe(true);
      }
      const named = orders.filter((o) => verdict.orderIds.includes(o.id));
      const matched = named
        .flatMap((o) => (s.facts.location ? deniedAt(o, s.facts.location) : []))
        .map(canon);
      expect(matched).toContain(verdict.jurisdiction);
      // Reported under the most specific of the matched blocks (they nest: all hold the location).
      const depth = (j: string) => ancestorsOrSelf(j).length;
      expect(depth(verdict.jurisdiction as string)).toBe(Math.max(...matched.map(depth)));
    });
    // A property over denials is only worth something if denials happen.
    expect(denies).toBeGreaterThan(NUM_RUNS / 40);
  });

  it("(a') denies whenever an approved, I1-valid enforcing order in force names the target and holds the location", () => {
    run((s) => {
      const orders = buildAll(s);
      const mustDeny = orders.some((o) => blocksWithinAuthority(o) && mayDeny(o, s.facts, s.now));
      expect(check(orders, s).decision).toBe(mustDeny ? "deny" : "allow");
    });
  });

  it("(b) never denies a location outside the authority's jurisdiction of every order naming the target (I1)", () => {
    let outsideAll = 0;
    run((s) => {
      const orders = buildAll(s);
      const { location } = s.facts;
      const naming = orders.filter((o) => namesTarget(o, s.facts));
      if (location === null || naming.some((o) => locatedInAuthority(location, o.authority.jurisdiction)))
        return;
      if (naming.length > 0) outsideAll++;
      expect(check(orders, s).decision).toBe("allow");
    });
    expect(outsideAll).toBeGreaterThan(NUM_RUNS / 20);
  });

  it("(c) never denies an unknown location (I2)", () => {
    run((s) => {
      const verdict = check(buildAll(s), { ...s, facts: { ...s.facts, location: null } });
      expect(verdict.decision).toBe("allow");
      expect(["NO_ORDER", "GEO_UNKNOWN", "EXEMPT"]).toContain(verdict.code);
    });
  });

  it("(d) never denies on pending, rejected or withdrawn orders alone (I3)", () => {
    run((s) => {
      const notApproved = buildAll(s).filter((o) => o.status !== "approved");
      const verdict = check(notApproved, s);
      expect(verdict).toEqual({ decision: "allow", code: "NO_ORDER", orderIds: [], jurisdiction: null });
    });
  });

  it("(e) never denies on shadow orders alone (I3)", () => {
    let matches = 0;
    run((s) => {
      const verdict = check(buildAll(s, { mode: "shadow" }), s);
      expect(verdict.decision).toBe("allow");
      expect(verdict.code).not.toBe("BLOCKED");
      if (verdict.code === "SHADOW_MATCH") matches++;
    });
    expect(matches).toBeGreaterThan(NUM_RUNS / 40);
  });

  it("(f) decides the same for the same input, whatever the order of the orders and after a document round trip", () => {
    run((s) => {
      const orders = buildAll(s);
      const ruleset = compile(orders, META);
      const permuted = orders
        .map((order, i) => ({ order, key: s.shuffle[i] ?? 0, i }))
        .sort((a, b) => a.key - b.key || a.i - b.i)
        .map(({ order }) => order);
      const reordered = compile(permuted, META);
      const restored = fromDocument(JSON.parse(JSON.stringify(toDocument(ruleset))));
      const verdict = decide(ruleset, s.facts, s.now);
      expect(reordered.hash).toBe(ruleset.hash);
      expect(decide(ruleset, s.facts, s.now)).toEqual(verdict);
      expect(decide(reordered, s.facts, s.now)).toEqual(verdict);
      expect(decide(restored, s.facts, s.now)).toEqual(verdict);
    });
  });

  it("(g) answers the code, orders and jurisdiction the README specifies", () => {
    const seen = new Map<DecisionCode, number>();
    run((s) => {
      const orders = buildAll(s);
      const verdict = check(orders, s);
      const expected = expectedVerdict(orders, s.facts, s.now);
      seen.set(verdict.code, (seen.get(verdict.code) ?? 0) + 1);
      expect(verdict.code).toBe(expected.code);
      expect(verdict.decision).toBe(expected.code === "BLOCKED" ? "deny" : "allow");
      expect([...verdict.orderIds].sort()).toEqual([...expected.orderIds].sort());
      expect(new Set(verdict.orderIds).size).toBe(verdict.orderIds.length);
      if (expected.jurisdictions.length > 0) expect(expected.jurisdictions).toContain(verdict.jurisdiction);
      else expect(verdict.jurisdiction).toBeNull();
    });
    for (const code of [
      "NO_ORDER",
      "OUTSIDE_JURISDICTION",
      "GEO_UNKNOWN",
      "EXEMPT",
      "SHADOW_MATCH",
      "BLOCKED",
    ] as const) {
      expect(seen.get(code) ?? 0, code).toBeGreaterThan(NUM_RUNS / 100);
    }
  });

  it("(h) never refuses a participant under prevent_hosting orders, and a host only inside their blocks", () => {
    let hostDenials = 0;
    run((s) => {
      const orders = buildAll(s, { action: "prevent_hosting" });
      const participant = check(orders, { ...s, facts: { ...s.facts, role: "participant" } });
      expect(participant).toEqual({ decision: "allow", code: "NO_ORDER", orderIds: [], jurisdiction: null });
      const host = check(orders, { ...s, facts: { ...s.facts, role: "host" } });
      if (host.decision !== "deny") return;
      hostDenials++;
      const location = s.facts.location as GeoLocation;
      for (const id of host.orderIds) {
        const order = orders.find((o) => o.id === id) as Order;
        expect(deniedAt(order, location).length).toBeGreaterThan(0);
      }
    });
    expect(hostDenials).toBeGreaterThan(NUM_RUNS / 40);
  });

  it("(i) never refuses an account under an order that exempts it, wherever it is (I10)", () => {
    let exemptAnswers = 0;
    run((s) => {
      const orders = buildAll(s);
      const verdict = check(orders, s);
      if (verdict.code === "EXEMPT") exemptAnswers++;
      if (verdict.decision !== "deny") return;
      for (const id of verdict.orderIds) {
        const order = orders.find((o) => o.id === id) as Order;
        expect(exempts(order, s.facts)).toBe(false);
      }
    });
    expect(exemptAnswers).toBeGreaterThan(NUM_RUNS / 200);
  });
});
