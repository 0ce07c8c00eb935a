/**
 * ioredis clients as Cordon wants them: fail fast instead of queueing while disconnected (a check must
 * never wait on Redis), bounded command time (a slow Redis is a degraded Redis), and reconnection with a
 * capped backoff forever. Each component makes its own client: the subscriber needs a connection of its
 * own, and a stalled pipeline of one component must not hold up another.
 */
import { Redis, type RedisOptions } from "ioredis";

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
