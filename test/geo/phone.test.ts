/**
 * Dial-in callers located by their number (`geo/phone.ts`). The countries that share a calling code are
 * the risk: +1 is the whole North American Numbering Plan (the US, Canada, US territories and 17
 * Caribbean and Atlantic states and territories), and +7 is Russia and Kazakhstan. A block on one must
 * never deny a caller of another when the number says which (I1), and a number that does not say is
 * unknown (I2). The area codes below are NANPA's assignments, written here by hand: they check the
 * library's metadata, not the other way round.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import examples from "libphonenumber-js/examples.mobile.json" with { type: "json" };
import { getCountryCallingCode, isSupportedCountry } from "libphonenumber-js/max";
import { describe, expect, it } from "vitest";
import { compile, contains, decide, type Order } from "../../src/engine/index.js";
import { E164, locatePhone, PHONE_METADATA_VERSION } from "../../src/geo/phone.js";
import { iso, NOON } from "../support/fixtures.js";
import { approve, pending } from "../support/rulesets.js";

/** NANPA: each NANP member's geographic area codes (all of them for the small members, some for the US and CA). */
const NANP: Record<string, string[]> = {
  US: ["201", "212", "213", "305", "415", "512", "617", "702", "907", "808"],
  CA: ["204", "236", "250", "306", "403", "416", "438", "506", "514", "604", "613", "709", "902"],
  PR: ["787", "939"],
  VI: ["340"],
  GU: ["671"],
  AS: ["684"],
  MP: ["670"],
  AG: ["268"],
  AI: ["264"],
  BB: ["246"],
  BM: ["441"],
  BS: ["242"],
  DM: ["767"],
  DO: ["809", "829", "849"],
  GD: ["473"],
  JM: ["658", "876"],
  KN: ["869"],
  KY: ["345"],
  LC: ["758"],
  MS: ["664"],
  SX: ["721"],
  TC: ["649"],
  TT: ["868"],
  VC: ["784"],
  VG: ["284"],
};

/** US territories inside the US's national jurisdiction (the reviewed table): a US block covers them. */
const US_INTEGRAL = new Set(["PR", "VI", "GU", "AS", "MP"]);

const example = (country: string): string => {
  const national = (examples as Record<string, string>)[country];
  if (national === undefined) throw new Error(`no example number for ${country}`);
  return `+${getCountryCallingCode(country as never)}${national}`;
};

/** An order of `country`'s own authority blocking `country`, on meeting m-1, approved a day before NOON. */
const blockOn = (country: string): Order =>
  approve(
    pending(`o-${country}`, {
      authority: { name: `Court of ${country}`, jurisdiction: country, kind: "court" },
      jurisdictions: [country],
    }),
  );

const verdictFor = (orders: Order[], phone: string) =>
  decide(
    compile(orders, { version: 1, compiledAt: iso(NOON) }),
    { meetingId: "m-1", location: locatePhone(phone).geo.location },
    NOON,
  );

describe("locatePhone", () => {
  it("names the installed metadata as the record's geoDbVersion", () => {
    const pkg = JSON.parse(
      readFileSync(new URL("../../node_modules/libphonenumber-js/package.json", import.meta.url), "utf8"),
    );
    expect(PHONE_METADATA_VERSION).toBe(`libphonenumber-js@${pkg.version}`);
  });

  it("knows every NANP member by its own calling code +1", () => {
    for (const country of Object.keys(NANP)) {
      expect(isSupportedCountry(country as never), country).toBe(true);
      expect(getCountryCallingCode(country as never), country).toBe("1");
    }
  });

  it.each(Object.keys(NANP))("places a +1 caller of %s there, not in the US", (country) => {
    const phone = example(country);
    // The example's area code is one NANPA gave this member: the metadata agrees with the hand table.
    expect(NANP[country], phone).toContain(phone.slice(2, 5));
    const located = locatePhone(phone);
    expect(located.geo.location).toEqual({ country, subdivisions: [] });
    expect(located.geo.source).toBe("phone");
    expect(located.callingCode).toBe("+1");
  });

  it.each(Object.keys(NANP))(
    "never lets a block on one NANP member deny a caller of another (caller in %s)",
    (caller) => {
      const phone = example(caller);
      for (const blocked of Object.keys(NANP)) {
        const verdict = verdictFor([blockOn(blocked)], phone);
        const inside = blocked === caller || (blocked === "US" && US_INTEGRAL.has(caller));
        expect(verdict.decision, `${blocked} block, caller ${phone}`).toBe(inside ? "deny" : "allow");
      }
    },
  );

  it("tells +7 callers of Russia and Kazakhstan apart, and a block on one never denies the other", () => {
    const russia = ["+74951234567", "+78122345678", "+79161234567", "+73432123456"];
    const kazakhstan = ["+77012345678", "+77172123456", "+77272123456", "+77752345678"];
    for (const phone of russia) expect(locatePhone(phone).geo.location?.country, phone).toBe("RU");
    for (const phone of kazakhstan) expect(locatePhone(phone).geo.location?.country, phone).toBe("KZ");
    for (const phone of [...russia, ...kazakhstan]) expect(locatePhone(phone).callingCode).toBe("+7");
    for (const phone of russia) {
      expect(verdictFor([blockOn("KZ")], phone).decision, phone).toBe("allow");
      expect(verdictFor([blockOn("RU")], phone).code, phone).toBe("BLOCKED");
    }
    for (const phone of kazakhstan) {
      expect(verdictFor([blockOn("RU")], phone).decision, phone).toBe("allow");
      expect(verdictFor([blockOn("KZ")], phone).code, phone).toBe("BLOCKED");
    }
  });

  it("answers unknown for numbers that say no place: toll-free, premium, personal, invalid, unassigned", () => {
    for (const phone of [
      "+18005550100", // NANP toll-free: shared by every member
      "+18885550100",
      "+19005550100", // premium rate
      "+15005550100", // personal numbers
      "+80012345678", // international freephone
      "+76001234567", // +7 6xx: not assigned to either country
      "+12125551", // too short for NANP
      "+447700900123", // a UK drama number: reserved, never a line
    ]) {
      expect(locatePhone(phone).geo.location, phone).toBeNull();
      expect(verdictFor([blockOn("US"), blockOn("RU")], phone).decision).toBe("allow");
    }
  });

  it("keeps the calling code when the number is unknown, and none when the code is unassigned", () => {
    expect(locatePhone("+18005550100").callingCode).toBe("+1");
    expect(locatePhone("+9991234567").callingCode).toBeNull();
  });

  it("knows Jersey, Guernsey and the Isle of Man apart from GB under +44 (separate legal orders)", () => {
    expect(locatePhone("+441534723456").geo.location?.country).toBe("JE");
    expect(locatePhone("+441481723456").geo.location?.country).toBe("GG");
    expect(locatePhone("+441624623456").geo.location?.country).toBe("IM");
    expect(verdictFor([blockOn("GB")], "+441534723456").decision).toBe("allow");
    expect(verdictFor([blockOn("GB")], "+442079460000").decision).toBe("deny");
  });

  it("(property) denies a caller only inside the block, and only under a code the block's country uses (I1)", () => {
    const codes = ["1", "7", "44", "91", "31", "33", "86", "852"];
    const blocks = ["US", "CA", "RU", "KZ", "GB", "IN", "NL", "FR", "CN", "HK", "PR", "JM"];
    let denials = 0;
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.stringMatching(/^[2-9][0-9]{8,10}$/), (code, rest) => {
        const phone = `+${code}${rest}`.slice(0, 16);
        fc.pre(E164.test(phone));
        const located = locatePhone(phone);
        for (const blocked of blocks) {
          const verdict = verdictFor([blockOn(blocked)], phone);
          if (verdict.decision !== "deny") continue;
          denials++;
          const country = located.geo.location?.country as string;
          expect(contains(blocked, country)).toBe(true);
          expect(located.callingCode).toBe(`+${getCountryCallingCode(country as never)}`);
        }
      }),
      { numRuns: 1000 },
    );
    expect(denials).toBeGreaterThan(50);
  });
});
