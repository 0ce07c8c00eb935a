/**
 * The new-order form: what the browser posts (flat fields), how it becomes an `OrderInput` candidate for
 * the engine's own schema (so the console validates exactly as the API does), how schema issues land next
 * to the field that caused them, and the plain-words preview of what the order will do.
 */
import type { z } from "zod";
import { allCountries, jurisdictionsOutsideAuthority, OrderInput, subdivisionsOf } from "../engine/index.js";
import { formatDate, type Language, STRINGS } from "../i18n/console.js";
import { placeName } from "../i18n/notice.js";

export const FIELDS = [
  "reference",
  "authorityName",
  "authorityKind",
  "country",
  "authorityJurisdiction",
  "jurisdictions",
  "targetKind",
  "targetIds",
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
    jurisdictions: many(body, "jurisdictions").filter((j) => j.startsWith(country)),
    targetKind: one(body, "targetKind") === "account" ? "account" : "meeting",
    targetIds: one(body, "targetIds"),
    receivedAt: one(body, "receivedAt"),
    effectiveFrom: one(body, "effectiveFrom"),
    effectiveUntil: one(body, "effectiveUntil"),
    mode: one(body, "mode") || "enforce",
    accountType: one(body, "accountType"),
    accountLocation: one(body, "accountLocation"),
    notes: one(body, "notes"),
  };
}

export function targetIdsOf(form: OrderForm): string[] {
  return form.targetIds
    .split(/[\n,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A date field (`YYYY-MM-DD`, UTC) as the instant the schema wants; anything else is passed on as typed. */
function instant(date: string): string | undefined {
  if (!date) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? `${date}T00:00:00Z` : date;
}

function candidate(form: OrderForm): Record<string, unknown> {
  const ids = targetIdsOf(form);
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
  const t = STRINGS[lang];
  const missing =
    (issue.code === "invalid_type" && issue.input === undefined) ||
    (issue.code === "too_small" && issue.minimum === 1) ||
    (issue.code === "invalid_value" && issue.input === "");
  if (missing) return t.required;
  const message = translated(issue, lang);
  // A bad id: name it, since the field holds many.
  if (issue.path[0] === "target" && typeof issue.path[2] === "number") {
    const id = targetIdsOf(form)[issue.path[2]];
    return `${id}: ${message}`;
  }
  return message;
}

/**
 * The engine's schema speaks English (it is the API's contract); the console says the same in Dutch.
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

function translated(issue: z.core.$ZodIssue, lang: Language): string {
  if (lang === "en") return issue.message;
  const twice = /^(\S+) is listed twice$/.exec(issue.message);
  if (twice) return `${twice[1]} staat er twee keer in`;
  return DUTCH[issue.message] ?? issue.message;
}

export type Validated = { ok: true; input: OrderInput } | { ok: false; errors: FormErrors };

/** Validates with the API's schema and the I1 entry rule; one message per field, the first one. */
export function validate(form: OrderForm, lang: Language): Validated {
  const errors: FormErrors = {};
  if (!form.country) errors.country = STRINGS[lang].required;
  const parsed = OrderInput.safeParse(candidate(form));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = fieldOf(issue.path);
      if (field === "authorityJurisdiction" && errors.country) continue;
      errors[field] ??= messageOf(issue, form, lang);
    }
    return { ok: false, errors };
  }
  const outside = jurisdictionsOutsideAuthority(parsed.data);
  if (outside.length > 0) {
    const authority = parsed.data.authority.jurisdiction;
    errors.jurisdictions =
      lang === "nl"
        ? `${outside.join(", ")}: ligt niet binnen het rechtsgebied van de instantie (${authority})`
        : `${outside.join(", ")}: not inside the authority's jurisdiction ${authority}`;
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

const lists = {
  en: {
    and: new Intl.ListFormat("en-GB", { type: "conjunction" }),
    or: new Intl.ListFormat("en-GB", { type: "disjunction" }),
  },
  nl: {
    and: new Intl.ListFormat("nl", { type: "conjunction" }),
    or: new Intl.ListFormat("nl", { type: "disjunction" }),
  },
} as const;

/** What the order will do, in plain words, for the person about to submit it. */
export function describe(input: OrderInput, lang: Language): string {
  const { and, or } = lists[lang];
  const places = or.format(input.jurisdictions.map((j) => placeName(j, lang)));
  const ids = input.target.kind === "meeting" ? input.target.meetingIds : input.target.accountIds;
  const from = input.effectiveFrom ? formatDate(input.effectiveFrom, lang) : undefined;
  const until = input.effectiveUntil ? formatDate(input.effectiveUntil, lang) : undefined;
  const shadow = input.mode === "shadow";
  if (lang === "nl") {
    const when = `${from ? `vanaf ${from}` : "vanaf het moment van goedkeuring"}${until ? ` tot ${until}` : ""}`;
    const what =
      input.target.kind === "meeting"
        ? `${ids.length === 1 ? "vergadering" : "vergaderingen"} ${and.format(ids)}`
        : "elke vergadering";
    const who =
      input.target.kind === "account"
        ? `Deelnemers met ${ids.length === 1 ? "account" : "de accounts"} ${or.format(ids)} die zich in ${places} bevinden`
        : `Deelnemers die zich in ${places} bevinden`;
    return shadow
      ? `Niemand wordt geweigerd: ${who.charAt(0).toLowerCase()}${who.slice(1)} worden ${when} bij ${what} alleen vastgelegd als schaduwtreffer; iedereen neemt gewoon deel.`
      : `${who}, worden ${when} geweigerd voor ${what}; alle anderen nemen gewoon deel.`;
  }
  const when = `${from ? `from ${from}` : "from the moment it is approved"}${until ? ` until ${until}` : ""}`;
  const what =
    input.target.kind === "meeting"
      ? `${ids.length === 1 ? "meeting" : "meetings"} ${and.format(ids)}`
      : "every meeting";
  const who =
    input.target.kind === "account"
      ? `Participants using ${ids.length === 1 ? "account" : "the accounts"} ${or.format(ids)} who are located in ${places}`
      : `Participants located in ${places}`;
  return shadow
    ? `Nobody will be refused: ${who.charAt(0).toLowerCase()}${who.slice(1)} joining ${what} will only be recorded as shadow matches ${when}; everyone joins as usual.`
    : `${who} will be refused ${what} ${when}; everyone else joins as usual.`;
}
