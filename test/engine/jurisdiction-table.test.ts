/**
 * The reviewed jurisdiction table (I1), one test per entry: integral territories inside their state's
 * national orders and blockable alone by either code; separate ones refused to their state and not
 * covered by its orders; every GB subdivision inside its constituent country; unlocatable codes refused.
 * Expectations are written from the table's data, through the real path (`OrderInput` -> `createOrder`
 * -> `compile` -> `decide`).
 */
import { iso31661, iso31662 } from "iso-3166";
import { describe, expect, it } from "vitest";
import {
  compile,
  createOrder,
  decide,
  enforcementAt,
  type GeoLocation,
  type Order,
  OrderInput,
  OrderRuleError,
  proposeAmendment,
  transition,
  withWarnings,
} from "../../src/engine/index.js";
import {
  GB_CONSTITUENTS,
  SUBDIVISION_ALIASES,
  TERRITORIES,
  UNLOCATABLE,
} from "../../src/engine/jurisdiction-table.js";
import { HOUR, iso, T0 } from "../support/fixtures.js";

const COUNTRIES = new Set(iso31661.map((c) => c.alpha2));
const ISO_SUBDIVISIONS = new Set(iso31662.map((s) => s.code));

function input(authority: string, blocks: string[], requested?: string[]) {
  return OrderInput.parse({
    reference: "REF-1",
    authority: { name: `Court of ${authority}`, jurisdiction: authority, kind: "court" },
    jurisdictions: blocks,
    target: { kind: "meeting", meetingIds: ["m-1"] },
    receivedAt: iso(T0 - 48 * HOUR),
    ...(requested ? { requested: { jurisdictions: requested } } : {}),
  });
}

const enter = (authority: string, blocks: string[]): Order =>
  createOrder(input(authority, blocks), { id: "o-1", actor: "responder-1", at: iso(T0 - 47 * HOUR) });

const approved = (authority: string, blocks: string[]): Order =>
  transition(enter(authority, blocks), { type: "approve" }, "approver-1", iso(T0 - 24 * HOUR));

const verdictFor = (orders: Order[], location: GeoLocation) =>
  decide(compile(orders, { version: 1, compiledAt: iso(T0) }), { meetingId: "m-1", location }, T0);

/** The code the order is refused with, or "accepted". */
function entryOutcome(authority: string, blocks: string[]): string {
  try {
    enter(authority, blocks);
    return "accepted";
  } catch (error) {
    if (error instanceof OrderRuleError) return error.code;
    throw error;
  }
}

const integral = TERRITORIES.filter((t) => t.status === "integral");
const separate = TERRITORIES.filter((t) => t.status === "separate");

describe("the jurisdiction table's data", () => {
  it("names only ISO 3166-1 countries as territories and states, each with a source", () => {
    for (const t of TERRITORIES) {
      expect(COUNTRIES.has(t.code), t.code).toBe(true);
      expect(COUNTRIES.has(t.state), t.state).toBe(true);
      expect(t.source.length, t.code).toBeGreaterThan(10);
      for (const alias of t.aliases) expect(ISO_SUBDIVISIONS.has(alias), alias).toBe(true);
    }
  });

  it("assigns every ISO 3166-2:GB subdivision to one constituent country, or to the table's other lists", () => {
    const assigned = [...GB_CONSTITUENTS.values()].flat();
    expect(new Set(assigned).size).toBe(assigned.length);
    const nations = new Set(["GB-ENG", "GB-NIR", "GB-SCT", "GB-WLS"]);
    const unassigned = [...ISO_SUBDIVISIONS].filter(
      (code) =>
        code.startsWith("GB-") &&
        !assigned.includes(code) &&
        !nations.has(code) &&
        !UNLOCATABLE.has(code) &&
        !SUBDIVISION_ALIASES.has(code),
    );
    expect(unassigned).toEqual([]);
    for (const code of assigned) expect(ISO_SUBDIVISIONS.has(code), code).toBe(true);
  });

  // The ISO 3166-2 codes that name a place ISO 3166-1 also codes as a country (found by reading the
  // iso-3166 data for subdivisions named as a country or numbered as overseas departments).
  it.each([
    ..."CN-HK CN-MO CN-TW FR-BL FR-MF FR-NC FR-PF FR-PM FR-TF FR-WF NL-AW NL-CW NL-SX".split(" "),
    ..."US-AS US-GU US-MP US-PR US-UM US-VI FR-971 FR-972 FR-973 FR-974 FR-976 FI-01".split(" "),
    ..."NL-BQ1 NL-BQ2 NL-BQ3 NO-21 NO-22".split(" "),
  ])("classifies %s", (code) => {
    const named = TERRITORIES.some((t) => t.aliases.includes(code));
    expect(ISO_SUBDIVISIONS.has(code)).toBe(true);
    expect(named || SUBDIVISION_ALIASES.has(code) || UNLOCATABLE.has(code)).toBe(true);
  });
});

describe.each(integral)("integral territory $code ($state)", (t) => {
  it(`is inside a national order of ${t.state}: a participant the source reports in ${t.code} is denied`, () => {
    expect(verdictFor([approved(t.state, [t.state])], { country: t.code, subdivisions: [] })).toMatchObject({
      decision: "deny",
      code: "BLOCKED",
      jurisdiction: t.state,
    });
  });

  it.each([t.code, ...t.aliases])(
    `may be blocked alone by ${t.state} as %s, stored and matched as ${t.code}`,
    (code) => {
      const order = approved(t.state, [code]);
      expect(order.jurisdictions).toEqual([t.code]);
      expect(verdictFor([order], { country: t.code, subdivisions: [] })).toMatchObject({
        decision: "deny",
        jurisdiction: t.code,
      });
      // A block on the territory alone does not reach the rest of the state.
      expect(verdictFor([order], { country: t.state, subdivisions: [] }).decision).toBe("allow");
    },
  );
});

describe.each(separate)("separate territory $code ($state)", (t) => {
  it.each([t.code, ...t.aliases])(
    `is refused to an authority of ${t.state} as %s (SEPARATE_LEGAL_ORDER)`,
    (code) => {
      expect(entryOutcome(t.state, [code])).toBe("SEPARATE_LEGAL_ORDER");
    },
  );

  it(`is not inside a national order of ${t.state}`, () => {
    expect(verdictFor([approved(t.state, [t.state])], { country: t.code, subdivisions: [] })).toMatchObject({
      decision: "allow",
      code: "OUTSIDE_JURISDICTION",
    });
  });

  it(`may be blocked by its own authority (${t.code})`, () => {
    const order = approved(t.code, [t.aliases[0] ?? t.code]);
    expect(order.jurisdictions).toEqual([t.code]);
    expect(verdictFor([order], { country: t.code, subdivisions: [] }).decision).toBe("deny");
  });
});

describe("GB's constituent countries", () => {
  const members = [...GB_CONSTITUENTS].flatMap(([nation, codes]) =>
    codes.map((code) => [nation, code] as const),
  );

  it.each(members)(
    "%s contains %s: its order denies there, its authority may block it, another's may not",
    (nation, code) => {
      expect(verdictFor([approved("GB", [nation])], { country: "GB", subdivisions: [code] })).toMatchObject({
        decision: "deny",
        jurisdiction: nation,
      });
      expect(entryOutcome(nation, [code])).toBe("accepted");
      const other = nation === "GB-ENG" ? "GB-SCT" : "GB-ENG";
      expect(entryOutcome(other, [code])).toBe("JURISDICTION_OUTSIDE_AUTHORITY");
    },
  );

  it("lets a court of England and Wales block England and Cardiff, not Glasgow", () => {
    expect(entryOutcome("GB-EAW", ["GB-ENG", "GB-CRF"])).toBe("accepted");
    expect(entryOutcome("GB-EAW", ["GB-GLG"])).toBe("JURISDICTION_OUTSIDE_AUTHORITY");
  });
});

describe("unlocatable codes", () => {
  it.each([...UNLOCATABLE.keys()])("refuses a block on %s (UNLOCATABLE_JURISDICTION)", (code) => {
    expect(entryOutcome(code.slice(0, 2), [code])).toBe("UNLOCATABLE_JURISDICTION");
  });

  it("says what to block instead", () => {
    expect(() => enter("NO", ["NO-21"])).toThrow(/block SJ/);
  });
});

describe("the holes of issue 11, each closed", () => {
  it("a French national order covers Guadeloupe and Réunion (reported as GP, RE)", () => {
    for (const country of ["GP", "RE"])
      expect(verdictFor([approved("FR", ["FR"])], { country, subdivisions: [] }).decision).toBe("deny");
  });

  it("NL covers Bonaire, US Puerto Rico and Guam, NO Svalbard, FI Åland", () => {
    for (const [state, country] of [
      ["NL", "BQ"],
      ["US", "PR"],
      ["US", "GU"],
      ["NO", "SJ"],
      ["FI", "AX"],
    ] as const)
      expect(verdictFor([approved(state, [state])], { country, subdivisions: [] }).decision, country).toBe(
        "deny",
      );
  });

  it("a block on FR-971, US-PR or FI-01 matches the participant sources report in GP, PR, AX", () => {
    for (const [state, code, country] of [
      ["FR", "FR-971", "GP"],
      ["US", "US-PR", "PR"],
      ["FI", "FI-01", "AX"],
    ] as const)
      expect(verdictFor([approved(state, [code])], { country, subdivisions: [] }).decision, code).toBe(
        "deny",
      );
  });

  it("a block on NL-BQ1 matches Bonaire as sources report it (BQ-BO), not Saba", () => {
    const order = approved("NL", ["NL-BQ1"]);
    expect(order.jurisdictions).toEqual(["BQ-BO"]);
    expect(verdictFor([order], { country: "BQ", subdivisions: ["BQ-BO"] }).decision).toBe("deny");
    expect(verdictFor([order], { country: "BQ", subdivisions: ["BQ-SA"] }).code).toBe("OUTSIDE_JURISDICTION");
  });

  it("a block on NO-21 is refused rather than accepted and inert", () => {
    expect(entryOutcome("NO", ["NO-21"])).toBe("UNLOCATABLE_JURISDICTION");
  });

  it("a French order blocking GP is accepted", () => {
    expect(entryOutcome("FR", ["GP"])).toBe("accepted");
  });

  it("a Chinese authority's block on CN-HK or CN-TW is refused", () => {
    expect(entryOutcome("CN", ["CN-HK"])).toBe("SEPARATE_LEGAL_ORDER");
    expect(entryOutcome("CN", ["CN-TW"])).toBe("SEPARATE_LEGAL_ORDER");
    expect(entryOutcome("CN", ["CN-GD", "HK"])).toBe("SEPARATE_LEGAL_ORDER");
  });

  it("a participant known as GB-KEN is inside an England order; a Scottish authority can block Glasgow", () => {
    expect(
      verdictFor([approved("GB-ENG", ["GB-ENG"])], { country: "GB", subdivisions: ["GB-KEN"] }).decision,
    ).toBe("deny");
    expect(entryOutcome("GB-SCT", ["GB-GLG"])).toBe("accepted");
  });

  it("records the request verbatim and grants its normalised form", () => {
    const order = createOrder(input("FR", ["GP"], ["FR-971"]), { id: "o", actor: "r", at: iso(T0) });
    expect(order.requested?.jurisdictions).toEqual(["FR-971"]);
    expect(order.jurisdictions).toEqual(["GP"]);
  });
});

describe("I1 at compile and on amendment, by the table", () => {
  const stored = (authority: string, blocks: string[]): Order => ({
    ...approved(authority, [authority]),
    jurisdictions: blocks,
  });

  it("excludes an order stored before the table that blocks CN-HK, with why", () => {
    const ruleset = compile([stored("CN", ["CN-HK"])], { version: 1, compiledAt: iso(T0) });
    expect(ruleset.orders).toEqual([]);
    expect(ruleset.excluded[0]?.reason).toMatch(/^separate legal order: CN-HK/);
  });

  it("excludes an order stored with NO-21 as unlocatable", () => {
    const ruleset = compile([stored("NO", ["NO-21"])], { version: 1, compiledAt: iso(T0) });
    expect(ruleset.excluded[0]?.reason).toMatch(/^unlocatable jurisdiction: NO-21/);
  });

  it("enforces an order stored as FR-971 where sources report the place (GP)", () => {
    const order = stored("FR", ["FR-971"]);
    expect(compile([order], { version: 1, compiledAt: iso(T0) }).orders[0]?.jurisdictions).toEqual(["GP"]);
    expect(verdictFor([order], { country: "GP", subdivisions: [] }).decision).toBe("deny");
  });

  it("refuses an amendment to CN-HK and normalises one to FR-974", () => {
    const cn = approved("CN", ["CN-GD"]);
    expect(() =>
      proposeAmendment(
        cn,
        { changes: { jurisdictions: ["CN-HK"], requested: null }, reason: "r" },
        "p",
        iso(T0),
      ),
    ).toThrow(expect.objectContaining({ code: "SEPARATE_LEGAL_ORDER" }));
    const fr = approved("FR", ["FR"]);
    const proposed = proposeAmendment(
      fr,
      { changes: { jurisdictions: ["FR-974"] }, reason: "r" },
      "p",
      iso(T0),
    );
    const amendment = proposed.amendmentLog?.[0];
    expect(amendment?.status).toBe("pending");
  });
});

describe("an order stored before the table that now breaks it", () => {
  const stored: Order = { ...approved("CN", ["CN"]), jurisdictions: ["CN-HK"] };

  it("is shown as not enforced, with why", () => {
    expect(enforcementAt(stored, T0)).toBe("none");
    expect(withWarnings(stored, "subdivision").warnings).toEqual([
      { code: "NOT_ENFORCED", jurisdictions: ["CN-HK"], message: expect.stringMatching(/own legal order/) },
    ]);
  });

  it("leaves an order the table accepts as it was", () => {
    const fine = approved("FR", ["FR-971"]);
    expect(enforcementAt(fine, T0)).toBe("active");
    expect(withWarnings(fine, "country").warnings).toBeUndefined();
  });
});
