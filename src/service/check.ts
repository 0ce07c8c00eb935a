/**
 * The join check outside HTTP: validated facts in, a Decision and its DecisionRecord out. Shared by
 * `/v1/check` and `/v1/check/batch`, on Node and in the Worker, by the edge's `/v1/check/self`
 * (`evaluateCaller`), and by the console's check simulator, which validates the participant's address
 * with the same `Ip` schema.
 */
import { z } from "zod";
import { type Decision, type DecisionRecord, decide, type Ruleset } from "../engine/index.js";
import type { Caller, Geo, GeoAnswer } from "../geo/interface.js";
import { ipPrefix, parseIp } from "../geo/ip.js";
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

export interface CheckInput {
  meetingId: string;
  /** Validated and normalised (see `parseIp`). */
  ip: string;
  accountId?: string | undefined;
}

/**
 * A browser-direct check (`/v1/check/self`): no address in the input; the runtime locates the caller.
 * Only that route makes one: every other check names the participant's `ip`, because a server calling
 * on a participant's behalf would otherwise be located instead of them.
 */
export type CallerCheckInput = Omit<CheckInput, "ip">;

export interface CheckDeps {
  geo: Geo;
  hashIp: (ip: string, at: number) => string;
  newId: () => string;
}

export interface Evaluated {
  decision: Decision;
  record: DecisionRecord;
}

/** Synchronous when the geo answer is (an mmdb or an L1 hit); a promise only when geo goes remote. */
export function evaluate(
  deps: CheckDeps,
  ruleset: Ruleset,
  input: CheckInput,
  now: number,
  lang: Language,
): Evaluated | Promise<Evaluated> {
  const ip = input.ip;
  const geo = deps.geo.lookup(ip);
  if (geo instanceof Promise)
    return geo.then((answer) => conclude(deps, ruleset, input, now, lang, answer, ip));
  return conclude(deps, ruleset, input, now, lang, geo, ip);
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
  return conclude(deps, ruleset, input, now, lang, caller.geo, caller.ip);
}

function conclude(
  deps: CheckDeps,
  ruleset: Ruleset,
  input: CallerCheckInput,
  now: number,
  lang: Language,
  geo: GeoAnswer,
  /** The address the record keeps as prefix and hash: the input's or the caller's, else none. */
  ip: string | null,
): Evaluated {
  const verdict = decide(
    ruleset,
    { meetingId: input.meetingId, accountId: input.accountId, location: geo.location },
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
    geo: { country, subdivision },
    rulesetVersion: ruleset.version,
    decisionId,
  };
  if (verdict.decision === "deny" && verdict.jurisdiction)
    decision.notice = denialNotice(verdict.jurisdiction, lang);
  // I6: the record keeps the network prefix and a keyed hash, never the address.
  const record: DecisionRecord = {
    decisionId,
    at: new Date(now).toISOString(),
    meetingId: input.meetingId,
    ...(input.accountId === undefined ? {} : { accountId: input.accountId }),
    decision: verdict.decision,
    code: verdict.code,
    orderIds: decision.orderIds,
    jurisdiction: verdict.jurisdiction,
    country,
    subdivision,
    ipPrefix: ip === null ? null : ipPrefix(ip),
    ipHash: ip === null ? null : deps.hashIp(ip, now),
    rulesetVersion: ruleset.version,
    geoSource: geo.source,
    geoDbVersion: geo.dbVersion,
  };
  return { decision, record };
}
