/**
 * ioredis clients as Cordon wants them: fail fast instead of queueing while disconnected (a check must
 * never wait on Redis), bounded command time (a slow Redis is a degraded Redis), and reconnection with a
 * capped backoff forever. Each component makes its own client: the subscriber needs a connection of its
 * own, and a stalled pipeline of one component must not hold up another.
 *
 * `REDIS_URL` names one Redis (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS) or a Redis
 * Cluster (`redis-cluster://[user:password@]host:port[,host:port...]`, `rediss-cluster://` for TLS): a
 * few of the cluster's nodes, from which the client learns the rest and follows failovers and slot moves.
 * Everything else is the same on both: the keys that a script or transaction touches together share a
 * hash tag (store/redis/keys.ts), so no command ever spans two slots.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../kernel/logger.js";
import { parseClusterUrl } from "../../kernel/redis-url.js";

export { type ClusterUrl, parseClusterUrl } from "../../kernel/redis-url.js";

/** One Redis or a Redis Cluster: the command surface Cordon uses is the same on both. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** Shown in CLIENT LIST and in logs. */
  name: string;
  /** Per-command timeout, ms. Default 1000. */
  commandTimeoutMs?: number;
  /** Extra ioredis options (tests shorten timeouts). */
  overrides?: Partial<RedisOptions>;
}

/** Reconnect forever, 50 ms doubling to at most 1 s. */
const backoff = (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000);

export function createRedis(url: string, opts: RedisClientOptions): RedisClient {
  const cluster = parseClusterUrl(url);
  const base: RedisOptions = {
    connectionName: `cordon-${opts.name}`,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs ?? 1000,
    connectTimeout: 2000,
  };
  if (cluster === undefined) {
    return new Redis(url, {
      ...base,
      lazyConnect: false,
      // Commands issued while disconnected fail at once: callers fall back (spool, last ruleset, 503).
      enableOfflineQueue: false,
      retryStrategy: backoff,
      ...opts.overrides,
    });
  }
  // These three are the cluster's, not its nodes' (ioredis gives every node connection an offline queue
  // and no reconnection of its own, following MOVED and slot refreshes instead): an override of them is
  // meant for the cluster as a whole.
  const {
    enableOfflineQueue = false,
    retryStrategy = backoff,
    lazyConnect = false,
    ...node
  } = {
    ...base,
    ...cluster.auth,
    ...(cluster.tls ? { tls: {} } : {}),
    ...opts.overrides,
  };
  const client = new Cluster(cluster.nodes, {
    lazyConnect,
    enableOfflineQueue,
    // A failover: MOVED/ASK and CLUSTERDOWN are followed for a short while, then the command fails like
    // any other unavailability (the outbox keeps the records, order routes answer 503).
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    clusterRetryStrategy: (times) => retryStrategy?.(times) ?? undefined,
    slotsRefreshTimeout: 2000,
    redisOptions: node,
  });
  // ioredis connects to a master only for the first command meant for it, and without an offline queue
  // every further command sent while that connection is being made fails at once ("Connection is
  // closed"): a burst of checks after a start or a failover would lose its geo L2 reads, sessions and
  // order reads. So every node is connected as soon as the client learns of it.
  client.on("+node", (redis: Redis) => {
    if (redis.status === "wait") redis.connect().catch(() => undefined);
  });
  return client;
}

/**
 * The connection that holds `key`: the client itself for one Redis; on a cluster, the master that serves
 * the key's slot (as the client last learned it). For commands that name no key but concern one, such as
 * WAIT (replicas of the shard that took a write) and INFO replication.
 */
export async function nodeFor(client: RedisClient, key: string): Promise<Redis> {
  if (!(client instanceof Cluster)) return client;
  const slot = Number(await client.cluster("KEYSLOT", key));
  const owner = client.slots[slot]?.[0];
  const node = client.nodes("master").find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (node === undefined) throw new NoKnownMasterError(key);
  return node;
}

/**
 * The client knows no master for a key's slot: its slot map still names the node that just failed
 * (a failover under way). Unavailable, like the client's own errors while it learns the new topology.
 */
export class NoKnownMasterError extends Error {
  constructor(key: string) {
    super(`Redis Cluster: no known master serves the slot of ${key}`);
    this.name = "NoKnownMasterError";
  }
}

/** The options every node connection of `client` was made with (for one Redis, its own). */
export function nodeOptions(client: RedisClient): Partial<RedisOptions> {
  return client instanceof Cluster ? (client.options.redisOptions ?? {}) : client.options;
}

/** A REDIS_URL with its password replaced, for logs (secrets never in logs). */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z-]+:\/\/[^:@/]*:)[^@/]*@/i, "$1***@");
}

/** True when the error means "Redis is not there or too slow", as opposed to a bug or a script error. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof NoKnownMasterError) return true;
  const text = `${error.name} ${error.message}`;
  // A transaction a cluster aborted because its slot was moving (a failover, a resharding): its queued
  // commands were answered MOVED, ASK, CLUSTERDOWN or TRYAGAIN, and trying again later succeeds.
  if (/EXECABORT/.test(text)) {
    const previous = (error as { previousErrors?: unknown }).previousErrors;
    return (
      Array.isArray(previous) &&
      previous.length > 0 &&
      previous.every((e) => isUnavailable(e) || (e instanceof Error && /^(MOVED|ASK) /.test(e.message)))
    );
  }
  // The last three: a Redis Cluster client while a shard fails over and it learns the new topology.
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|Stream isn't writeable|enableOfflineQueue|timed out|Command timed out|MaxRetriesPerRequest|LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available/i.test(
    text,
  );
}

/**
 * DESIGN: Redis must persist (AOF). Asks Redis whether AOF is on, and says so loudly when it is not: a
 * restart of such a Redis loses the orders, their audit chain and the console sessions. True when it
 * persists, false when not, undefined when Redis would not say (INFO refused or unreachable).
 */
export async function checkPersistence(client: RedisClient, logger: Logger): Promise<boolean | undefined> {
  let info: string;
  try {
    // On a cluster every master is asked: one that does not persist loses its share of the keys.
    const nodes = client instanceof Cluster ? client.nodes("master") : [client];
    info = (await Promise.all(nodes.map((node) => node.info("persistence")))).join("\n");
  } catch (err) {
    logger.warn("could not ask Redis whether it persists (INFO persistence)", {
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
  const aof = [...info.matchAll(/^aof_enabled:(\d)\b/gm)].map((m) => m[1]);
  if (aof.length > 0 && aof.every((on) => on === "1")) return true;
  logger.error("Redis does not persist: AOF is off", {
    effect: "a restart of Redis loses the orders, their audit chain and the console sessions",
    fix: "appendonly yes with appendfsync everysec, and a replica (README: Running on Redis)",
  });
  return false;
}

/** Checks persistence each time the client (re)connects: a Redis restarted with another setting is seen. */
export function watchPersistence(client: RedisClient, logger: Logger): void {
  client.on("ready", () => void checkPersistence(client, logger));
}
