/**
 * The one way Cordon names a place, for every audience: countries in the reader's language from the
 * runtime's CLDR data (Intl.DisplayNames), subdivisions by their ISO 3166-2 name (ISO publishes those in
 * their local form only, so they are not translated). Pure.
 */
import { countryOf, jurisdictionName } from "../engine/index.js";
import type { Language } from "./language.js";

/** Long-lived: one formatter per language, built once per module load. */
const displayNames: Record<Language, Intl.DisplayNames> = {
  en: new Intl.DisplayNames(["en"], { type: "region" }),
  nl: new Intl.DisplayNames(["nl"], { type: "region" }),
};

/**
 * Country names already looked up. A deny's notice names its country on the join check's hot path, and
 * a DisplayNames lookup costs about a microsecond; the cache holds at most one entry per well-formed
 * code (26² per language), so it needs no eviction.
 */
const countryNames: Record<Language, Map<string, string>> = { en: new Map(), nl: new Map() };
const COUNTRY_CODE = /^[A-Z]{2}$/;

/** "India", "Indië"; a code CLDR does not know gets its ISO name, and anything else is shown as given. */
export function countryName(country: string, lang: Language): string {
  const cached = countryNames[lang].get(country);
  if (cached !== undefined) return cached;
  // DisplayNames throws on a malformed code and echoes one it does not know.
  if (!COUNTRY_CODE.test(country)) return jurisdictionName(country) ?? country;
  const localised = displayNames[lang].of(country);
  const name =
    localised !== undefined && localised !== country ? localised : (jurisdictionName(country) ?? country);
  countryNames[lang].set(country, name);
  return name;
}

/** "India", "Mahārāshtra, India": a country, or a subdivision followed by its country. */
export function placeName(jurisdiction: string, lang: Language): string {
  const country = countryOf(jurisdiction);
  if (jurisdiction === country) return countryName(country, lang);
  return `${jurisdictionName(jurisdiction) ?? jurisdiction}, ${countryName(country, lang)}`;
}

/** "India (IN)", "Mahārāshtra, India (IN-MH)": the name with its code, so a reader can match a dataset. */
export function placeLabel(jurisdiction: string, lang: Language): string {
  return `${placeName(jurisdiction, lang)} (${jurisdiction})`;
}
