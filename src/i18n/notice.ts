/**
 * The participant-facing notice on a deny, in the language the join flow asks for (Accept-Language).
 * It names the country or region and says a legal order is the reason; it never names the order, the
 * authority or its reference. Names come from the runtime's CLDR data (Intl.DisplayNames) for countries
 * and from ISO 3166-2 for subdivisions (ISO publishes those in their local form only).
 */
import { countryOf, jurisdictionName } from "../engine/index.js";

export const LANGUAGES = ["en", "nl"] as const;
export type Language = (typeof LANGUAGES)[number];

const displayNames: Record<Language, Intl.DisplayNames> = {
  en: new Intl.DisplayNames(["en"], { type: "region" }),
  nl: new Intl.DisplayNames(["nl"], { type: "region" }),
};

/**
 * Join flows send the same few Accept-Language headers over and over: remember the answer for each.
 * Bounded, and cleared when full, so odd headers cannot grow it without limit.
 */
const picked = new Map<string, Language>();
const PICKED_MAX = 256;

/** The best supported language in an Accept-Language header (q-values honoured), English by default. */
export function pickLanguage(header: string | undefined): Language {
  if (!header) return "en";
  let lang = picked.get(header);
  if (lang === undefined) {
    lang = parseAcceptLanguage(header);
    if (picked.size >= PICKED_MAX) picked.clear();
    picked.set(header, lang);
  }
  return lang;
}

function parseAcceptLanguage(header: string): Language {
  let best: Language = "en";
  let bestQ = -1;
  for (const part of header.split(",")) {
    const [tag = "", ...params] = part.trim().split(";");
    const primary = tag.trim().toLowerCase().split("-")[0];
    const qParam = params.find((p) => p.trim().startsWith("q="));
    const q = qParam ? Number(qParam.trim().slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    const lang = LANGUAGES.find((l) => l === primary);
    if (lang && q > bestQ) {
      best = lang;
      bestQ = q;
    }
  }
  return best;
}

export function placeName(jurisdiction: string, lang: Language): string {
  const country = countryOf(jurisdiction);
  const countryName = displayNames[lang].of(country) ?? jurisdictionName(country) ?? country;
  if (jurisdiction === country) return countryName;
  const region = jurisdictionName(jurisdiction) ?? jurisdiction;
  return `${region}, ${countryName}`;
}

export function denialNotice(jurisdiction: string, lang: Language): string {
  const place = placeName(jurisdiction, lang);
  switch (lang) {
    case "nl":
      return `U kunt vanuit ${place} niet aan deze vergadering deelnemen. De toegang vanuit ${place} is beperkt vanwege een wettelijk bevel.`;
    case "en":
      return `You cannot join this meeting from ${place}. Access from ${place} is restricted because of a legal order.`;
  }
}
