/**
 * Every Redis key and channel Cordon uses, in one place. Keys that one script or transaction touches
 * together share a hash tag, so they land in one slot and work on Redis Cluster:
 *
 * - `{cordon}`: the low-volume keys (orders, audit, rulesets, sessions, frozen reports, enforcement
 *   events), on one shard;
 * - `{cordon-d<p>}` for each decision partition p (0 <= p < N): its stream, its epoch token and the
 *   report aggregates of its records with the stream position they cover, so the one script that counts
 *   a batch also moves that position (exactly once without remembering ids) and the decision volume
 *   spreads over the cluster's shards;
 * - geo cache entries stand alone (single-key commands only), spread by their hash;
 * - `{cordon-decisions}` and `{cordon-report}`: the single decision stream and its aggregates of earlier
 *   versions (`legacy`), still read to their end and still reported; nothing new is written there.
 *
 * Nothing here holds a raw participant address (I6): geo cache keys use the keyed hash of the address.
 */
export interface RedisKeys {
  /** HASH orderId -> current order JSON. */
  orders: string;
  /** LIST of order ids in creation order. */
  orderIds: string;
  /** LIST of audit entries (JSON), index = seq - 1. */
  audit: string;
  /** LIST of the seqs of one order's audit entries. */
  orderAudit(orderId: string): string;
  /** HASH {seq, hash}: the chain's head. */
  head: string;
  /**
   * STRING: a whole ruleset document (JSON: version, hash, compiledAt, orders) of the version in
   * `rulesetDocumentVersion`, at or before the version in force: the deltas after it in `rulesetDeltas`
   * lead to `rulesetVersion`. Rewritten whole only now and then (see redis-channel.ts).
   */
  ruleset: string;
  /**
   * STRING: where releases before the deltas kept the document, always of the version in force. Read
   * while `ruleset` is absent (Redis as such a release left it); deleted by the first document stored,
   * so that an instance of such a release finds none and says so (degraded) instead of taking an
   * earlier version for the one in force.
   */
  rulesetEarlierDocument: string;
  /** STRING: the version of the ruleset in force (the head of the deltas), cheap to poll. */
  rulesetVersion: string;
  /** STRING: the epoch of the ruleset in force; absent for a ruleset compiled from no history. */
  rulesetEpoch: string;
  /** STRING: the version of the document in `ruleset` (absent: it is `rulesetVersion`, as releases before). */
  rulesetDocumentVersion: string;
  /**
   * STREAM: the deltas (engine `RulesetDelta`), one per version published as a change from the one
   * before, entry id `<version>-0`, fields `v` (version) and `d` (the delta's JSON): from the document's
   * version to the one in force, plus a few before it, so an instance behind applies them instead of
   * reading `ruleset` whole. Emptied by a publish that does not follow on.
   */
  rulesetDeltas: string;
  /**
   * HASH {n, chars, wanted}: how many deltas follow the document in `rulesetDeltas`, their length, and
   * whether an instance could not follow them and wants a newer document.
   */
  rulesetChain: string;
  /** STRING (with TTL): a document being uploaded in slices, renamed over `ruleset` once whole. */
  rulesetUpload(id: string): string;
  /**
   * STRING: the epoch of the order history (orders, audit, head): a random token made with its first
   * entry. Gone means the history is gone (Redis emptied); `cordon restore` puts it back with the rest.
   */
  epoch: string;
  /** STRING: a half-year's IP-hash key, wrapped (AES-256-GCM) under CORDON_IP_HASH_KEY (I6). */
  ipHashKey(period: string): string;
  /** STRING: the tombstone of a half-year's destroyed IP-hash key; the key is never made again. */
  ipHashKeyDestroyed(period: string): string;
  /** Pub/sub channel: a new ruleset version was stored (payload: the version). */
  rulesetChannel: string;
  /** The decision partitions, `partitions[partitionOf(decisionId, N)]` holds a record. */
  partitions: PartitionKeys[];
  /** STRING: the number of decision partitions, fixed by the first instance (see `partitionOf`). */
  partitionCount: string;
  /**
   * The single stream and report aggregates of earlier versions: drained by the report to their end and
   * merged into every report; `legacy.report` also keeps the finalized periods' archives.
   */
  legacy: PartitionKeys;
  /** Consumer group of the reporting pipeline on every partition's stream. */
  reportGroup: string;
  /** SET of the decisionIds ingested from the edge in one month (`YYYY-MM`). */
  ingested(month: string): string;
  /** STRING (with TTL): a geo answer, keyed by database version and the address's keyed hash. */
  geo(dbVersion: string, ipHash: string): string;
  /** The finalized periods' archived records and the months they cover (with the legacy aggregates). */
  report: ReportKeys;
  frozen: FrozenKeys;
  /** Console sessions (session-store.ts), under the low-volume hash tag: a few small keys per user. */
  sessions: SessionKeys;
  /**
   * Enforcement events (enforcement-events.ts), under the low-volume hash tag with the ruleset keys, so
   * the one script that publishes a batch also reads the ruleset epoch.
   */
  enforcement: EnforcementKeys;
}

export interface EnforcementKeys {
  /** STREAM of events: fields `type` and `e` (the event's JSON without its id, which is the entry id). */
  stream: string;
  /** HASH orderId -> the scope last published for it (the published state). */
  state: string;
  /** HASH {rev, epoch, version, at}: the published state's compare-and-set token and origin. */
  meta: string;
  /** STRING: the id of the last entry the retention trimmed; a cursor before it missed events. */
  trimmed: string;
  /**
   * STREAM, one entry per publish, id `<rev>-0` (the revision it made): the revision it was published
   * over (`epoch`, `version`, `at`) and the order ids it changed (`n`, `ids` as JSON), for readers that
   * follow from a revision (`changesSince`). Capped by the publish script (KEPT_CHANGES).
   */
  changes: string;
}

/** One decision partition: everything under its own hash tag, so one script can touch all of it. */
export interface PartitionKeys {
  /** Its index (legacy: -1). */
  index: number;
  /** STREAM of decision records; field `r` holds the record JSON, `id` its decisionId. */
  stream: string;
  /** STRING: a random token set once per dataset: gone or changed means the partition lost its data. */
  epoch: string;
  /**
   * SET (expiring) of the edge's decisionIds shipped into this partition, per day (`YYYY-MM-DD`) of their
   * `at`: a record ingested twice (a delivery retried after a crash between append and confirm) enters
   * the stream once. Ingest refuses records older than 14 days, so these sets live 16 days.
   */
  edgeIds(day: string): string;
  /** The report aggregates of this partition's records; `checkpoint` is the last stream id counted. */
  report: ReportKeys;
}

export interface SessionKeys {
  /**
   * HASH (with PEXPIRE = the idle timeout) of one session: principal name and role, language, CSRF
   * token, created / last seen / absolute deadline. Named by the SHA-256 of the session id, never the id.
   */
  session(idHash: string): string;
  /** What `session` puts before the id hash, for the scripts that name sessions from a member. */
  sessionPrefix: string;
  /** ZSET of one principal's session id hashes (by `principalKey`), scored by creation order: the cap. */
  byPrincipal(principalKey: string): string;
  /** STRING counter: the creation order of sessions (ties of the clock stay ordered). */
  seq: string;
}

export interface ReportKeys {
  /** STRING: where the aggregation last stopped in its source, set in the same script as the aggregates. */
  checkpoint: string;
  /** SET of the months (`YYYY-MM`) that have records. */
  months: string;
  /** SET of the decisionIds counted in a month (I5); legacy aggregates only (partitions count by position). */
  seen(month: string): string;
  /** HASH of a month's counters: `records`, and `<j|o>:<denied|shadow>:<jurisdiction or order id>`. */
  counts(month: string): string;
  /** SET of the meeting ids or ip hashes of one bucket (a jurisdiction `j` or an order `o`) of a month. */
  members(
    month: string,
    bucket: "j" | "o",
    name: string,
    what: "meetings" | "participants" | "hostedInside" | "hostedOutside",
  ): string;
  /** SET of the frozen months (I9); only grows, so its size versions it. */
  frozen: string;
  /** HASH decisionId -> the month that counted it late (a record of a frozen month counted after the freeze). */
  late: string;
  /** SET of the months whose records are archived by a finalization: the stream may be trimmed past them. */
  archived: string;
  /** HASH decisionId -> canonical JSON of a finalized period's record (`records`) or late record (`late`). */
  archive(period: string, kind: "records" | "late"): string;
}

/**
 * Finalized reports (I9), under the low-volume hash tag with the orders: a few small keys per period.
 * (The archived records, which scale with the decisions, live with the report aggregates: `ReportKeys`.)
 */
export interface FrozenKeys {
  /** STRING: the frozen report of a period (JSON: its signed manifest and the bytes of each format). */
  report(period: string): string;
  /** SET of the finalized periods. */
  periods: string;
}

/** Default number of decision partitions: enough to spread over a cluster of several shards. */
export const DEFAULT_DECISION_PARTITIONS = 16;
/** At most this many: the decision log's cursor holds a position per partition (decision-log.ts). */
export const MAX_DECISION_PARTITIONS = 256;

/**
 * The partition of a record: FNV-1a (32 bits) of its decisionId, modulo N. A given record always lands in
 * the same partition, whichever instance ships it and however often, so a partition's late-record hash
 * and the shipper's deduplication see every copy of it.
 */
export function partitionOf(decisionId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < decisionId.length; i++) {
    hash ^= decisionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/**
 * `prefix` lets several deployments share one Redis (default `cordon`); `partitions` is N, the number of
 * decision streams (CORDON_DECISION_PARTITIONS), the same on every instance.
 */
export function redisKeys(prefix = "cordon", opts: { partitions?: number } = {}): RedisKeys {
  const partitions = opts.partitions ?? DEFAULT_DECISION_PARTITIONS;
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > MAX_DECISION_PARTITIONS) {
    throw new RangeError(`decision partitions must be 1 to ${MAX_DECISION_PARTITIONS}, got ${partitions}`);
  }
  const tag = `${prefix}:{${prefix}}`;
  const legacyStream = `${prefix}:{${prefix}-decisions}:stream`;
  const legacyReport = reportKeys(`${prefix}:{${prefix}-report}`);
  return {
    orders: `${tag}:orders`,
    orderIds: `${tag}:order-ids`,
    audit: `${tag}:audit`,
    orderAudit: (orderId) => `${tag}:order-audit:${orderId}`,
    head: `${tag}:head`,
    ruleset: `${tag}:ruleset-document`,
    rulesetEarlierDocument: `${tag}:ruleset`,
    rulesetVersion: `${tag}:ruleset-version`,
    rulesetEpoch: `${tag}:ruleset-epoch`,
    rulesetDocumentVersion: `${tag}:ruleset-document-version`,
    rulesetDeltas: `${tag}:ruleset-deltas`,
    rulesetChain: `${tag}:ruleset-chain`,
    rulesetUpload: (id) => `${tag}:ruleset-upload:${id}`,
    epoch: `${tag}:epoch`,
    ipHashKey: (period) => `${tag}:ip-hash-key:${period}`,
    ipHashKeyDestroyed: (period) => `${tag}:ip-hash-key-destroyed:${period}`,
    rulesetChannel: `${prefix}:ruleset`,
    partitions: Array.from({ length: partitions }, (_, index) => {
      const base = `${prefix}:{${prefix}-d${index}}`;
      return {
        index,
        stream: `${base}:stream`,
        epoch: `${base}:epoch`,
        edgeIds: (day: string) => `${base}:edge-ids:${day}`,
        report: reportKeys(`${base}:report`),
      };
    }),
    partitionCount: `${tag}:decision-partitions`,
    legacy: {
      index: -1,
      stream: legacyStream,
      epoch: `${legacyStream}:epoch`,
      edgeIds: (day: string) => `${legacyStream}:edge-ids:${day}`,
      report: legacyReport,
    },
    reportGroup: "report",
    ingested: (month) => `${prefix}:{${prefix}-ingest}:${month}`,
    geo: (dbVersion, ipHash) => `${prefix}:geo:${dbVersion}:${ipHash}`,
    report: legacyReport,
    frozen: { report: (period) => `${tag}:frozen:${period}`, periods: `${tag}:frozen-periods` },
    sessions: {
      session: (idHash) => `${tag}:session:${idHash}`,
      sessionPrefix: `${tag}:session:`,
      // The principal goes last: a name containing ':' cannot make two principals share a key.
      byPrincipal: (principalKey) => `${tag}:sessions-of:${principalKey}`,
      seq: `${tag}:session-seq`,
    },
    enforcement: {
      stream: `${tag}:enforcement-events`,
      state: `${tag}:enforcement-state`,
      meta: `${tag}:enforcement-meta`,
      trimmed: `${tag}:enforcement-trimmed`,
      changes: `${tag}:enforcement-changes`,
    },
  };
}

function reportKeys(base: string): ReportKeys {
  return {
    checkpoint: `${base}:checkpoint`,
    months: `${base}:months`,
    seen: (month) => `${base}:${month}:seen`,
    counts: (month) => `${base}:${month}:counts`,
    // The name goes last: a jurisdiction or order id containing ':' cannot make two buckets share a key.
    members: (month, bucket, name, what) => `${base}:${month}:${what}:${bucket}:${name}`,
    frozen: `${base}:frozen`,
    late: `${base}:late`,
    archived: `${base}:archived`,
    archive: (period, kind) => `${base}:archive:${period}:${kind}`,
  };
}
