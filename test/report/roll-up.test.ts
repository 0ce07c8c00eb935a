/**
 * The report's roll-up follows the reviewed jurisdiction table, not ISO prefixes: an integral territory
 * reported as a country counts under its state, GB's regions under GB, and a territory with its own
 * legal order stays its own country.
 */
import { describe, expect, it } from "vitest";
import { rollUpOf } from "../../src/report/roll-up.js";

describe("rollUpOf", () => {
  it.each([
    ["IN-MH", "IN"],
    ["IN", "IN"],
    ["GB-KEN", "GB"],
    ["GB-SCT", "GB"],
    ["GP", "FR"],
    ["RE", "FR"],
    ["PR", "US"],
    ["BQ", "NL"],
    ["SJ", "NO"],
    ["AX", "FI"],
    ["HK", "HK"],
    ["TW", "TW"],
    ["CW", "CW"],
    ["JE", "JE"],
    ["RU", "RU"],
  ])("rolls %s up into %s", (code, country) => {
    expect(rollUpOf(code)).toBe(country);
  });
});
