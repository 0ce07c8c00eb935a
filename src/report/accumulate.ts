/**
 * The per-record rule of the report's aggregation: how one decision record changes its month's
 * aggregate, and how months are merged into a quarter or half-year. The aggregate stores call
 * `accumulate` once per record they count for the first time (deduplication by `decisionId` is theirs,
 * I5). Pure: no I/O, no clock.
 */
import type { DecisionRecord } from "../engine/index.js";
import type { EnforcementCounts, HostLocationCounts, MonthAggregate, MonthBucket } from "./model.js";
import { monthOf } from "./periods.js";

/**
 * Membership index for the bucket arrays, so adding to a set of a million ip hashes stays O(1) while the
 * aggregate itself stays plain JSON. Keyed by the array object: an aggregate read back from a store gets
 * its index built once, on the first record added to it. The arrays hold unique values in first-seen
 * order; only `accumulate` should add to them (a value pushed from outside would escape the index).
 */
const indexes = new WeakMap<string[], Set<string>>();

function addUnique(list: string[], value: string): void {
  let index = indexes.get(list);
  if (index === undefined) {
    index = new Set(list);
    indexes.set(list, index);
  }
  if (index.has(value)) return;
  index.add(value);
  list.push(value);
}

function bucket(buckets: Record<string, MonthBucket>, key: string): MonthBucket {
  let found = buckets[key];
  if (found === undefined) {
    found = { deniedJoins: 0, shadowMatches: 0, meetings: [], participants: [] };
    buckets[key] = found;
  }
  return found;
}

/**
 * Adds one record to its month (mutates `month`). Every record counts in `records`. `BLOCKED` adds a
 * denied join (or, for a re-check of someone already inside, `phase: "in_meeting"`, a removal) and
 * `SHADOW_MATCH` a shadow match, each under the matched block jurisdiction
 * (`record.jurisdiction`) and under every order in `record.orderIds`; a denial also adds the meeting
 * and the participant's `ipHash` (when there is one) to those buckets. A shadow match adds neither: the
 * participant was let in, so distinct meetings and participants count denials only (aggregates written
 * before this rule hold shadow-matched ones too, until rebuilt). A record naming two orders counts once
 * for each order but once only for its jurisdiction, so per-order sums can exceed the jurisdiction's.
 * A deny without a jurisdiction (never written by `decide`) is counted per order only.
 * A host's check (`role: "host"`) also says where the meeting was hosted, per order it names: inside
 * when it matched a block (BLOCKED, SHADOW_MATCH, EXEMPT with a jurisdiction), outside when the host was
 * outside every block (OUTSIDE_JURISDICTION); see `HostLocationCounts`.
 * Throws a RangeError when the record's `at` lies outside `month.month`: routing by month is the
 * store's job, and a misrouted record would silently land in the wrong period.
 */
export function accumulate(month: MonthAggregate, record: DecisionRecord): void {
  const recordMonth = monthOf(record.at);
  if (recordMonth !== month.month) {
    throw new RangeError(
      `decision ${record.decisionId} at ${record.at} belongs to ${recordMonth}, not ${month.month}`,
    );
  }
  month.records += 1;
  if (record.role === "host") {
    const side = hostSide(record);
    if (side !== null) {
      for (const id of record.orderIds) {
        const b = bucket(month.byOrder, id);
        const meetings = b[side] ?? [];
        b[side] = meetings;
        addUnique(meetings, record.meetingId);
      }
    }
  }
  if (record.code !== "BLOCKED" && record.code !== "SHADOW_MATCH") return;
  const targets: MonthBucket[] = record.orderIds.map((id) => bucket(month.byOrder, id));
  if (record.jurisdiction !== null) targets.push(bucket(month.byJurisdiction, record.jurisdiction));
  const removal = record.phase === "in_meeting";
  for (const target of targets) {
    if (record.code !== "BLOCKED") {
      target.shadowMatches += 1;
      continue;
    }
    if (removal) target.removedParticipants = (target.removedParticipants ?? 0) + 1;
    else target.deniedJoins += 1;
    addUnique(target.meetings, record.meetingId);
    if (record.ipHash !== null) addUnique(target.participants, record.ipHash);
  }
}

/** Where a host's check places the meeting against the orders it names, or null when it cannot say. */
export function hostSide(record: DecisionRecord): "hostedInside" | "hostedOutside" | null {
  if (record.code === "OUTSIDE_JURISDICTION") return "hostedOutside";
  if (
    (record.code === "BLOCKED" || record.code === "SHADOW_MATCH" || record.code === "EXEMPT") &&
    record.jurisdiction !== null
  )
    return "hostedInside";
  return null;
}

/**
 * Adds one late record (its own month was frozen when it was counted, I9) to the month that takes it
 * (mutates `month`): only the late counts change, never the month's own records or buckets, so a late
 * denial is not attributed to a month in which it did not happen.
 */
export function accumulateLate(month: MonthAggregate, record: DecisionRecord): void {
  month.late ??= { records: 0, deniedJoins: 0, shadowMatches: 0 };
  const late = month.late;
  late.records += 1;
  if (record.code === "BLOCKED") late.deniedJoins += 1;
  else if (record.code === "SHADOW_MATCH") late.shadowMatches += 1;
}

/** A bucket merged over several months: counts summed, meetings and participants as exact sets. */
export interface MergedBucket {
  deniedJoins: number;
  removedParticipants: number;
  shadowMatches: number;
  meetings: Set<string>;
  participants: Set<string>;
  hostedInside: Set<string>;
  hostedOutside: Set<string>;
}

export function emptyMerged(): MergedBucket {
  return {
    deniedJoins: 0,
    removedParticipants: 0,
    shadowMatches: 0,
    meetings: new Set(),
    participants: new Set(),
    hostedInside: new Set(),
    hostedOutside: new Set(),
  };
}

/** Adds bucket `b` (a month's, or a merged one) into `into`. */
export function mergeInto(
  into: MergedBucket,
  b: Pick<MonthBucket, "deniedJoins" | "shadowMatches" | "removedParticipants"> & {
    meetings: Iterable<string>;
    participants: Iterable<string>;
    hostedInside?: Iterable<string> | undefined;
    hostedOutside?: Iterable<string> | undefined;
  },
): void {
  into.deniedJoins += b.deniedJoins;
  into.removedParticipants += b.removedParticipants ?? 0;
  into.shadowMatches += b.shadowMatches;
  for (const m of b.meetings) into.meetings.add(m);
  for (const p of b.participants) into.participants.add(p);
  for (const m of b.hostedInside ?? []) into.hostedInside.add(m);
  for (const m of b.hostedOutside ?? []) into.hostedOutside.add(m);
}

/**
 * Merges one kind of bucket (`byJurisdiction` or `byOrder`) over months. Distinct counts of the result
 * are the sizes of the unions, so a participant seen in January and in March counts once in the
 * half-year. Pass each month once: merging the same month twice doubles its counts.
 */
export function mergeMonths(
  months: readonly MonthAggregate[],
  by: "byJurisdiction" | "byOrder",
): Map<string, MergedBucket> {
  const merged = new Map<string, MergedBucket>();
  for (const month of months) {
    for (const [key, b] of Object.entries(month[by])) {
      let into = merged.get(key);
      if (into === undefined) {
        into = emptyMerged();
        merged.set(key, into);
      }
      mergeInto(into, b);
    }
  }
  return merged;
}

export function countsOf(merged: MergedBucket): EnforcementCounts {
  return {
    deniedJoins: merged.deniedJoins,
    removedParticipants: merged.removedParticipants,
    shadowMatches: merged.shadowMatches,
    distinctMeetings: merged.meetings.size,
    distinctParticipants: merged.participants.size,
  };
}

export function hostCountsOf(merged: MergedBucket): HostLocationCounts {
  return { meetingsHostedInside: merged.hostedInside.size, meetingsHostedOutside: merged.hostedOutside.size };
}
