/**
 * `decide(ruleset, facts, now)`: the join check's verdict. Synchronous, no clock of its own, no I/O
 * (I8). It implements I1-I3:
 * - only orders in the ruleset (approved) whose window `[from, until)` holds `now` are considered (I3);
 * - a deny needs the participant's location inside a block jurisdiction of an enforcing order (I1);
 * - a location that is unknown, or coarser than a block jurisdiction needs, allows with GEO_UNKNOWN (I2);
 * - shadow orders never deny: they answer SHADOW_MATCH (I3).
 */
import { countryOf, lineage } from "./jurisdiction.js";
import type { CompiledOrder, Ruleset } from "./ruleset.js";
import type { DecisionCode, GeoLocation } from "./schemas.js";

export interface CheckFacts {
  readonly meetingId: string;
  readonly accountId?: string | undefined;
  /** null: the location is unknown (private address, not in the database, lookup error). */
  readonly location: GeoLocation | null;
}

export interface Verdict {
  readonly decision: "allow" | "deny";
  readonly code: DecisionCode;
  /** BLOCKED / SHADOW_MATCH: the orders that matched; otherwise the orders in force that were considered. */
  readonly orderIds: readonly string[];
  /** The block jurisdiction that matched (BLOCKED, SHADOW_MATCH), else null. */
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
  const ids = inForce.map((o) => o.id);
  const location = facts.location;
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

/** Approved orders naming the meeting or the account whose window holds `now`, without duplicates. */
export function ordersInForce(
  ruleset: Ruleset,
  facts: Pick<CheckFacts, "meetingId" | "accountId">,
  now: number,
) {
  const byMeeting = ruleset.meetings.get(facts.meetingId);
  const byAccount = facts.accountId === undefined ? undefined : ruleset.accounts.get(facts.accountId);
  const out: CompiledOrder[] = [];
  if (byMeeting) for (const o of byMeeting) if (inWindow(o, now)) out.push(o);
  // An order names either meetings or accounts, never both, so the two lists cannot share an order.
  if (byAccount) for (const o of byAccount) if (inWindow(o, now)) out.push(o);
  return out;
}

function inWindow(order: CompiledOrder, now: number): boolean {
  return now >= order.from && (order.until === null || now < order.until);
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
