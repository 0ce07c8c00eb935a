/**
 * The shapes of Cordon's domain, as zod schemas: the validation, the TypeScript type and (through
 * `.meta`) the OpenAPI documentation at once. Types and schemas share a name.
 */
import { z } from "zod";
import {
  type BlockProblem,
  blockProblem,
  contains,
  isCountry,
  isJurisdiction,
  needsSubdivision,
} from "./jurisdiction.js";

/**
 * Identifiers that travel in URLs, logs and CSV: printable, no spaces, no separators that need escaping
 * (meeting and account ids, and the re-check's participant handles).
 */
export const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

const identifier = (description: string, example: string) =>
  z
    .string()
    .regex(
      IDENTIFIER,
      "must be 1-128 characters: letters, digits and . _ : @ - (starting with a letter or digit)",
    )
    .meta({ description, example });

export const MeetingId = identifier("The platform's meeting id.", "81234567890");
/**
 * An address or a phone URI in an account id would be a raw participant identifier at rest (I6): an
 * IPv4 address anywhere in it, an IPv6 address as the whole id, or `tel:`. Plain digits stay valid
 * (platforms number accounts), the same at the check and at ingest, so no edge record is lost to it.
 */
const ADDRESS_LIKE =
  /(?:^|[^0-9])\d{1,3}(?:\.\d{1,3}){3}(?:[^0-9]|$)|^[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*$|^tel:/i;

export const AccountId = identifier("The platform's account id of the participant.", "acct_5Yt2").refine(
  (value) => !ADDRESS_LIKE.test(value),
  "must be an account id, never an IP address or a phone number (tel:)",
);

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

/**
 * Free text may not hold C0 or C1 control characters (DEL included) or the bidi controls (embeddings,
 * overrides, isolates, marks) that make stored text display as something else: an authority stored as
 * "\u202Elive" shows as "evil". Multi-line text (notes, reasons) keeps line feeds and tabs, and CR only
 * before LF (what a browser's textarea posts).
 */
// Cc: U+0000-001F, U+007F-009F. Bidi_Control: U+061C, U+200E-200F, U+202A-202E, U+2066-2069.
const UNSAFE_SINGLE = /[\p{Cc}\p{Bidi_Control}]/u;
const UNSAFE_MULTI = /(?![\n\t\r])[\p{Cc}\p{Bidi_Control}]|\r(?!\n)/u;

/** The first character free text may not hold, or undefined. */
export function unsafeCharacter(text: string, multiline: boolean): string | undefined {
  return (multiline ? UNSAFE_MULTI : UNSAFE_SINGLE).exec(text)?.[0];
}

const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;

/** Refuses control and bidi characters in a string schema, naming the first one found. */
export function plainText<T extends z.ZodString>(schema: T, opts: { multiline?: boolean } = {}): T {
  const multiline = opts.multiline ?? false;
  return schema.refine((text) => unsafeCharacter(text, multiline) === undefined, {
    error: (issue) =>
      `must not contain control or bidi characters (found ${codePoint(unsafeCharacter(String(issue.input), multiline) ?? "")})`,
  });
}

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

export const OrderAction = z.enum(["geoblock", "prevent_hosting"]).meta({
  id: "OrderAction",
  description:
    "`geoblock`: participants (hosts included) located inside the block are refused the meeting; `prevent_hosting`: a host located inside cannot start or host it, and no participant is refused by the order.",
});
export type OrderAction = z.infer<typeof OrderAction>;

/** The roles a check can be made for: a participant (the default) or the meeting's host. */
export const CheckRole = z.enum(["participant", "host"]).meta({
  description: "`host`: the person starting or hosting the meeting (a host is a participant too).",
});
export type CheckRole = z.infer<typeof CheckRole>;

/**
 * Accounts not subject to the ordering authority's law (I10): never refused under the order, whatever
 * their location; their checks answer EXEMPT.
 */
const ExemptAccountIds = z
  .array(AccountId)
  .max(1000)
  .meta({
    description:
      "Accounts not subject to the authority's law: never refused under this order, wherever they are (code EXEMPT).",
    example: ["acct_5Yt2"],
  });

export const Authority = z
  .strictObject({
    name: plainText(z.string().trim().min(1).max(200)).meta({ example: "Bombay High Court" }),
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

export const RequestedScope = z
  .strictObject({
    jurisdictions: z
      .array(Jurisdiction)
      .min(1)
      .max(100)
      .meta({
        description: "Where the authority asked for a block: any ISO codes, as asked.",
        example: ["IN"],
      }),
    target: Target.optional().meta({ description: "What the authority named; default: the granted target." }),
  })
  .meta({
    description:
      "What the authority asked for, verbatim, even beyond its own jurisdiction (I10); the granted block and target lie inside it. Default: the same as granted.",
  });
export type RequestedScope = z.output<typeof RequestedScope>;

/** Why an order was rejected: the report's rejection causes. */
export const ReasonCode = z
  .enum([
    "invalid_service",
    "legally_invalid",
    "outside_jurisdiction",
    "insufficient_information",
    "no_such_target",
    "other",
  ])
  .meta({ id: "ReasonCode", description: "Why an order was rejected, as the report counts it." });
export type ReasonCode = z.infer<typeof ReasonCode>;

const Notes = plainText(z.string().max(4000), { multiline: true });

/** The fields of an order input, before the checks across fields (an amendment's changes reuse them). */
export const OrderInputFields = {
  reference: plainText(z.string().trim().min(1).max(200)).meta({
    description: "The authority's case reference.",
    example: "WP/1234/2026",
  }),
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
  requested: RequestedScope.optional(),
  receivedAt: Instant.meta({ description: "When the order was received; not in the future." }),
  effectiveFrom: Instant.optional().meta({
    description: "Start of enforcement; default: the approval time.",
  }),
  effectiveUntil: Instant.optional().meta({
    description: "End of enforcement (exclusive); default: none.",
  }),
  mode: Mode.default("enforce"),
  action: OrderAction.default("geoblock"),
  exemptAccountIds: ExemptAccountIds.optional(),
  accountType: AccountType.optional(),
  accountLocation: CountryCode.optional(),
  notes: Notes.optional(),
};

export const OrderInput = z
  .strictObject(OrderInputFields)
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
    if (input.requested) {
      for (const issue of beyondRequest(input, input.requested)) ctx.addIssue({ code: "custom", ...issue });
    }
    for (const issue of exemptionProblems(input)) ctx.addIssue({ code: "custom", ...issue });
  })
  .meta({ id: "OrderInput", description: "An access-denial order as the response team enters it." });
export type OrderInput = z.output<typeof OrderInput>;

/** Bodies of the life-cycle steps (the API's and the console's): approval note, rejection, withdrawal. */
export const ApproveRequest = z
  .strictObject({ note: plainText(z.string().trim().max(2000), { multiline: true }).optional() })
  .meta({ id: "ApproveRequest" });
export const RejectRequest = z
  .strictObject({
    reason: plainText(z.string().trim().min(1, "say why the order is rejected").max(2000), {
      multiline: true,
    }),
    reasonCode: ReasonCode.optional().meta({ description: "Why, as the report counts it; default `other`." }),
  })
  .meta({ id: "RejectRequest" });
export const WithdrawRequest = z
  .strictObject({ reason: plainText(z.string().trim().max(2000), { multiline: true }).optional() })
  .meta({ id: "WithdrawRequest" });

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

/**
 * What an amendment changes: order-input fields (an unknown one is refused), each replacing the order's;
 * `null` removes an optional field (`requested: null`: the request becomes the granted scope again).
 * The amended order as a whole is then judged as a new one would be (I1, I10, the window).
 */
export const AmendmentChanges = z
  .strictObject({
    reference: OrderInputFields.reference.optional(),
    authority: Authority.optional(),
    jurisdictions: OrderInputFields.jurisdictions.optional(),
    target: Target.optional(),
    requested: RequestedScope.nullable().optional(),
    receivedAt: Instant.optional(),
    effectiveFrom: Instant.nullable().optional(),
    effectiveUntil: Instant.nullable().optional(),
    // No default here: a change that does not name the mode keeps it.
    mode: Mode.optional(),
    action: OrderAction.optional(),
    exemptAccountIds: ExemptAccountIds.nullable().optional(),
    accountType: AccountType.nullable().optional(),
    accountLocation: CountryCode.nullable().optional(),
    notes: Notes.nullable().optional(),
  })
  .refine((changes) => Object.keys(changes).length > 0, "name at least one field to change")
  .meta({
    id: "AmendmentChanges",
    description:
      "Order-input fields to replace; `null` removes an optional one. The amended order is validated as a whole, as a new order would be.",
  });
export type AmendmentChanges = z.output<typeof AmendmentChanges>;

export const AmendmentRequest = z
  .strictObject({
    changes: AmendmentChanges,
    reason: plainText(z.string().trim().min(1, "say why the order is amended").max(2000), {
      multiline: true,
    }),
  })
  .meta({
    id: "AmendmentRequest",
    description: "A proposed change to an order, for a second person to decide.",
  });

export const AmendmentStatus = z.enum(["pending", "approved", "rejected", "lapsed"]).meta({
  description:
    "`lapsed`: the order was withdrawn or rejected while the amendment was pending, so it was never decided.",
});

export const Amendment = z
  .object({
    id: z.string().meta({ example: "amd_1" }),
    orderId: z.string(),
    status: AmendmentStatus,
    changes: AmendmentChanges,
    reason: z.string(),
    proposedBy: z.string(),
    proposedAt: z.string(),
    decidedBy: z.string().optional(),
    decidedAt: z.string().optional(),
    note: z.string().optional().meta({ description: "The approver's note." }),
    rejectionReason: z.string().optional(),
    lapsedAt: z.string().optional(),
  })
  .meta({ id: "Amendment" });
export type Amendment = z.infer<typeof Amendment>;

export const ApproveAmendmentRequest = z
  .strictObject({ note: plainText(z.string().trim().max(2000), { multiline: true }).optional() })
  .meta({ id: "ApproveAmendmentRequest" });
export const RejectAmendmentRequest = z
  .strictObject({
    reason: plainText(z.string().trim().min(1, "say why the amendment is rejected").max(2000), {
      multiline: true,
    }),
  })
  .meta({ id: "RejectAmendmentRequest" });

/** How precisely the configured location source places people: a Country or a City database. */
export const GeoPrecision = z.enum(["country", "subdivision"]);
export type GeoPrecision = z.infer<typeof GeoPrecision>;

export const OrderWarning = z
  .object({
    code: z.enum(["NEEDS_CITY_DATABASE", "NOT_ENFORCED"]).meta({
      description:
        "NEEDS_CITY_DATABASE: a block is a subdivision and the configured location source knows countries only, so it will not deny anyone until a City database is configured (I2 fails open). NOT_ENFORCED: an order stored before the jurisdiction table that now breaks it (a separate legal order, an unlocatable code); the ruleset leaves it out.",
    }),
    jurisdictions: z.array(z.string()).meta({ description: "The blocks concerned.", example: ["IN-MH"] }),
    message: z.string(),
  })
  .meta({ id: "OrderWarning", description: "Accepted, but the order will not work as entered." });
export type OrderWarning = z.infer<typeof OrderWarning>;

/**
 * The warnings an order's blocks earn against the location source's precision: a subdivision block
 * with a country-only source never denies (it is GEO_UNKNOWN, I2). Computed when shown, never stored:
 * configuring a City database lifts it.
 */
export function precisionWarnings(
  jurisdictions: readonly string[],
  precision: GeoPrecision | null,
): OrderWarning[] {
  if (precision !== "country") return [];
  const coarse = jurisdictions.filter(needsSubdivision);
  if (coarse.length === 0) return [];
  return [
    {
      code: "NEEDS_CITY_DATABASE",
      jurisdictions: coarse,
      message: `${coarse.join(", ")}: the location source knows countries only, so this order will not deny anyone there until a City database is configured`,
    },
  ];
}

export const Order = z
  .object({
    id: z.string().meta({ example: "ord_01JD3X6Q8Z" }),
    reference: z.string(),
    authority: Authority,
    jurisdictions: z.array(z.string()),
    target: Target,
    requested: z
      .object({ jurisdictions: z.array(z.string()), target: Target })
      .optional()
      .meta({
        description:
          "What the authority asked for, verbatim (I10); `jurisdictions` and `target` are what was granted. Absent on orders entered before Cordon recorded requests: the same as granted.",
      }),
    receivedAt: z.string(),
    effectiveFrom: z.string().optional(),
    effectiveUntil: z.string().optional(),
    mode: Mode,
    action: OrderAction.optional().meta({
      description: "What the order refuses; absent on orders entered before actions existed: `geoblock`.",
    }),
    exemptAccountIds: z.array(z.string()).optional().meta({
      description: "Accounts never refused under this order (code EXEMPT). Absent: none.",
    }),
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
    reasonCode: ReasonCode.optional().meta({
      description: "On rejection: why, as the report counts it (`other` when the rejecter gave none).",
    }),
    note: z.string().optional(),
    importedBy: z.string().optional().meta({
      description:
        "Set when an admin import (backfill) wrote this state: who imported it. The times and actors are then the historical ones the import gave.",
    }),
    importedApproval: ImportedApproval.optional(),
    confirmation: Confirmation.optional(),
    amendments: z.number().int().min(0).optional().meta({
      description:
        "How many amendments were proposed, in any state; absent: none (GET .../amendments lists them).",
    }),
    warnings: z.array(OrderWarning).optional().meta({
      description:
        "Accepted, but will not work as entered (computed when shown, never stored): e.g. NEEDS_CITY_DATABASE. Absent: none.",
    }),
    amendmentLog: z.array(Amendment).optional().meta({
      description:
        "The amendments themselves, stored with the order so that each is written with its audit entry (I7). Audit entries carry it; the order routes show `amendments` (the count) instead.",
    }),
  })
  .meta({ id: "Order" });
export type Order = z.infer<typeof Order>;

export const DecisionCode = z
  .enum(["NO_ORDER", "OUTSIDE_JURISDICTION", "GEO_UNKNOWN", "EXEMPT", "SHADOW_MATCH", "BLOCKED"])
  .meta({
    id: "DecisionCode",
    description:
      "NO_ORDER: no order in force applies to the meeting or account (in that role); OUTSIDE_JURISDICTION: orders apply but the participant is outside them; GEO_UNKNOWN: location unknown or too coarse (fail open); EXEMPT: the account is exempt from the orders that would refuse it (not subject to the authority's law); SHADOW_MATCH: a shadow order would deny; BLOCKED: denied.",
  });
export type DecisionCode = z.infer<typeof DecisionCode>;

/** What is known about where a participant is. `subdivisions` empty: the source does not know. */
export interface GeoLocation {
  country: string;
  /** Full ISO 3166-2 codes, largest first (`GB-ENG`, `GB-KEN`), as the source reports them. */
  subdivisions: readonly string[];
}

/**
 * I10: what is granted lies inside what was asked: each block inside a requested jurisdiction, the same
 * kind of target and no id that was not named. One issue per offending field, by its path.
 */
export function beyondRequest(
  granted: Pick<OrderInput, "jurisdictions" | "target">,
  requested: RequestedScope,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  granted.jurisdictions.forEach((j, i) => {
    if (!requested.jurisdictions.some((r) => contains(r, j))) {
      issues.push({
        path: ["jurisdictions", i],
        message: `${j} is not inside what the authority asked for (requested.jurisdictions: ${requested.jurisdictions.join(", ")})`,
      });
    }
  });
  const asked = requested.target;
  if (asked === undefined) return issues;
  if (asked.kind !== granted.target.kind) {
    issues.push({
      path: ["target", "kind"],
      message: `the authority asked for ${asked.kind}s (requested.target)`,
    });
    return issues;
  }
  const [key, ids, named] =
    granted.target.kind === "meeting" && asked.kind === "meeting"
      ? (["meetingIds", granted.target.meetingIds, asked.meetingIds] as const)
      : granted.target.kind === "account" && asked.kind === "account"
        ? (["accountIds", granted.target.accountIds, asked.accountIds] as const)
        : (["", [], []] as const);
  ids.forEach((id, i) => {
    if (!(named as readonly string[]).includes(id)) {
      issues.push({
        path: ["target", key, i],
        message: `${id} is not among what the authority named (requested.target)`,
      });
    }
  });
  return issues;
}

/**
 * Exemptions must name each account once, and never an account the order targets: an order that both
 * names an account and exempts it would say two things at once.
 */
export function exemptionProblems(
  input: Pick<OrderInput, "target" | "exemptAccountIds">,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const targeted = new Set(input.target.kind === "account" ? input.target.accountIds : []);
  const seen = new Set<string>();
  (input.exemptAccountIds ?? []).forEach((id, i) => {
    if (seen.has(id)) issues.push({ path: ["exemptAccountIds", i], message: `${id} is listed twice` });
    else if (targeted.has(id))
      issues.push({
        path: ["exemptAccountIds", i],
        message: `${id} is a target of this order (target.accountIds) and cannot also be exempt`,
      });
    seen.add(id);
  });
  return issues;
}

/** I1 at entry: every block jurisdiction lies inside the authority's. Returns the offending codes. */
export function jurisdictionsOutsideAuthority(
  input: Pick<OrderInput, "authority" | "jurisdictions">,
): string[] {
  return blockProblems(input).map((p) => p.jurisdiction);
}

/**
 * I1 at entry, by the reviewed table: each block that is outside the authority, a territory with its
 * own legal order, or a code no location source can report, with why.
 */
export function blockProblems(input: Pick<OrderInput, "authority" | "jurisdictions">): BlockProblem[] {
  return input.jurisdictions.flatMap((j) => blockProblem(input.authority.jurisdiction, j) ?? []);
}

export const GeoSource = z.enum(["mmdb", "webservice", "cf", "phone", "none"]).meta({
  description:
    "Where the location came from: a MaxMind database, the MaxMind web service, Cloudflare's request.cf, a dial-in caller's country calling code, or nowhere.",
});
export type GeoSource = z.infer<typeof GeoSource>;

export const Decision = z
  .object({
    decision: z.enum(["allow", "deny"]),
    code: DecisionCode,
    orderIds: z.array(z.string()),
    jurisdiction: z.string().nullable().meta({ description: "The block jurisdiction that matched, if any." }),
    geo: z.object({
      country: z.string().nullable(),
      subdivision: z.string().nullable(),
      source: GeoSource,
    }),
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

export const Phase = z.enum(["join", "in_meeting"]).meta({
  description:
    "`join`: a check as someone joins; `in_meeting`: a re-check of someone already inside (`/recheck`), where a deny is a removal.",
});
export type Phase = z.infer<typeof Phase>;

export const DecisionRecord = z
  .object({
    decisionId: z.string(),
    at: z.string(),
    phase: Phase.optional().meta({ description: "Absent on records written before phases: `join`." }),
    role: CheckRole.optional().meta({
      description: "Absent on records written before roles: `participant`.",
    }),
    meetingId: z.string(),
    accountId: z.string().optional(),
    decision: z.enum(["allow", "deny"]),
    code: DecisionCode,
    orderIds: z.array(z.string()),
    jurisdiction: z.string().nullable(),
    country: z.string().nullable(),
    subdivision: z.string().nullable(),
    ipPrefix: z.string().nullable().meta({
      description:
        "/24 (IPv4) or /48 (IPv6) network of the participant, never the address (I6); null for a dial-in caller.",
    }),
    phoneCountryCode: z.string().nullable().optional().meta({
      description:
        "A dial-in caller's country calling code (`+7`), never the number (I6); absent or null for an IP check.",
      example: "+7",
    }),
    ipHash: z.string().nullable().meta({
      description:
        "Keyed hash of the address or phone number (I6): HMAC-SHA-256 under the half-year's key over the HMAC under CORDON_IP_HASH_KEY; the half-year's key is destroyed when that half-year is finalized.",
    }),
    rulesetVersion: z.number().int(),
    geoSource: GeoSource,
    geoDbVersion: z.string().nullable(),
  })
  .meta({ id: "DecisionRecord" });
export type DecisionRecord = z.infer<typeof DecisionRecord>;
