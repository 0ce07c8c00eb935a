/**
 * Every Redis key and channel Cordon uses, in one place. Keys that one script or transaction touches
 * together share a hash tag (`{cordon}`), so they land in one slot and work on Redis Cluster; the decision
 * stream and geo cache entries stand alone (single-key commands only).
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
  /** STRING: the current ruleset document (JSON: version, hash, compiledAt, orders). */
  ruleset: string;
  /** STRING: the version of `ruleset`, cheap to poll. */
  rulesetVersion: string;
  /** STRING: the epoch of `ruleset`; absent for a ruleset compiled from no history. */
  rulesetEpoch: string;
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
  /** STREAM of decision records; field `r` holds the record JSON, `id` its decisionId. */
  decisions: string;
  /** Consumer group of the reporting pipeline on `decisions`. */
  reportGroup: string;
  /** SET of the decisionIds ingested from the edge in one month (`YYYY-MM`). */
  ingested(month: string): string;
  /** STRING (with TTL): a geo answer, keyed by database version and the address's keyed hash. */
  geo(dbVersion: string, ipHash: string): string;
  /**
   * Report aggregates (report/redis-aggregate-store.ts), all under their own hash tag (`{<prefix>-report}`)
   * so the one script that applies a batch may touch them together on Redis Cluster.
   */
  report: ReportKeys;
  frozen: FrozenKeys;
  /** Console sessions (session-store.ts), under the low-volume hash tag: a few small keys per user. */
  sessions: SessionKeys;
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
  /** SET of the decisionIds counted in a month (I5). */
  seen(month: string): string;
  /** HASH of a month's counters: `records`, and `<j|o>:<denied|shadow>:<jurisdiction or order id>`. */
  counts(month: string): string;
  /** SET of the meeting ids or ip hashes of one bucket (a jurisdiction `j` or an order `o`) of a month. */
  members(month: string, bucket: "j" | "o", name: string, what: "meetings" | "participants"): string;
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

/** `prefix` lets several deployments share one Redis (default `cordon`). */
export function redisKeys(prefix = "cordon"): RedisKeys {
  const tag = `${prefix}:{${prefix}}`;
  return {
    orders: `${tag}:orders`,
    orderIds: `${tag}:order-ids`,
    audit: `${tag}:audit`,
    orderAudit: (orderId) => `${tag}:order-audit:${orderId}`,
    head: `${tag}:head`,
    ruleset: `${tag}:ruleset`,
    rulesetVersion: `${tag}:ruleset-version`,
    rulesetEpoch: `${tag}:ruleset-epoch`,
    epoch: `${tag}:epoch`,
    ipHashKey: (period) => `${tag}:ip-hash-key:${period}`,
    ipHashKeyDestroyed: (period) => `${tag}:ip-hash-key-destroyed:${period}`,
    rulesetChannel: `${prefix}:ruleset`,
    decisions: `${prefix}:{${prefix}-decisions}:stream`,
    reportGroup: "report",
    ingested: (month) => `${prefix}:{${prefix}-ingest}:${month}`,
    geo: (dbVersion, ipHash) => `${prefix}:geo:${dbVersion}:${ipHash}`,
    report: reportKeys(`${prefix}:{${prefix}-report}`),
    frozen: { report: (period) => `${tag}:frozen:${period}`, periods: `${tag}:frozen-periods` },
    sessions: {
      session: (idHash) => `${tag}:session:${idHash}`,
      sessionPrefix: `${tag}:session:`,
      // The principal goes last: a name containing ':' cannot make two principals share a key.
      byPrincipal: (principalKey) => `${tag}:sessions-of:${principalKey}`,
      seq: `${tag}:session-seq`,
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
