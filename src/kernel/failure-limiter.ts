/**
 * Token buckets of failed attempts, by key (a client's address, a principal): the API and console's
 * `AuthFailures` (http/rate-limit.ts) and the edge's replay route (platform/cloudflare/edge-delivery.ts)
 * both count with them. In memory and bounded: per process or isolate.
 */
import type { Clock } from "./runtime.js";

/** A token bucket of failures: `burst` at once, then one more every `refillMs`. */
export interface Budget {
  burst: number;
  refillMs: number;
}

/** Unknown tokens from one client: 10 at once, then 10 a minute (one every 6 s). */
export const CLIENT_BUDGET: Budget = { burst: 10, refillMs: 6_000 };
/**
 * Wrong-role calls by one valid principal: the caller holds a real secret and a 403 tells it nothing the
 * published access table does not, so the budget only curbs a misconfigured or probing integration; it
 * is looser so that one integration walking the API does not trip it (30, then one every 2 s).
 */
export const PRINCIPAL_BUDGET: Budget = { burst: 30, refillMs: 2_000 };
/** Keys tracked at most, per budget: about 100 bytes each, so a flood of addresses costs ~1 MB. */
export const MAX_KEYS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
  /** Whether this bucket's current refusal was logged: one line per block, not one per refused try. */
  logged: boolean;
}

/**
 * Token buckets by key. A key's bucket is refilled from its last update on read, and a key whose
 * bucket is full again is the same as an absent one, so it is dropped: the Map is kept in order of
 * last update (delete, then set), and each failure drops the full ones from its front, then the oldest
 * beyond `maxKeys`. Amortised O(1), and an attacker cycling addresses cannot grow it without bound.
 */
export class FailureLimiter {
  // Long-lived: one per app (process or isolate).
  readonly #buckets = new Map<string, Bucket>();
  readonly #fullAfterMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly budget: Budget,
    private readonly maxKeys = MAX_KEYS,
  ) {
    this.#fullAfterMs = budget.burst * budget.refillMs;
  }

  /** Seconds before a failure of `key` is counted again; 0 when it may fail now. Reads only. */
  wait(key: string): number {
    const bucket = this.#buckets.get(key);
    return bucket ? this.#waitFor(this.#tokens(bucket, this.clock())) : 0;
  }

  /**
   * Counts a failure of `key`. Within budget: `{wait: 0}`. Over it: the seconds to wait, and the
   * failure is not counted, so a client that waits as told is counted again on time; `first` is true
   * for the first refusal since the last counted failure (the one worth a log line).
   */
  fail(key: string): { wait: number; first: boolean } {
    const now = this.clock();
    const bucket = this.#buckets.get(key) ?? { tokens: this.budget.burst, at: now, logged: false };
    const tokens = this.#tokens(bucket, now);
    this.#buckets.delete(key);
    this.#sweep(now);
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, at: now, logged: false });
      return { wait: 0, first: false };
    }
    this.#buckets.set(key, { tokens, at: now, logged: true });
    return { wait: this.#waitFor(tokens), first: !bucket.logged };
  }

  get size(): number {
    return this.#buckets.size;
  }

  #tokens(bucket: Bucket, now: number): number {
    return Math.min(this.budget.burst, bucket.tokens + (now - bucket.at) / this.budget.refillMs);
  }

  #waitFor(tokens: number): number {
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - tokens) * this.budget.refillMs) / 1000));
  }

  /** Drops buckets full again from the front (oldest update first), and the oldest beyond `maxKeys`. */
  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at < this.#fullAfterMs && this.#buckets.size < this.maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}
