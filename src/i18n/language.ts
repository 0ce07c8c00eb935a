/**
 * The languages Cordon speaks (every audience: participants, the console, the report, validation) and
 * how a request picks one. Pure.
 */

export const LANGUAGES = ["en", "nl"] as const;
export type Language = (typeof LANGUAGES)[number];

export function isLanguage(value: unknown): value is Language {
  return LANGUAGES.some((l) => l === value);
}

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
