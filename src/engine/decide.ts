/**
 * `decide(ruleset, facts, now)`: the join check's verdict. Synchronous, no clock of its own, no I/O
 * (I8). It implements I1-I3:
 * - only orders in the ruleset (approved) whose window `[from, until)` holds `now` are considered (I3);
 * - a deny needs the participant's location inside a block jurisdiction of an enforcing order (I1);
 * - a location that is unknown, or coarser than a block jurisdiction needs, allows with GEO_UNKNOWN (I2);
 * - shadow orders never deny: they answer SHADOW_MATCH (I3);
 * - a `prevent_hosting` order concerns hosts only: a participant is never refused by it, and for one
 *   it is as if the order did not exist; a `geoblock` order concerns everyone, hosts included;
 * - an account an order exempts is never refused under that order, whatever its location: when that
 *   order alone would have refused it (or every order that applies exempts it), the answer is EXEMPT.
 */
import { countryOf, lineage } from "./jurisdiction.js";
import type { CompiledOrder, Ruleset } from "./ruleset.js";
import type { CheckRole, DecisionCode, GeoLocation } from "./schemas.js";

export interface CheckFacts {
  readonly meetingId: string;
  readonly accountId?: string | undefined;
  /** Default `participant`. */
  readonly role?: CheckRole | undefined;
  /** null: the location is unknown (private address, not in the database, lookup error). */
  readonly location: GeoLocation | null;
}

export interface Verdict {
  readonly decision: "allow" | "deny";
  readonly code: DecisionCode;
  /**
   * BLOCKED / SHADOW_MATCH: the orders that matched; EXEMPT: the exempting orders that matched (or, when
   * every order in force exempts the account, all of them); otherwise the orders in force considered.
   */
  readonly orderIds: readonly string[];
  /** The block jurisdiction that matched (BLOCKED, SHADOW_MATCH, EXEMPT with a match), else null. */
  readonly jurisdiction: string | null;
}

type Match = "inside" | "outside" | "unknown";

/** Shared by every NO_ORDER answer, so frozen down to its array. */
const NO_ORDER: Verdict = Object.freeze({
  decision: "allow",
  code: "NO_ORDER",
  orderIds: Object.freeze([]),
  jurisdiction: null,
});

export function decide(ruleset: Ruleset, facts: CheckFacts, now: number): Verdict {
  const inForce = ordersInForce(ruleset, facts, now);
  if (inForce.length === 0) return NO_ORDER;
  const accountId = facts.accountId;
  // Orders that exempt the account are set aside; they decide only whether the answer is EXEMPT.
  let exempting: CompiledOrder[] | undefined;
  let bound = inForce;
  if (accountId !== undefined && inForce.some((o) => o.exemptAccountIds.includes(accountId))) {
    exempting = inForce.filter((o) => o.exemptAccountIds.includes(accountId));
    bound = inForce.filter((o) => !o.exemptAccountIds.includes(accountId));
  }
  const verdict = bound.length === 0 ? null : judge(bound, facts.location);
  if (exempting === undefined) return verdict ?? NO_ORDER;
  if (verdict?.decision === "deny") return verdict;
  // Allowed by the orders that bind the account (or none binds it): EXEMPT when an exempting order
  // would have refused it, naming where; EXEMPT too, whatever the location, when no order binds it.
  const spared = facts.location === null ? null : judge(exempting, facts.location);
  if (spared?.decision === "deny")
    return {
      decision: "allow",
      code: "EXEMPT",
      orderIds: spared.orderIds,
      jurisdiction: spared.jurisdiction,
    };
  if (verdict !== null) return verdict;
  return { decision: "allow", code: "EXEMPT", orderIds: exempting.map((o) => o.id), jurisdiction: null };
}

/** The verdict of orders in force (none exempting the account) for a location. */
function judge(inForce: readonly CompiledOrder[], location: GeoLocation | null): Verdict {
  const ids = inForce.map((o) => o.id);
  if (location === null) return { decision: "allow", code: "GEO_UNKNOWN", orderIds: ids, jurisdiction: null };

  // The location's own codes and everything containing them in the reviewed table: `GB-KEN` lies in
  // `GB-ENG`, and `GP` (reported as a country) in `FR`. A subdivision of another country contradicts
  // `country`: doubt, so it is ignored (I2), and it can never place the participant inside another
  // country's block (I1).
  const subdivisions = location.subdivisions.filter((sub) => countryOf(sub) === location.country);
  const known = new Set<string>(lineage(location.country));
  for (const sub of subdivisions) for (const code of lineage(sub)) known.add(code);

  const enforced: string[] = [];
  const shadowed: string[] = [];
  let enforcedAt: string | null = null;
  let shadowedAt: string | null = null;
  let unknown = false;
  for (const order of inForce) {
    const hit = firstMatch(order, location.country, subdivisions, known);
    if (hit.match === "unknown") unknown = true;
    if (hit.match !== "inside") continue;
    if (order.mode === "enforce") {
      enforced.push(order.id);
      enforcedAt = mostSpecific(enforcedAt, hit.jurisdiction);
    } else {
      shadowed.push(order.id);
      shadowedAt = mostSpecific(shadowedAt, hit.jurisdiction);
    }
  }
  if (enforced.length > 0)
    return { decision: "deny", code: "BLOCKED", orderIds: enforced, jurisdiction: enforcedAt };
  if (shadowed.length > 0)
    return { decision: "allow", code: "SHADOW_MATCH", orderIds: shadowed, jurisdiction: shadowedAt };
  if (unknown) return { decision: "allow", code: "GEO_UNKNOWN", orderIds: ids, jurisdiction: null };
  return { decision: "allow", code: "OUTSIDE_JURISDICTION", orderIds: ids, jurisdiction: null };
}

/**
 * Approved orders naming the meeting or the account whose window holds `now` and that concern the
 * check's role (a `prevent_hosting` order concerns hosts only), without duplicates.
 */
export function ordersInForce(
  ruleset: Ruleset,
  facts: Pick<CheckFacts, "meetingId" | "accountId" | "role">,
  now: number,
) {
  const byMeeting = ruleset.meetings.get(facts.meetingId);
  const byAccount = facts.accountId === undefined ? undefined : ruleset.accounts.get(facts.accountId);
  const host = facts.role === "host";
  const out: CompiledOrder[] = [];
  if (byMeeting) for (const o of byMeeting) if (applies(o, now, host)) out.push(o);
  // An order names either meetings or accounts, never both, so the two lists cannot share an order.
  if (byAccount) for (const o of byAccount) if (applies(o, now, host)) out.push(o);
  return out;
}

function applies(order: CompiledOrder, now: number, host: boolean): boolean {
  return (
    now >= order.from && (order.until === null || now < order.until) && (host || order.action === "geoblock")
  );
}

function firstMatch(
  order: CompiledOrder,
  country: string,
  subdivisions: readonly string[],
  known: ReadonlySet<string>,
): { match: Match; jurisdiction: string | null } {
  let result: Match = "outside";
  let inside: string | null = null;
  for (const j of order.jurisdictions) {
    const m = matchOne(j, country, subdivisions, known);
    if (m === "inside") inside = mostSpecific(inside, j);
    else if (m === "unknown") result = "unknown";
  }
  return inside === null ? { match: result, jurisdiction: null } : { match: "inside", jurisdiction: inside };
}

/**
 * Of two matched block jurisdictions (both contain the location, so one contains the other), the
 * smaller: a denial under orders on both `IN` and `IN-MH` is reported under `IN-MH`, where it happened.
 */
function mostSpecific(current: string | null, candidate: string | null): string | null {
  if (current === null) return candidate;
  if (candidate === null) return current;
  return lineage(candidate).length > lineage(current).length ? candidate : current;
}

/**
 * Where the location stands against one block jurisdiction. A subdivision block against a location
 * without subdivision data (a country-only database), or one known only down to a larger region, is
 * "unknown": the data is too coarse to say, and I2 says allow.
 */
function matchOne(
  block: string,
  country: string,
  subdivisions: readonly string[],
  known: ReadonlySet<string>,
): Match {
  if (known.has(block)) return "inside";
  if (countryOf(block) !== country) return "outside";
  // Same country, the block is a subdivision the location is not known to be in.
  const mostSpecific = subdivisions[subdivisions.length - 1];
  if (mostSpecific === undefined) return "unknown";
  // The source knows a region that contains the block (e.g. `AZ-NX` for a block on `AZ-BAB`): too coarse.
  if (lineage(block).includes(mostSpecific)) return "unknown";
  return "outside";
}
