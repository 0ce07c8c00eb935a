/**
 * Which decision records arriving from the edge (the Worker's Queue consumer) are already in the
 * decision log, and with what content: per `decisionId` a digest of the record as the edge sent it, so a
 * retried delivery adds nothing (I5) and a different record under a stored id is told apart and refused.
 * Entries live per month of the record's `at`; ingest refuses records older than 14 days before it asks,
 * so only the latest two or three months are ever consulted (memory stays bounded, and Redis expires
 * older months).
 *
 * The edge's ids are in their own namespace (`isEdgeDecisionId`): Node's own decision ids are random
 * UUIDs (version 4) and never indexed here; the Worker's are version-8 UUIDs, which Node never makes, so
 * an edge record carrying a Node id is refused on sight, without a lookup.
 *
 * Order of operations in ingest: `claim` (atomic per id, across instances), append the new records to
 * the decision log, then `confirm`. A crash after the claim leaves it unconfirmed: a retry with the same
 * content claims it again and appends, while different content under that id is refused. The reverse
 * order (remember, then append) could lose a record, which is worse. A crash between the append and the
 * confirmation would so append a record twice, and the report counts by position, so each decisionId
 * must enter it once: the file index confirms, at its next start, the claims whose records the decision
 * log's tail holds (file/ingest-index.ts); in Redis mode the shipper adds an edge id to its partition's
 * stream only once (store/redis/shipper/README.md, "Edge records, once").
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { canonicalJson } from "./audit.js";

export interface IngestEntry {
  decisionId: string;
  at: string;
  /** `recordDigest` of the record as delivered. */
  digest: string;
}

/**
 * `new`: nobody stored this id, or a claim with this very content was never confirmed (append it);
 * `same`: stored with this content (skip it); `different`: claimed or stored with other content (refuse).
 */
export type Claim = "new" | "same" | "different";

export interface IngestIndex {
  /** Claims each entry's id for its digest, one answer per entry in order. Ids are unique in one call. */
  claim(entries: readonly IngestEntry[]): Promise<Claim[]>;
  /** Marks claimed entries as stored in the decision log. */
  confirm(entries: readonly IngestEntry[]): Promise<void>;
}

/** 128 bits of SHA-256 over the record's canonical JSON: enough to tell two records apart. */
export function recordDigest(record: object): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(record)))).slice(0, 32);
}

/** A version-8 UUID: the edge's decision ids (RFC 9562 leaves version 8 to custom use). */
const EDGE_DECISION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isEdgeDecisionId(id: string): boolean {
  return EDGE_DECISION_ID.test(id);
}

/** The edge's id from a random (version-4) UUID: the same 122 random bits, version 8. */
export function edgeDecisionId(randomUuid: string): string {
  const id = `${randomUuid.slice(0, 14)}8${randomUuid.slice(15)}`.toLowerCase();
  if (!isEdgeDecisionId(id)) throw new TypeError("edgeDecisionId: not a random UUID");
  return id;
}

/** Statuses as the stores keep them: `p:<digest>` while claimed, `<digest>` once confirmed. */
export const PENDING = "p:";

export function judge(stored: string | null | undefined, digest: string): Claim {
  if (stored === null || stored === undefined || stored === PENDING + digest) return "new";
  return stored === digest ? "same" : "different";
}

export const monthOf = (at: string) => at.slice(0, 7);

/**
 * How long a month's entries must still be kept, counted from now, when ingest has just seen records
 * of it up to `latestAt`: until its last instant is past ingest's 14-day window (with two days to
 * spare). Counted from the records' own time, as ingest accepts them only within 14 days of its clock
 * (and 5 minutes ahead), so the store needs no clock of its own, and expiry lands between 16 and 30
 * days after the month's end.
 */
export function monthTtlMs(month: string, latestAt: string): number {
  const [year, mon] = month.split("-").map(Number) as [number, number];
  return Date.UTC(year, mon, 1) + 16 * 24 * 3600 * 1000 - Date.parse(latestAt);
}

export function byMonth<T extends { at: string }>(records: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of records) {
    const list = out.get(monthOf(r.at)) ?? [];
    list.push(r);
    out.set(monthOf(r.at), list);
  }
  return out;
}
