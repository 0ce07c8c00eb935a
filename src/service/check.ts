/**
 * The join check outside HTTP: validated facts in, a Decision and its DecisionRecord out. Shared by
 * `/v1/check` and `/v1/check/batch`, by `/v1/meetings/{id}/recheck` (phase `in_meeting`), on Node and
 * in the Worker, by the edge's `/v1/check/self` (`evaluateCaller`), and by the console's check
 * simulator, which validates the participant's address with the same `Ip` schema.
 *
 * A participant is named by an IP address or, for a dial-in caller, a phone number (`phone`, E.164),
 * located by its calling code (`geo/phone.ts`). Either way the record keeps a network prefix or the
 * calling code and a keyed hash, never the address or number (I6).
 */
import { z } from "zod";
import {
  type CheckRole,
  type Decision,
  type DecisionRecord,
  decide,
  type Phase,
  type Ruleset,
} from "../engine/index.js";
import type { Caller, Geo, GeoAnswer } from "../geo/interface.js";
import { ipPrefix, parseIp } from "../geo/ip.js";
import { E164, locatePhone } from "../geo/phone.js";
import type { Language } from "../i18n/language.js";
import { denialNotice } from "../i18n/notice.js";

/** A participant's address as a check names it, normalised (see `parseIp`). */
export const Ip = z
  .string({
    // A check without an address would have to be located where its caller is: say what is missing.
    error: (issue) =>
      issue.input === undefined
        ? "is required: the participant's IP address (the caller's own is never used)"
        : "must be an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::1",
  })
  .max(64, "must be an IPv4 or IPv6 address")
  .transform((value, ctx) => {
    const parsed = parseIp(value);
    if (parsed) return parsed.ip;
    ctx.addIssue({
      code: "custom",
      message: "must be an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::1",
    });
    return z.NEVER;
  })
  .meta({
    description: "The participant's IP address (IPv4, IPv6 or IPv4-mapped IPv6).",
    example: "203.0.113.7",
  });

/** A dial-in caller's number as a check names it. */
export const Phone = z
  .string()
  .max(16, "must be an E.164 phone number such as +31201234567")
  .regex(E164, "must be an E.164 phone number: a + and 7 to 15 digits, such as +31201234567")
  .meta({
    description:
      "A dial-in caller's phone number in E.164 form; located by its country calling code (country precision only). Never stored (I6).",
    example: "+31201234567",
  });

/**
 * The participant fields a check names: exactly one of `ip` and `phone` (a server calling on a
 * participant's behalf names them; it is never located itself). One rule for `/v1/check`, the batch,
 * the re-check and the OpenAPI document, so that the message says the same everywhere.
 */
export function requireOneLocator(
  input: { ip?: string | undefined; phone?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (input.ip === undefined && input.phone === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["ip"],
      message:
        "is required: the participant's IP address, or `phone` for a dial-in caller (the caller's own address is never used)",
    });
  } else if (input.ip !== undefined && input.phone !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["phone"],
      message: "give either `ip` or `phone`, not both: one participant joins one way",
    });
  }
}

/**
 * A check input that passed `requireOneLocator`, typed as what it then is: exactly one of `ip` and
 * `phone` (the schema's output type cannot say "exactly one").
 */
export function located(input: {
  meetingId: string;
  ip?: string | undefined;
  phone?: string | undefined;
  accountId?: string | undefined;
  role?: CheckRole | undefined;
}): CheckInput {
  return input as CheckInput;
}

export type CheckInput = {
  meetingId: string;
  accountId?: string | undefined;
  /** Default `participant`. */
  role?: CheckRole | undefined;
} & (
  | { /** Validated and normalised (see `parseIp`). */ ip: string; phone?: undefined }
  | { /** Validated E.164. */ phone: string; ip?: undefined }
);

/**
 * A browser-direct check (`/v1/check/self`): no address in the input; the runtime locates the caller.
 * Only that route makes one: every other check names the participant's `ip` or `phone`, because a
 * server calling on a participant's behalf would otherwise be located instead of them.
 */
export type CallerCheckInput = {
  meetingId: string;
  accountId?: string | undefined;
  role?: CheckRole | undefined;
};

export interface CheckDeps {
  geo: Geo;
  hashIp: (ip: string, at: number) => string;
  newId: () => string;
}

export interface Evaluated {
  decision: Decision;
  record: DecisionRecord;
}

/**
 * What a record keeps of who was checked (I6): the network prefix or the calling code, and the keyed
 * hash of the address or number; all null when the runtime knew neither.
 */
interface Trace {
  ipPrefix: string | null;
  phoneCountryCode: string | null;
  /** What the keyed hash is taken over: the normalised address or the E.164 number. */
  hashed: string | null;
}

/**
 * The record's timestamp, formatted once per clock reading: a batch shares one `now`, and checks under
 * load share a millisecond.
 */
let isoNow = Number.NaN;
let isoText = "";
function isoAt(now: number): string {
  if (now !== isoNow) {
    isoText = new Date(now).toISOString();
    isoNow = now;
  }
  return isoText;
}

const NO_TRACE: Trace = { ipPrefix: null, phoneCountryCode: null, hashed: null };

const ipTrace = (ip: string): Trace => ({ ipPrefix: ipPrefix(ip), phoneCountryCode: null, hashed: ip });

/**
 * Synchronous when the geo answer is (an mmdb, an L1 hit, a phone number); a promise only when geo goes
 * remote. `phase` is `in_meeting` for a re-check of someone already inside.
 */
export function evaluate(
  deps: CheckDeps,
  ruleset: Ruleset,
  input: CheckInput,
  now: number,
  lang: Language,
  phase: Phase = "join",
): Evaluated | Promise<Evaluated> {
  if (input.phone !== undefined) {
    const located = locatePhone(input.phone);
    const trace: Trace = { ipPrefix: null, phoneCountryCode: located.callingCode, hashed: input.phone };
    return conclude(deps, ruleset, input, now, lang, located.geo, trace, phase);
  }
  const ip = input.ip;
  const geo = deps.geo.lookup(ip);
  if (geo instanceof Promise)
    return geo.then((answer) => conclude(deps, ruleset, input, now, lang, answer, ipTrace(ip), phase));
  return conclude(deps, ruleset, input, now, lang, geo, ipTrace(ip), phase);
}

/** A browser-direct check, located where the runtime places its caller. */
export function evaluateCaller(
  deps: CheckDeps,
  ruleset: Ruleset,
  input: CallerCheckInput,
  now: number,
  lang: Language,
  caller: Caller,
): Evaluated {
  return conclude(
    deps,
    ruleset,
    input,
    now,
    lang,
    caller.geo,
    caller.ip === null ? NO_TRACE : ipTrace(caller.ip),
    "join",
  );
}

function conclude(
  deps: CheckDeps,
  ruleset: Ruleset,
  input: CallerCheckInput,
  now: number,
  lang: Language,
  geo: GeoAnswer,
  trace: Trace,
  phase: Phase,
): Evaluated {
  const role = input.role ?? "participant";
  const verdict = decide(
    ruleset,
    { meetingId: input.meetingId, accountId: input.accountId, role, location: geo.location },
    now,
  );
  const decisionId = deps.newId();
  const country = geo.location?.country ?? null;
  const subdivision = geo.location?.subdivisions.at(-1) ?? null;
  const decision: Decision = {
    decision: verdict.decision,
    code: verdict.code,
    orderIds: [...verdict.orderIds],
    jurisdiction: verdict.jurisdiction,
    geo: { country, subdivision, source: geo.source },
    rulesetVersion: ruleset.version,
    decisionId,
  };
  if (verdict.decision === "deny" && verdict.jurisdiction)
    decision.notice = denialNotice(verdict.jurisdiction, lang);
  // I6: the record keeps the network prefix (or calling code) and a keyed hash, never the address.
  const at = isoAt(now);
  const ipHash = trace.hashed === null ? null : deps.hashIp(trace.hashed, now);
  // The key order is the record's line on disk. One literal, one shape: an absent `accountId` or
  // `phoneCountryCode` is undefined, which the line leaves out as JSON does (spreading them in made
  // two objects and grew the record's property store key by key, on every check).
  const record: DecisionRecord = {
    decisionId,
    at,
    phase,
    role,
    meetingId: input.meetingId,
    accountId: input.accountId,
    decision: verdict.decision,
    code: verdict.code,
    orderIds: decision.orderIds,
    jurisdiction: verdict.jurisdiction,
    country,
    subdivision,
    ipPrefix: trace.ipPrefix,
    phoneCountryCode: trace.phoneCountryCode ?? undefined,
    ipHash,
    rulesetVersion: ruleset.version,
    geoSource: geo.source,
    geoDbVersion: geo.dbVersion,
  };
  return { decision, record };
}
