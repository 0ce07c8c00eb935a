/**
 * ioredis clients as Cordon wants them: fail fast instead of queueing while disconnected (a check must
 * never wait on Redis), bounded command time (a slow Redis is a degraded Redis), and reconnection with a
 * capped backoff forever. Each component makes its own client: the subscriber needs a connection of its
 * own, and a stalled pipeline of one component must not hold up another.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../kernel/logger.js";

export interface RedisClientOptions {
  /** Shown in CLIENT LIST and in logs. */
  name: string;
  /** Per-command timeout, ms. Default 1000. */
  commandTimeoutMs?: number;
  /** Extra ioredis options (tests shorten timeouts). */
  overrides?: Partial<RedisOptions>;
}

export function createRedis(url: string, opts: RedisClientOptions): Redis {
  return new Redis(url, {
    connectionName: `cordon-${opts.name}`,
    lazyConnect: false,
    // Commands issued while disconnected fail at once: callers fall back (spool, last ruleset, 503).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs ?? 1000,
    connectTimeout: 2000,
    // Reconnect forever, 50 ms doubling to at most 1 s.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    ...opts.overrides,
  });
}

/** True when the error means "Redis is not there or too slow", as opposed to a bug or a script error. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const text = `${error.name} ${error.message}`;
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|Stream isn't writeable|enableOfflineQueue|timed out|Command timed out|MaxRetriesPerRequest|LOADING|BUSY|CLUSTERDOWN|TRYAGAIN/i.test(
    text,
  );
}

/**
 * DESIGN: Redis must persist (AOF). Asks Redis whether AOF is on, and says so loudly when it is not: a
 * restart of such a Redis loses the orders, their audit chain and the console sessions. True when it
 * persists, false when not, undefined when Redis would not say (INFO refused or unreachable).
 */
export async function checkPersistence(client: Redis, logger: Logger): Promise<boolean | undefined> {
  let info: string;
  try {
    info = await client.info("persistence");
  } catch (err) {
    logger.warn("could not ask Redis whether it persists (INFO persistence)", {
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
  if (/^aof_enabled:1\b/m.test(info)) return true;
  logger.error("Redis does not persist: AOF is off", {
    effect: "a restart of Redis loses the orders, their audit chain and the console sessions",
    fix: "appendonly yes with appendfsync everysec, and a replica (README: Running on Redis)",
  });
  return false;
}

/** Checks persistence each time the client (re)connects: a Redis restarted with another setting is seen. */
export function watchPersistence(client: Redis, logger: Logger): void {
  client.on("ready", () => void checkPersistence(client, logger));
}
