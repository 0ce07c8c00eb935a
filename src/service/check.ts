/**
 * The join check outside HTTP: validated facts in, a Decision and its DecisionRecord out. Shared by
 * `/v1/check` and `/v1/check/batch` (and, later, the Worker).
 */
import { type Decision, type DecisionRecord, decide, type Ruleset } from "../engine/index.js";
import type { Geo, GeoAnswer } from "../geo/interface.js";
import { ipPrefix } from "../geo/ip.js";
import { denialNotice, type Language } from "../http/notice.js";

export interface CheckInput {
  meetingId: string;
  /** Validated and normalised (see `parseIp`). */
  ip: string;
  accountId?: string | undefined;
}

export interface CheckDeps {
  geo: Geo;
  hashIp: (ip: string) => string;
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
  const geo = deps.geo.lookup(input.ip);
  if (geo instanceof Promise) return geo.then((answer) => conclude(deps, ruleset, input, now, lang, answer));
  return conclude(deps, ruleset, input, now, lang, geo);
}

function conclude(
  deps: CheckDeps,
  ruleset: Ruleset,
  input: CheckInput,
  now: number,
  lang: Language,
  geo: GeoAnswer,
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
    ipPrefix: ipPrefix(input.ip),
    ipHash: deps.hashIp(input.ip),
    rulesetVersion: ruleset.version,
    geoSource: geo.source,
    geoDbVersion: geo.dbVersion,
  };
  return { decision, record };
}
