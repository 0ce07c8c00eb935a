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
  "must be an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::1":
    "moet een IPv4- of IPv6-adres zijn, zoals 203.0.113.7 of 2001:db8::1",
  "must be an IPv4 or IPv6 address": "moet een IPv4- of IPv6-adres zijn",
  "must be an E.164 phone number: a + and 7 to 15 digits, such as +31201234567":
    "moet een telefoonnummer in internationale vorm zijn: een + en 7 tot 15 cijfers, zoals +31201234567",
  "must be an E.164 phone number such as +31201234567":
    "moet een telefoonnummer in internationale vorm zijn, zoals +31201234567",
  "must be an account id, never an IP address or a phone number (tel:)":
    "moet een account-id zijn, nooit een IP-adres of telefoonnummer (tel:)",
};

/** Why the jurisdiction table refuses a code no source can report (engine/jurisdiction-table.ts). */
const DUTCH_UNLOCATABLE: Record<string, string> = {
  "sources report Svalbard and Jan Mayen together as SJ; block SJ (the smallest area they report)":
    "bronnen melden Svalbard en Jan Mayen samen als SJ; blokkeer SJ (het kleinste gebied dat ze melden)",
  "Clipperton has no ISO 3166-1 code and no source reports a location there":
    "Clipperton heeft geen ISO 3166-1-code en geen bron meldt daar een locatie",
  "no source reports England and Wales as a unit; block GB-ENG and GB-WLS":
    "geen bron meldt Engeland en Wales als geheel; blokkeer GB-ENG en GB-WLS",
  "no source reports Great Britain as a unit; block GB-ENG, GB-SCT and GB-WLS":
    "geen bron meldt Groot-Brittannië als geheel; blokkeer GB-ENG, GB-SCT en GB-WLS",
};

/**
 * The engine's English messages that name an API field or a standard, said as the console's form says
 * it (the field's label stands beside the message).
 */
const PLAIN_ENGLISH: Record<string, string> = {
  "must be later than effectiveFrom": "must be later than the start date",
  "must be an RFC 3339 date-time with a time zone, e.g. 2026-03-01T00:00:00Z":
    "must be a valid date and time",
};

/** An engine (or schema) message in the page's language, in the console's words rather than the API's. */
export function translateMessage(message: string, lang: Language): string {
  if (lang === "en") return PLAIN_ENGLISH[message] ?? message;
  const twice = /^(\S+) is listed twice$/.exec(message);
  if (twice) return `${twice[1]} staat er twee keer in`;
  const separate =
    /^(\S+): (\S+) has its own legal order and is not inside (\S+)'s jurisdiction \((.+)\)$/.exec(message);
  if (separate) {
    const [, block, territory, state, source] = separate;
    return `${block}: ${territory} heeft een eigen rechtsorde en valt niet onder het rechtsgebied van ${state} (${source})`;
  }
  const unlocatable = /^(\S+): (.+)$/.exec(message);
  const reason = unlocatable ? DUTCH_UNLOCATABLE[unlocatable[2] as string] : undefined;
  if (unlocatable && reason) return `${unlocatable[1]}: ${reason}`;
  return DUTCH[message] ?? message;
}

export interface ValidationStrings {
  required: string;
  /** I1 at entry: blocks that lie outside the authority's jurisdiction. */
  outsideAuthority: (outside: readonly string[], authority: string) => string;
  /** The orders list's jurisdiction filter holds something that is no ISO code. */
  badJurisdictionFilter: string;
  /** An exempt account that the order also names (the engine's `exemptionProblems`). */
  exemptIsTarget: (id: string) => string;
  /** More account ids than the schema's maximum. */
  tooMany: (max: number) => string;
  /** A choice that is none of the options offered (only a forged post can make one). */
  chooseOne: string;
  /** The orders list's address holds values it does not take (`key=value`); their defaults are used. */
  unknownListValues: (values: readonly string[]) => string;
}

export const VALIDATION: Record<Language, ValidationStrings> = {
  en: {
    required: "This is required.",
    outsideAuthority: (outside, authority) =>
      `${outside.join(", ")}: not inside the authority's jurisdiction ${authority}`,
    badJurisdictionFilter: "must be an ISO 3166-1 or 3166-2 code such as IN or IN-MH",
    exemptIsTarget: (id) => `${id} is one of the accounts this order names, so it cannot also be exempt`,
    tooMany: (max) => `List at most ${max} account ids.`,
    chooseOne: "Choose one of the options.",
    unknownListValues: (values) =>
      `This address asks for something the list does not offer (${values.join(", ")}); the list below uses its usual setting instead.`,
  },
  nl: {
    required: "Dit is verplicht.",
    outsideAuthority: (outside, authority) =>
      `${outside.join(", ")}: ligt niet binnen het rechtsgebied van de instantie (${authority})`,
    badJurisdictionFilter: "moet een ISO 3166-1- of 3166-2-code zijn, zoals IN of IN-MH",
    exemptIsTarget: (id) =>
      `${id} is een van de accounts die dit bevel noemt en kan dus niet ook uitgezonderd zijn`,
    tooMany: (max) => `Geef hoogstens ${max} account-id's.`,
    chooseOne: "Kies een van de mogelijkheden.",
    unknownListValues: (values) =>
      `Dit adres vraagt iets wat de lijst niet biedt (${values.join(", ")}); de lijst hieronder gebruikt daarvoor de gewone instelling.`,
  },
};
