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
  /** Pub/sub channel: a new ruleset version was stored (payload: the version). */
  rulesetChannel: string;
  /** STREAM of decision records; field `r` holds the record JSON, `id` its decisionId. */
  decisions: string;
  /** Consumer group of the reporting pipeline on `decisions`. */
  reportGroup: string;
  /** STRING (with TTL): a geo answer, keyed by database version and the address's keyed hash. */
  geo(dbVersion: string, ipHash: string): string;
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
    rulesetChannel: `${prefix}:ruleset`,
    decisions: `${prefix}:{${prefix}-decisions}:stream`,
    reportGroup: "report",
    geo: (dbVersion, ipHash) => `${prefix}:geo:${dbVersion}:${ipHash}`,
  };
}
