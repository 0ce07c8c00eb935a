/**
 * Where a dial-in caller is, from their phone number: the country its calling code and leading digits
 * assign it to, by Google's libphonenumber metadata (the `libphonenumber-js` port, full metadata). Country
 * precision only: a phone number says nothing of a subdivision, so a subdivision block answers
 * GEO_UNKNOWN (I2). Calling codes that several countries share are resolved by the number's leading
 * digits: `+1 416` is CA, `+1 787` PR, `+1 242` BS; `+7 495` is RU and `+7 701` KZ. When the number does
 * not say which country it belongs to, the caller's location is unknown: never a guess at the code's
 * "main" country, so a block on one NANP member or on RU never refuses a caller of another.
 *
 * Unknown too (I2): a number that is not valid in its country's numbering plan, a non-geographic number
 * (toll-free, premium rate, shared cost, personal numbers, UAN: the caller ID of such a number is no
 * place), the global services (+800, +881...), and a region that is not an ISO 3166-1 country in the
 * reviewed table (Ascension's `AC`, say).
 *
 * The record keeps the calling code (`+7`) and a keyed hash of the number, never the number (I6).
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/max";
import { isCountry } from "../engine/index.js";
import type { GeoAnswer } from "./interface.js";

/**
 * The metadata answering, as a record's `geoDbVersion`; kept equal to the installed package's version
 * by a test (test/geo/phone.test.ts).
 */
export const PHONE_METADATA_VERSION = "libphonenumber-js@1.13.18";

/** E.164: a plus, a country calling code (no leading zero), 7 to 15 digits in all. */
export const E164 = /^\+[1-9][0-9]{6,14}$/;

export interface PhoneAnswer {
  geo: GeoAnswer;
  /** The country calling code with its plus (`+1`), or null when the number has none that is assigned. */
  callingCode: string | null;
}

/** Number types that are not tied to where the caller is. */
const NON_GEOGRAPHIC = new Set(["TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "PERSONAL_NUMBER", "UAN"]);

/**
 * Locates an E.164 number (already checked against `E164`). Never throws: a number the metadata cannot
 * place is unknown (I2).
 */
export function locatePhone(e164: string): PhoneAnswer {
  let parsed: ReturnType<typeof parsePhoneNumberFromString>;
  try {
    parsed = parsePhoneNumberFromString(e164);
  } catch {
    parsed = undefined;
  }
  const callingCode = parsed?.countryCallingCode ? `+${parsed.countryCallingCode}` : null;
  const unknown: PhoneAnswer = {
    geo: { location: null, source: "phone", dbVersion: PHONE_METADATA_VERSION },
    callingCode,
  };
  if (parsed === undefined || !parsed.isValid()) return unknown;
  const type = parsed.getType();
  if (type !== undefined && NON_GEOGRAPHIC.has(type)) return unknown;
  const country: CountryCode | undefined = parsed.country;
  if (country === undefined || !isCountry(country)) return unknown;
  return {
    geo: { location: { country, subdivisions: [] }, source: "phone", dbVersion: PHONE_METADATA_VERSION },
    callingCode,
  };
}
