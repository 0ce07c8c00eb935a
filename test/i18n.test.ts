/**
 * The one i18n module: a place has one name wherever it is shown (the participant's notice, the
 * console, the report), and the language of a join is picked from Accept-Language as browsers send it.
 */
import { describe, expect, it } from "vitest";
import { createOrder, OrderInput, transition } from "../src/engine/index.js";
import { pickLanguage } from "../src/i18n/language.js";
import { denialNotice } from "../src/i18n/notice.js";
import { countryName, placeLabel, placeName } from "../src/i18n/places.js";
import { buildReport } from "../src/report/build.js";
import { parsePeriod } from "../src/report/periods.js";
import { renderHtml } from "../src/report/render.js";
import { orderInput } from "./support/harness.js";

describe("place names", () => {
  it.each([
    ["IN", "en", "India", "India (IN)"],
    ["IN", "nl", "India", "India (IN)"],
    ["RU", "nl", "Rusland", "Rusland (RU)"],
    ["DE", "en", "Germany", "Germany (DE)"],
    ["IN-MH", "en", "Mahārāshtra, India", "Mahārāshtra, India (IN-MH)"],
    ["NL-NH", "nl", "Noord-Holland, Nederland", "Noord-Holland, Nederland (NL-NH)"],
  ] as const)("names %s in %s as %s", (code, lang, name, label) => {
    expect(placeName(code, lang)).toBe(name);
    expect(placeLabel(code, lang)).toBe(label);
  });

  it("never throws on a code that is not one, and shows it as given", () => {
    expect(countryName("zz!", "en")).toBe("zz!");
    expect(placeName("", "nl")).toBe("");
    expect(placeName("XX-1", "en")).toBe("XX-1, XX");
  });

  it("gives the participant, the console and the report the same name for a place", () => {
    const notice = denialNotice("RU", "nl");
    expect(notice).toContain(`vanuit ${placeName("RU", "nl")} `);
    const period = parsePeriod("2026-H1");
    if (!period) throw new Error("fixture period must parse");
    const input = OrderInput.parse(
      orderInput({
        authority: { name: "Regulator", jurisdiction: "RU", kind: "regulator" },
        jurisdictions: ["RU"],
      }),
    );
    const at = "2026-02-02T00:00:00Z";
    const order = transition(
      createOrder(input, { id: "ord_1", actor: "a", at }),
      { type: "reject", reason: "no" },
      "b",
      at,
    );
    const html = renderHtml(
      buildReport({ period, orders: [order], months: [], generatedAt: "2026-03-01T00:00:00Z" }),
      "nl",
    );
    expect(html).toContain(`>${placeLabel("RU", "nl")}</th>`);
  });
});

describe("pickLanguage", () => {
  it.each([
    [undefined, "en"],
    ["", "en"],
    ["nl-NL,nl;q=0.9,en;q=0.5", "nl"],
    ["en-US,en;q=0.9", "en"],
    ["de-DE, nl;q=0.4, en;q=0.3", "nl"],
    ["fr, de", "en"],
    ["EN;q=0.2, NL-be;q=0.8", "nl"],
    ["nl;q=abc, en", "en"],
  ])("picks %s as %s", (header, lang) => {
    expect(pickLanguage(header)).toBe(lang);
    // Remembered answers are the same answers.
    expect(pickLanguage(header)).toBe(lang);
  });
});
