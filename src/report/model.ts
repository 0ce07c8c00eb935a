/**
 * The shapes of the access-denial report (DESIGN.md "Report"), shared by the aggregation, its stores,
 * the renderers (JSON, CSV, HTML) and the route. Pure types.
 */
import type { ReasonCode } from "../engine/index.js";

/** Enforcement counts for one key (a jurisdiction or an order) over some months. */
export interface EnforcementCounts {
  /** Denials at a join (`phase: "join"`, or records from before phases). */
  deniedJoins: number;
  /**
   * Participants removed from meetings in progress: denials of a re-check of someone already inside
   * (`phase: "in_meeting"`), each a removal. Not in `deniedJoins`.
   */
  removedParticipants: number;
  shadowMatches: number;
  distinctMeetings: number;
  /**
   * Distinct participants by `ipHash` (I6: the hash, never the address), among the denied joins only:
   * a participant a shadow order merely matched was let in and is not counted (nor is its meeting).
   */
  distinctParticipants: number;
}

/** One order's enforcement over every month counted: what the console's order page shows. */
export type OrderTotals = Pick<EnforcementCounts, "deniedJoins" | "shadowMatches"> & {
  /** Absent: none. */
  removedParticipants?: number;
  /** Distinct meetings over every month counted (HostLocationCounts); absent: no host was checked. */
  meetingsHostedInside?: number;
  meetingsHostedOutside?: number;
};

/**
 * Where an order's meetings were hosted, from the checks of their hosts (`role: "host"`): distinct
 * meetings whose host was located inside one of the order's block jurisdictions, and outside all of them.
 * A meeting whose hosts were found on both sides (a host who moved, co-hosts) counts in both. Checks
 * that could not place the host (GEO_UNKNOWN) count in neither.
 */
export interface HostLocationCounts {
  meetingsHostedInside: number;
  meetingsHostedOutside: number;
}

/**
 * What the aggregation keeps per month: exact, so it can be merged into quarters and half-years.
 * Sets hold meeting ids and ip hashes; they never leave the aggregation (the report shows counts).
 */
export interface MonthAggregate {
  month: string;
  /** Records counted, after deduplication by decisionId (I5). */
  records: number;
  byJurisdiction: Record<string, MonthBucket>;
  byOrder: Record<string, MonthBucket>;
  /**
   * Records whose own month was frozen (its period finalized) when they were counted, counted here
   * instead (the first month after theirs that was not frozen): see `LateCounts`. Absent in aggregates
   * written before finalization existed, and in months without late records.
   */
  late?: LateCounts;
}

/**
 * Late records (I9): decision records whose instant lies in a period that was already finalized when
 * they were counted (shipped late from an outbox, delivered late from the edge). They never change the
 * finalized period; they are shown, as a count, in the open period that took them.
 */
export interface LateCounts {
  records: number;
  deniedJoins: number;
  shadowMatches: number;
}

export interface MonthBucket {
  deniedJoins: number;
  shadowMatches: number;
  meetings: string[];
  participants: string[];
  /** In-meeting denials (removals); absent: none (and in aggregates from before phases). */
  removedParticipants?: number;
  /** Per order only: meetings whose host was checked inside / outside the order's blocks (absent: none). */
  hostedInside?: string[];
  hostedOutside?: string[];
}

/**
 * How a completed request ended; `partially_complied`: approved for less than was asked (I10);
 * `shadow`: approved for observation only (mode `shadow`), never enforced.
 */
export type Outcome = "complied" | "partially_complied" | "shadow" | "rejected" | "withdrawn";

/** Every outcome, in the order the report shows them. */
export const OUTCOMES: readonly Outcome[] = [
  "complied",
  "partially_complied",
  "shadow",
  "rejected",
  "withdrawn",
];

/** A rejection's cause, as the order records it (`other` for rejections stored without one). */
export type { ReasonCode };

/** One row of the dataset: an order completed in the period, without meeting or account ids. */
export interface DatasetRow {
  period: string;
  authorityJurisdiction: string;
  /** court, agency, police, regulator, other. */
  authorityKind: string;
  /** meeting or account. */
  targetKind: string;
  /** What the authority asked for (the granted block when it asked for the same). */
  requestedJurisdictions: string[];
  blockJurisdictions: string[];
  outcome: Outcome;
  /** For `rejected` only: why. */
  reasonCode: ReasonCode | null;
  accountType: string | null;
  accountLocation: string | null;
  receivedDate: string;
  completedDate: string;
  deniedJoins: number;
  /**
   * Participants removed from meetings in progress under the order (in-meeting denials), counted like
   * `deniedJoins`: from the order's approval up to the period's end.
   */
  removedParticipants: number;
}

/** Who publishes the report, and for which service (CORDON_REPORT_PUBLISHER, CORDON_REPORT_SERVICE). */
export interface Publisher {
  name: string;
  service: string;
}

/** The publisher a report names when none is configured. */
export const DEFAULT_PUBLISHER: Publisher = { name: "The platform operator", service: "the meeting service" };

/** The publisher the settings name (CORDON_REPORT_PUBLISHER, CORDON_REPORT_SERVICE), the other from the defaults; none set: undefined. */
export function publisherOf(name: string | undefined, service: string | undefined): Publisher | undefined {
  if (name === undefined && service === undefined) return undefined;
  return { name: name ?? DEFAULT_PUBLISHER.name, service: service ?? DEFAULT_PUBLISHER.service };
}

/** The previous period of the same length, for the comparison on the page. */
export interface PreviousPeriod {
  period: string;
  total: number;
  byOutcome: Record<Outcome, number>;
  /** Null where the report was built without that period's decision records (a frozen report). */
  deniedJoins: number | null;
}

export interface Report {
  period: string;
  start: string;
  end: string;
  generatedAt: string;
  /** Counts below this, and those that would give them away, are published as "<N" (`suppress.ts`). */
  threshold: number;
  requests: {
    total: number;
    /** The column totals: requests per outcome. */
    byOutcome: Record<Outcome, number>;
    byJurisdiction: Record<string, Record<Outcome, number>>;
    /**
     * The roll-up: per country, its own requests and its subdivisions' together (`IN` = `IN` + `IN-MH`
     * + ...), for every country with a request.
     */
    byCountry: Record<string, Record<Outcome, number>>;
    /** Rejections by reason code, every code listed (0 when none). */
    byReason: Record<ReasonCode, number>;
    byAccountType: Record<string, Record<Outcome, number>>;
    byAccountLocation: Record<string, Record<Outcome, number>>;
    /** Orders received by the period's end and not completed by then. */
    pendingAtEnd: { count: number; byJurisdiction: Record<string, number> };
  };
  enforcement: {
    byJurisdiction: Record<string, EnforcementCounts>;
    /** The roll-up per country: sums, and distinct meetings and participants over its whole area. */
    byCountry: Record<string, EnforcementCounts>;
    byOrder: Record<
      string,
      EnforcementCounts & HostLocationCounts & { authorityJurisdiction: string; blockJurisdictions: string[] }
    >;
  };
  dataset: DatasetRow[];
  /**
   * The counts hidden at the threshold, primary and complementary (`suppress.ts`), as keys of their
   * JSON paths (`cellKey`); absent or empty at threshold 0. Renderers show each as "<N".
   */
  suppressed?: string[];
  /** Absent: the page names the defaults (`DEFAULT_PUBLISHER`). */
  publisher?: Publisher;
  previous?: PreviousPeriod;
  /** True until the period is finalized: its numbers may still change (I9). */
  provisional: boolean;
  /** Records from already finalized periods that were counted in this one (see `LateCounts`). */
  late: LateCounts;
}
