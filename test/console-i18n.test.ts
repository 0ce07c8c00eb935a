/** The console's form validation speaks the language of the page: the engine's messages in Dutch too. */
import { describe, expect, it } from "vitest";
import { emptyForm, type OrderForm, validate } from "../src/console/order-form.js";
import { blockProblem, OrderInput } from "../src/engine/index.js";
import { UNLOCATABLE } from "../src/engine/jurisdiction-table.js";
import { enforcementEventText, orderPreview, STRINGS } from "../src/i18n/console.js";
import { translateMessage } from "../src/i18n/validation.js";
import { Ip, Phone } from "../src/service/check.js";

const form: OrderForm = {
  ...emptyForm(),
  reference: "R-1",
  authorityName: "Hof",
  country: "IN",
  authorityJurisdiction: "IN",
  jurisdictions: ["IN-MH"],
  targetIds: "812 345",
  receivedAt: "2026-02-20",
};

describe("order form validation", () => {
  it("says what is wrong with an id in Dutch, naming the id", () => {
    const nl = validate(form, "nl");
    expect(nl.ok ? undefined : nl.errors.targetIds).toBe(
      "812 345: gebruik 1-128 tekens: letters, cijfers en . _ : @ - (te beginnen met een letter of cijfer)",
    );
  });

  it("says it in English on an English page", () => {
    const en = validate(form, "en");
    expect(en.ok ? undefined : en.errors.targetIds).toMatch(/^812 345: must be 1-128 characters/);
  });

  it("says a block outside the authority's jurisdiction in Dutch", () => {
    const nl = validate(
      { ...form, targetIds: "81234567890", authorityJurisdiction: "IN-MH", jurisdictions: ["IN"] },
      "nl",
    );
    expect(nl.ok ? undefined : nl.errors.jurisdictions).toBe(
      "IN: ligt niet binnen het rechtsgebied van de instantie (IN-MH)",
    );
  });
});

describe("the order form's words are the console's, not the API's (issue 15)", () => {
  it.each(["en", "nl"] as const)("an end before the start says so without naming a field (%s)", (lang) => {
    const result = validate(
      { ...form, targetIds: "81234567890", effectiveFrom: "2026-03-02", effectiveUntil: "2026-03-01" },
      lang,
    );
    const message = result.ok ? undefined : result.errors.effectiveUntil;
    expect(message).toBe(
      lang === "en" ? "must be later than the start date" : "moet later zijn dan de ingangsdatum",
    );
    expect(message).not.toMatch(/effective(From|Until)/);
  });
});

describe("exempt accounts on the order form", () => {
  const byAccount: OrderForm = { ...form, targetKind: "account", targetIds: "acct_a" };

  it.each([
    ["en", "acct_a is one of the accounts this order names, so it cannot also be exempt"],
    ["nl", "acct_a is een van de accounts die dit bevel noemt en kan dus niet ook uitgezonderd zijn"],
  ] as const)(
    "says in plain words (%s) that an account the order names cannot also be exempt",
    (lang, said) => {
      const result = validate({ ...byAccount, exemptAccountIds: "acct_b, acct_a" }, lang);
      expect(result.ok ? undefined : result.errors.exemptAccountIds).toBe(said);
    },
  );

  it("names an exemption that is no account id, in Dutch", () => {
    const result = validate({ ...byAccount, exemptAccountIds: "acct_b\n10.0.0.1" }, "nl");
    expect(result.ok ? undefined : result.errors.exemptAccountIds).toBe(
      "10.0.0.1: moet een account-id zijn, nooit een IP-adres of telefoonnummer (tel:)",
    );
  });

  it("says an exemption listed twice without repeating the id", () => {
    const result = validate({ ...byAccount, exemptAccountIds: "acct_b\nacct_b" }, "en");
    expect(result.ok ? undefined : result.errors.exemptAccountIds).toBe("acct_b is listed twice");
  });

  it("carries the action and the exemptions into the order input", () => {
    const result = validate(
      { ...byAccount, action: "prevent_hosting", exemptAccountIds: "acct_b,\n acct_c" },
      "en",
    );
    expect(result.ok && result.input).toMatchObject({
      action: "prevent_hosting",
      exemptAccountIds: ["acct_b", "acct_c"],
    });
  });

  it("refuses an action that is none of the options, in plain words", () => {
    const result = validate({ ...byAccount, targetIds: "81234567890", action: "ban" }, "nl");
    expect(result.ok ? undefined : result.errors.action).toBe("Kies een van de mogelijkheden.");
  });
});

describe("the preview of a prevent-hosting order", () => {
  const input = (overrides: Record<string, unknown>) =>
    OrderInput.parse({
      reference: "R-1",
      authority: { name: "Hof", jurisdiction: "IN", kind: "court" },
      jurisdictions: ["IN-MH"],
      target: { kind: "account", accountIds: ["acct_a"] },
      receivedAt: "2026-02-20T00:00:00Z",
      action: "prevent_hosting",
      ...overrides,
    });

  it.each([
    [
      "en",
      "Hosts using account acct_a who are located in Mahārāshtra, India cannot start or host any meeting from the moment it is approved; participants are not refused.",
    ],
    [
      "nl",
      "Hosts met account acct_a die zich in Mahārāshtra, India bevinden, kunnen vanaf het moment van goedkeuring geen enkele vergadering starten of hosten; deelnemers worden niet geweigerd.",
    ],
  ] as const)("says that only hosts are refused (%s)", (lang, said) => {
    expect(orderPreview(input({}), lang)).toBe(said);
  });

  it("says in Dutch that hosts cannot start or host the named meeting", () => {
    expect(orderPreview(input({ target: { kind: "meeting", meetingIds: ["81234567890"] } }), "nl")).toBe(
      "Hosts die zich in Mahārāshtra, India bevinden, kunnen vanaf het moment van goedkeuring vergadering 81234567890 niet starten of hosten; deelnemers worden niet geweigerd.",
    );
  });

  it.each([
    [
      "en",
      /^Nobody will be refused: hosts using account acct_a .* starting or hosting any meeting will only be recorded as shadow matches/,
    ],
    [
      "nl",
      /^Niemand wordt geweigerd: hosts met account acct_a .* bij het starten of hosten van welke vergadering dan ook alleen vastgelegd/,
    ],
  ] as const)("says that a shadow order refuses nobody (%s)", (lang, said) => {
    expect(orderPreview(input({ mode: "shadow" }), lang)).toMatch(said);
  });
});

describe("an enforcement event in plain words", () => {
  const meeting = { kind: "meeting" as const, meetingIds: ["81234567890"] };
  const account = { kind: "account" as const, accountIds: ["acct_a"] };
  const effective = "block-effective" as const;
  const lifted = "block-lifted" as const;
  it.each([
    [
      "en",
      effective,
      "geoblock",
      meeting,
      "The block took effect: participants located in Mahārāshtra, India are refused meeting 81234567890.",
    ],
    [
      "en",
      lifted,
      "geoblock",
      meeting,
      "The block was lifted: participants located in Mahārāshtra, India may join meeting 81234567890 again.",
    ],
    [
      "en",
      effective,
      "prevent_hosting",
      meeting,
      "The block took effect: hosts located in Mahārāshtra, India cannot start or host meeting 81234567890.",
    ],
    [
      "en",
      effective,
      "geoblock",
      account,
      "The block took effect: participants using account acct_a who are located in Mahārāshtra, India are refused every meeting.",
    ],
    [
      "en",
      lifted,
      "prevent_hosting",
      account,
      "The block was lifted: hosts using account acct_a who are located in Mahārāshtra, India may start or host meetings again.",
    ],
    [
      "nl",
      effective,
      "geoblock",
      meeting,
      "De blokkade is ingegaan: deelnemers die zich in Mahārāshtra, India bevinden, worden geweigerd voor vergadering 81234567890.",
    ],
    [
      "nl",
      lifted,
      "geoblock",
      meeting,
      "De blokkade is opgeheven: deelnemers die zich in Mahārāshtra, India bevinden, mogen weer deelnemen aan vergadering 81234567890.",
    ],
    [
      "nl",
      effective,
      "prevent_hosting",
      meeting,
      "De blokkade is ingegaan: hosts die zich in Mahārāshtra, India bevinden, kunnen vergadering 81234567890 niet starten of hosten.",
    ],
    [
      "nl",
      effective,
      "prevent_hosting",
      account,
      "De blokkade is ingegaan: hosts met account acct_a die zich in Mahārāshtra, India bevinden, kunnen geen enkele vergadering starten of hosten.",
    ],
    [
      "nl",
      lifted,
      "geoblock",
      account,
      "De blokkade is opgeheven: deelnemers met account acct_a die zich in Mahārāshtra, India bevinden, mogen weer deelnemen aan vergaderingen.",
    ],
  ] as const)("says it in %s: %s under %s", (lang, type, action, target, said) => {
    expect(enforcementEventText({ type, target, jurisdictions: ["IN-MH"] }, action, lang)).toBe(said);
  });

  it("says how long events are kept in days when the hours are whole days", () => {
    expect(STRINGS.en.hoursSpan(168)).toBe("7 days");
    expect(STRINGS.en.hoursSpan(36)).toBe("36 hours");
    expect(STRINGS.nl.hoursSpan(24)).toBe("1 dag");
    expect(STRINGS.nl.hoursSpan(1)).toBe("1 uur");
  });
});

describe("the simulator's refusals in Dutch", () => {
  it.each([
    ["a phone number that is not E.164", () => Phone.safeParse("0201234567")],
    ["a phone number too long", () => Phone.safeParse(`+${"1".repeat(16)}`)],
    ["an address that is none", () => Ip.safeParse("999.1.1.1")],
  ])("says %s in Dutch", (_, parse) => {
    const issues = parse().error?.issues ?? [];
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) expect(translateMessage(issue.message, "nl")).not.toBe(issue.message);
  });
});

describe("the console's strings", () => {
  /** Every key path to a leaf, with the leaf's kind (string, or function and its arity). */
  const leaves = (value: unknown, path = ""): [string, string][] =>
    typeof value === "object" && value !== null
      ? Object.entries(value).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k))
      : [[path, typeof value === "function" ? `function/${value.length}` : typeof value]];

  it("has every key in both languages, of the same kind", () => {
    const sorted = (lang: "en" | "nl") => leaves(STRINGS[lang]).sort(([a], [b]) => a.localeCompare(b));
    expect(sorted("nl")).toEqual(sorted("en"));
    expect(sorted("en").length).toBeGreaterThan(100);
  });

  it.each(["en", "nl"] as const)("has no empty string in %s", (lang) => {
    const empty = leaves(STRINGS[lang])
      .filter(([, kind]) => kind === "string")
      .filter(
        ([path]) =>
          path
            .split(".")
            .reduce<any>((v, k) => v[k], STRINGS[lang])
            .trim() === "",
      )
      .map(([path]) => path);
    expect(empty).toEqual([]);
  });
});

describe("the jurisdiction table's refusals in Dutch", () => {
  it.each([...UNLOCATABLE.keys()])("says why %s cannot be blocked in Dutch", (code) => {
    const problem = blockProblem(code.slice(0, 2), code);
    expect(problem?.code).toBe("UNLOCATABLE_JURISDICTION");
    const nl = translateMessage(problem?.message ?? "", "nl");
    expect(nl).not.toBe(problem?.message);
    expect(nl.startsWith(`${code}: `)).toBe(true);
  });

  it("says in Dutch that a territory with its own legal order is outside the state's jurisdiction", () => {
    const problem = blockProblem("CN", "HK");
    expect(problem?.code).toBe("SEPARATE_LEGAL_ORDER");
    expect(translateMessage(problem?.message ?? "", "nl")).toMatch(
      /^HK: HK heeft een eigen rechtsorde en valt niet onder het rechtsgebied van CN \(/,
    );
  });
});
