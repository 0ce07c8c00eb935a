/**
 * What the console says about input it refuses, in the page's language. The engine's schemas speak
 * English (they are the API's contract); this table says the same in Dutch. Pure.
 */
import type { Language } from "./language.js";

/**
 * Keyed by the engine's own messages, so a message added there without a translation stays English
 * rather than wrong.
 */
const DUTCH: Record<string, string> = {
  "must be 1-128 characters: letters, digits and . _ : @ - (starting with a letter or digit)":
    "gebruik 1-128 tekens: letters, cijfers en . _ : @ - (te beginnen met een letter of cijfer)",
  "must be an ISO 3166-1 alpha-2 country (RU) or ISO 3166-2 subdivision (IN-MH)":
    "moet een ISO 3166-1-land (RU) of een ISO 3166-2-regio (IN-MH) zijn",
  "must be an ISO 3166-1 alpha-2 country code such as NL": "moet een ISO 3166-1-landcode zijn, zoals NL",
  "must be an RFC 3339 date-time with a time zone, e.g. 2026-03-01T00:00:00Z": "moet een geldige datum zijn",
  "must be later than effectiveFrom": "moet later zijn dan de ingangsdatum",
};

/** An engine (or schema) message in the page's language. */
export function translateMessage(message: string, lang: Language): string {
  if (lang === "en") return message;
  const twice = /^(\S+) is listed twice$/.exec(message);
  if (twice) return `${twice[1]} staat er twee keer in`;
  return DUTCH[message] ?? message;
}

export interface ValidationStrings {
  required: string;
  /** I1 at entry: blocks that lie outside the authority's jurisdiction. */
  outsideAuthority: (outside: readonly string[], authority: string) => string;
  /** The orders list's jurisdiction filter holds something that is no ISO code. */
  badJurisdictionFilter: string;
}

export const VALIDATION: Record<Language, ValidationStrings> = {
  en: {
    required: "This is required.",
    outsideAuthority: (outside, authority) =>
      `${outside.join(", ")}: not inside the authority's jurisdiction ${authority}`,
    badJurisdictionFilter: "must be an ISO 3166-1 or 3166-2 code such as IN or IN-MH",
  },
  nl: {
    required: "Dit is verplicht.",
    outsideAuthority: (outside, authority) =>
      `${outside.join(", ")}: ligt niet binnen het rechtsgebied van de instantie (${authority})`,
    // Not translated yet: the page has always said this in English.
    badJurisdictionFilter: "must be an ISO 3166-1 or 3166-2 code such as IN or IN-MH",
  },
};
