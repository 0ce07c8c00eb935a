/**
 * The new-order form: what the browser posts (flat fields), how it becomes an `OrderInput` candidate for
 * the engine's own schema (so the console validates exactly as the API does), and how schema issues land
 * next to the field that caused them, in the page's language.
 */
import type { z } from "zod";
import {
  allCountries,
  blockProblems,
  CountryCode,
  contains,
  OrderInput,
  subdivisionsOf,
} from "../engine/index.js";
import type { Language } from "../i18n/language.js";
import { placeName } from "../i18n/places.js";
import { translateMessage, VALIDATION } from "../i18n/validation.js";

export const FIELDS = [
  "reference",
  "authorityName",
  "authorityKind",
  "country",
  "authorityJurisdiction",
  "jurisdictions",
  "targetKind",
  "targetIds",
  "action",
  "exemptAccountIds",
  "receivedAt",
  "effectiveFrom",
  "effectiveUntil",
  "mode",
  "accountType",
  "accountLocation",
  "notes",
] as const;
export type Field = (typeof FIELDS)[number];

export interface OrderForm {
  reference: string;
  authorityName: string;
  authorityKind: string;
  country: string;
  authorityJurisdiction: string;
  jurisdictions: string[];
  targetKind: "meeting" | "account";
  targetIds: string;
  action: string;
  /** As typed: one account id per line, or separated by commas. */
  exemptAccountIds: string;
  receivedAt: string;
  effectiveFrom: string;
  effectiveUntil: string;
  mode: string;
  accountType: string;
  accountLocation: string;
  notes: string;
}

export type FormErrors = Partial<Record<Field, string>>;
export type FormBody = Record<string, string | string[]>;

export function emptyForm(): OrderForm {
  return {
    reference: "",
    authorityName: "",
    authorityKind: "court",
    country: "",
    authorityJurisdiction: "",
    jurisdictions: [],
    targetKind: "meeting",
    targetIds: "",
    action: "geoblock",
    exemptAccountIds: "",
    receivedAt: "",
    effectiveFrom: "",
    effectiveUntil: "",
    mode: "enforce",
    accountType: "",
    accountLocation: "",
    notes: "",
  };
}

const one = (body: FormBody, key: string): string => {
  const v = body[key];
  return (Array.isArray(v) ? (v[0] ?? "") : (v ?? "")).trim();
};
const many = (body: FormBody, key: string): string[] => {
  const v = body[key];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => x.trim()).filter(Boolean);
};

export function readForm(body: FormBody): OrderForm {
  const country = one(body, "country").toUpperCase();
  const authorityJurisdiction = one(body, "authorityJurisdiction");
  return {
    reference: one(body, "reference"),
    authorityName: one(body, "authorityName"),
    authorityKind: one(body, "authorityKind"),
    country,
    // A jurisdiction picked under another country (the country was changed afterwards) no longer applies.
    authorityJurisdiction: authorityJurisdiction.startsWith(country) ? authorityJurisdiction : "",
    // Inside the country by the table, so a French order can block Guadeloupe (GP) from the picker.
    jurisdictions: many(body, "jurisdictions").filter((j) => country === "" || contains(country, j)),
    targetKind: one(body, "targetKind") === "account" ? "account" : "meeting",
    targetIds: one(body, "targetIds"),
    action: one(body, "action") || "geoblock",
    exemptAccountIds: one(body, "exemptAccountIds"),
    receivedAt: one(body, "receivedAt"),
    effectiveFrom: one(body, "effectiveFrom"),
    effectiveUntil: one(body, "effectiveUntil"),
    mode: one(body, "mode") || "enforce",
    accountType: one(body, "accountType"),
    accountLocation: one(body, "accountLocation"),
    notes: one(body, "notes"),
  };
}

/** Ids as a text field holds them: one per line, or separated by commas. */
const idsOf = (text: string): string[] =>
  text
    .split(/[\n,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

export const targetIdsOf = (form: OrderForm): string[] => idsOf(form.targetIds);
export const exemptIdsOf = (form: OrderForm): string[] => idsOf(form.exemptAccountIds);

/** A date field (`YYYY-MM-DD`, UTC) as the instant the schema wants; anything else is passed on as typed. */
function instant(date: string): string | undefined {
  if (!date) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T00:00:00Z` : date;
}

function candidate(form: OrderForm): Record<string, unknown> {
  const ids = targetIdsOf(form);
  const exempt = exemptIdsOf(form);
  const out: Record<string, unknown> = {
    reference: form.reference,
    authority: {
      name: form.authorityName,
      jurisdiction: form.authorityJurisdiction || form.country,
      kind: form.authorityKind,
    },
    jurisdictions: form.jurisdictions,
    target:
      form.targetKind === "account"
        ? { kind: "account", accountIds: ids }
        : { kind: "meeting", meetingIds: ids },
    receivedAt: instant(form.receivedAt),
    effectiveFrom: instant(form.effectiveFrom),
    effectiveUntil: instant(form.effectiveUntil),
    mode: form.mode,
    action: form.action,
    exemptAccountIds: exempt.length > 0 ? exempt : undefined,
    accountType: form.accountType || undefined,
    accountLocation: form.accountLocation || undefined,
    notes: form.notes || undefined,
  };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

function fieldOf(path: readonly PropertyKey[]): Field {
  const [head, sub] = path;
  switch (head) {
    case "authority":
      return sub === "name" ? "authorityName" : sub === "kind" ? "authorityKind" : "authorityJurisdiction";
    case "target":
      return "targetIds";
    default:
      return (FIELDS as readonly PropertyKey[]).includes(head ?? "") ? (head as Field) : "reference";
  }
}

function messageOf(issue: z.core.$ZodIssue, form: OrderForm, lang: Language): string {
  const missing =
    (issue.code === "invalid_type" && issue.input === undefined) ||
    (issue.code === "too_small" && issue.minimum === 1) ||
    (issue.code === "invalid_value" && issue.input === "");
  if (missing) return VALIDATION[lang].required;
  if (issue.code === "invalid_value") return VALIDATION[lang].chooseOne;
  if (issue.path[0] === "exemptAccountIds") {
    if (issue.code === "too_big") return VALIDATION[lang].tooMany(Number(issue.maximum));
    const index = issue.path[1];
    const id = typeof index === "number" ? exemptIdsOf(form)[index] : undefined;
    // The engine's wording names API fields; the form says the same in plain words.
    if (id !== undefined && issue.message.startsWith(`${id} is a target of this order`))
      return VALIDATION[lang].exemptIsTarget(id);
    const message = translateMessage(issue.message, lang);
    return id === undefined || message.startsWith(`${id} `) ? message : `${id}: ${message}`;
  }
  const message = translateMessage(issue.message, lang);
  // A bad id: name it, since the field holds many.
  if (issue.path[0] === "target" && typeof issue.path[2] === "number") {
    const id = targetIdsOf(form)[issue.path[2]];
    return `${id}: ${message}`;
  }
  return message;
}

export type Validated = { ok: true; input: OrderInput } | { ok: false; errors: FormErrors };

/**
 * What is wrong with the chosen country, or undefined. The select offers only countries, but a post can
 * carry anything (a subdivision, a made-up or malformed code): that is the user's input to correct (400
 * with the form), never a fault, and the region picker is built only for a country that exists.
 */
export function countryError(form: OrderForm, lang: Language): string | undefined {
  if (!form.country) return VALIDATION[lang].required;
  const parsed = CountryCode.safeParse(form.country);
  return parsed.success ? undefined : translateMessage(parsed.error.issues[0]?.message ?? "", lang);
}

/** Validates with the API's schema and the I1 entry rule; one message per field, the first one. */
export function validate(form: OrderForm, lang: Language): Validated {
  const errors: FormErrors = {};
  const country = countryError(form, lang);
  if (country) errors.country = country;
  const parsed = OrderInput.safeParse(candidate(form));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = fieldOf(issue.path);
      if (field === "authorityJurisdiction" && errors.country) continue;
      errors[field] ??= messageOf(issue, form, lang);
    }
    return { ok: false, errors };
  }
  // I1 by the reviewed table: outside the authority in the page's language; a territory's own legal
  // order or an unlocatable code with the engine's reason (it names the source or what to block instead).
  const problems = blockProblems(parsed.data);
  const outside = problems
    .filter((p) => p.code === "JURISDICTION_OUTSIDE_AUTHORITY")
    .map((p) => p.jurisdiction);
  const others = problems
    .filter((p) => p.code !== "JURISDICTION_OUTSIDE_AUTHORITY")
    .map((p) => translateMessage(p.message, lang));
  if (problems.length > 0) {
    errors.jurisdictions = [
      ...(outside.length > 0
        ? [VALIDATION[lang].outsideAuthority(outside, parsed.data.authority.jurisdiction)]
        : []),
      ...others,
    ].join(" ");
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, input: parsed.data };
}

/** The country's subdivisions, nested ones after their parent, for the picker. */
export function regionsOf(country: string): { code: string; depth: number }[] {
  const out: { code: string; depth: number }[] = [];
  const walk = (code: string, depth: number) => {
    for (const child of subdivisionsOf(code)) {
      out.push({ code: child, depth });
      if (depth < 4) walk(child, depth + 1);
    }
  };
  walk(country, 0);
  return out;
}

export function countriesSorted(lang: Language): { code: string; name: string }[] {
  const collator = new Intl.Collator(lang);
  return [...allCountries().keys()]
    .map((code) => ({ code, name: placeName(code, lang) }))
    .sort((a, b) => collator.compare(a.name, b.name));
}
