/**
 * The shapes of Cordon's domain, as zod schemas: the validation, the TypeScript type and (through
 * `.meta`) the OpenAPI documentation at once. Types and schemas share a name.
 */
import { z } from "zod";
import { contains, isCountry, isJurisdiction } from "./jurisdiction.js";

/** Identifiers that travel in URLs, logs and CSV: printable, no spaces, no separators that need escaping. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

const identifier = (description: string, example: string) =>
  z
    .string()
    .regex(
      IDENTIFIER,
      "must be 1-128 characters: letters, digits and . _ : @ - (starting with a letter or digit)",
    )
    .meta({ description, example });

export const MeetingId = identifier("The platform's meeting id.", "81234567890");
export const AccountId = identifier("The platform's account id of the participant.", "acct_5Yt2");

export const Jurisdiction = z
  .string()
  .refine(isJurisdiction, {
    message: "must be an ISO 3166-1 alpha-2 country (RU) or ISO 3166-2 subdivision (IN-MH)",
  })
  .meta({ description: "ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision code.", example: "IN-MH" });

export const CountryCode = z
  .string()
  .refine(isCountry, { message: "must be an ISO 3166-1 alpha-2 country code such as NL" })
  .meta({ description: "ISO 3166-1 alpha-2 country code.", example: "IN" });

/** RFC 3339 instant with an explicit offset; stored as given, compared as epoch milliseconds. */
export const Instant = z.iso
  .datetime({
    offset: true,
    message: "must be an RFC 3339 date-time with a time zone, e.g. 2026-03-01T00:00:00Z",
  })
  .meta({ description: "RFC 3339 date-time.", example: "2026-03-01T00:00:00Z" });

export const AuthorityKind = z.enum(["court", "agency", "police", "regulator", "other"]);
export const AccountType = z.enum([
  "basic",
  "business",
  "education",
  "enterprise",
  "no_account",
  "pro",
  "phone",
]);
export const Mode = z.enum(["enforce", "shadow"]).meta({
  description: "`enforce` denies; `shadow` only reports what it would deny (SHADOW_MATCH).",
});

export const Authority = z
  .strictObject({
    name: z.string().trim().min(1).max(200).meta({ example: "Bombay High Court" }),
    jurisdiction: Jurisdiction.meta({ description: "Where the authority has jurisdiction.", example: "IN" }),
    kind: AuthorityKind,
  })
  .meta({ description: "The requesting authority." });

export const Target = z
  .discriminatedUnion("kind", [
    z.strictObject({
      kind: z.literal("meeting"),
      meetingIds: z.array(MeetingId).min(1).max(1000),
    }),
    z.strictObject({
      kind: z.literal("account"),
      accountIds: z.array(AccountId).min(1).max(1000),
    }),
  ])
  .meta({ description: "What the order names: meetings, or participants' accounts." });

export const OrderInput = z
  .strictObject({
    reference: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .meta({ description: "The authority's case reference.", example: "WP/1234/2026" }),
    authority: Authority,
    jurisdictions: z
      .array(Jurisdiction)
      .min(1)
      .max(100)
      .meta({
        description: "Where the block applies; each inside the authority's jurisdiction.",
        example: ["IN-MH"],
      }),
    target: Target,
    receivedAt: Instant.meta({ description: "When the order was received." }),
    effectiveFrom: Instant.optional().meta({
      description: "Start of enforcement; default: the approval time.",
    }),
    effectiveUntil: Instant.optional().meta({
      description: "End of enforcement (exclusive); default: none.",
    }),
    mode: Mode.default("enforce"),
    accountType: AccountType.optional(),
    accountLocation: CountryCode.optional(),
    notes: z.string().max(4000).optional(),
  })
  .superRefine((input, ctx) => {
    if (
      input.effectiveFrom &&
      input.effectiveUntil &&
      Date.parse(input.effectiveUntil) <= Date.parse(input.effectiveFrom)
    ) {
      ctx.addIssue({ code: "custom", path: ["effectiveUntil"], message: "must be later than effectiveFrom" });
    }
    const seen = new Set<string>();
    input.jurisdictions.forEach((j, i) => {
      if (seen.has(j))
        ctx.addIssue({ code: "custom", path: ["jurisdictions", i], message: `${j} is listed twice` });
      seen.add(j);
    });
  })
  .meta({ id: "OrderInput", description: "An access-denial order as the response team enters it." });
export type OrderInput = z.output<typeof OrderInput>;

export const OrderStatus = z.enum(["pending", "approved", "rejected", "withdrawn"]);
export type OrderStatus = z.infer<typeof OrderStatus>;
export const Enforcement = z.enum(["none", "scheduled", "active", "expired"]);
export type Enforcement = z.infer<typeof Enforcement>;

export const ImportedApproval = z
  .object({ at: z.string(), by: z.string(), note: z.string().optional() })
  .meta({
    description:
      "An imported order whose historical approval would have put a block in force: the approval the import stated. The order stays pending until a live approver (neither its creator nor its importer) confirms it; it then counts at this historical date.",
  });
export type ImportedApproval = z.infer<typeof ImportedApproval>;

export const Confirmation = z.object({ by: z.string(), at: z.string(), note: z.string().optional() }).meta({
  description:
    "The live approval that confirmed an imported approval (`importedApproval`): who and when. `decidedBy` and `decidedAt` stay the historical ones.",
});
export type Confirmation = z.infer<typeof Confirmation>;

export const Order = z
  .object({
    id: z.string().meta({ example: "ord_01JD3X6Q8Z" }),
    reference: z.string(),
    authority: Authority,
    jurisdictions: z.array(z.string()),
    target: Target,
    receivedAt: z.string(),
    effectiveFrom: z.string().optional(),
    effectiveUntil: z.string().optional(),
    mode: Mode,
    accountType: AccountType.optional(),
    accountLocation: z.string().optional(),
    notes: z.string().optional(),
    status: OrderStatus,
    enforcement: Enforcement,
    createdBy: z.string(),
    createdAt: z.string(),
    decidedBy: z.string().optional(),
    decidedAt: z.string().optional(),
    withdrawnAt: z.string().optional(),
    withdrawnBy: z.string().optional(),
    reason: z.string().optional(),
    note: z.string().optional(),
    importedBy: z.string().optional().meta({
      description:
        "Set when an admin import (backfill) wrote this state: who imported it. The times and actors are then the historical ones the import gave.",
    }),
    importedApproval: ImportedApproval.optional(),
    confirmation: Confirmation.optional(),
  })
  .meta({ id: "Order" });
export type Order = z.infer<typeof Order>;

export const DecisionCode = z
  .enum(["NO_ORDER", "OUTSIDE_JURISDICTION", "GEO_UNKNOWN", "SHADOW_MATCH", "BLOCKED"])
  .meta({
    id: "DecisionCode",
    description:
      "NO_ORDER: no order in force names the meeting or account; OUTSIDE_JURISDICTION: orders apply but the participant is outside them; GEO_UNKNOWN: location unknown or too coarse (fail open); SHADOW_MATCH: a shadow order would deny; BLOCKED: denied.",
  });
export type DecisionCode = z.infer<typeof DecisionCode>;

/** What is known about where a participant is. `subdivisions` empty: the source does not know. */
export interface GeoLocation {
  country: string;
  /** Full ISO 3166-2 codes, largest first (`GB-ENG`, `GB-KEN`), as the source reports them. */
  subdivisions: readonly string[];
}

/** I1 at entry: every block jurisdiction lies inside the authority's. Returns the offending codes. */
export function jurisdictionsOutsideAuthority(
  input: Pick<OrderInput, "authority" | "jurisdictions">,
): string[] {
  return input.jurisdictions.filter((j) => !contains(input.authority.jurisdiction, j));
}

export const GeoSource = z.enum(["mmdb", "webservice", "cf", "none"]).meta({
  description:
    "Where the location came from: a MaxMind database, the MaxMind web service, Cloudflare's request.cf, or nowhere.",
});
export type GeoSource = z.infer<typeof GeoSource>;

export const Decision = z
  .object({
    decision: z.enum(["allow", "deny"]),
    code: DecisionCode,
    orderIds: z.array(z.string()),
    jurisdiction: z.string().nullable().meta({ description: "The block jurisdiction that matched, if any." }),
    geo: z.object({ country: z.string().nullable(), subdivision: z.string().nullable() }),
    rulesetVersion: z.number().int(),
    decisionId: z
      .string()
      .meta({ description: "Unique id of this decision and of its record in the decision log." }),
    notice: z.string().optional().meta({
      description: "On deny: a participant-facing text in the language of Accept-Language (en, nl).",
    }),
  })
  .meta({ id: "Decision" });
export type Decision = z.infer<typeof Decision>;

export const DecisionRecord = z
  .object({
    decisionId: z.string(),
    at: z.string(),
    meetingId: z.string(),
    accountId: z.string().optional(),
    decision: z.enum(["allow", "deny"]),
    code: DecisionCode,
    orderIds: z.array(z.string()),
    jurisdiction: z.string().nullable(),
    country: z.string().nullable(),
    subdivision: z.string().nullable(),
    ipPrefix: z
      .string()
      .nullable()
      .meta({ description: "/24 (IPv4) or /48 (IPv6) network of the participant, never the address (I6)." }),
    ipHash: z
      .string()
      .nullable()
      .meta({ description: "HMAC-SHA-256 of the address under CORDON_IP_HASH_KEY (I6)." }),
    rulesetVersion: z.number().int(),
    geoSource: GeoSource,
    geoDbVersion: z.string().nullable(),
  })
  .meta({ id: "DecisionRecord" });
export type DecisionRecord = z.infer<typeof DecisionRecord>;
