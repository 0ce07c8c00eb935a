/** The console's form validation speaks the language of the page: the engine's messages in Dutch too. */
import { describe, expect, it } from "vitest";
import { emptyForm, type OrderForm, validate } from "../src/console/order-form.js";
import { blockProblem } from "../src/engine/index.js";
import { UNLOCATABLE } from "../src/engine/jurisdiction-table.js";
import { translateMessage } from "../src/i18n/validation.js";

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
