/**
 * Which decision records arriving from the edge (the Worker's Queue consumer) are already in the
 * decision log, so that a retried delivery adds nothing (I5: exactly one record per answered check).
 * Records are indexed by the month of their `at`, so an index stays small enough to hold in memory.
 *
 * Order of operations in the ingest route: `unseen` (read), append the unseen records to the decision
 * log, then `remember`. A crash between append and remember can leave a record in the log that a retry
 * appends again; the report deduplicates by decisionId too, so no count changes. The reverse order could
 * lose a record, which is worse.
 */

export interface IngestIndex {
  /** The ids among `records` not ingested before. */
  unseen(records: readonly { decisionId: string; at: string }[]): Promise<Set<string>>;
  remember(records: readonly { decisionId: string; at: string }[]): Promise<void>;
}

export const monthOf = (at: string) => at.slice(0, 7);

export function byMonth<T extends { at: string }>(records: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of records) {
    const list = out.get(monthOf(r.at)) ?? [];
    list.push(r);
    out.set(monthOf(r.at), list);
  }
  return out;
}
