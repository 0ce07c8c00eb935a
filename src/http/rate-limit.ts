/**
 * Failed authentication (issue 10): every failure is logged (warn: client, route, reason, never the
 * secret), and repeated failures are answered 429 with `Retry-After`, counted per client (its address)
 * and, where a principal is known, per principal. In process memory and bounded, so per instance: N
 * Node processes or edge isolates each allow the budget (README, "Rate limits").
 */
import type { Context } from "hono";
import ipaddr from "ipaddr.js";
import { type CordonError, RateLimitedError } from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import type { Principal } from "../kernel/roles.js";
import type { Clock } from "../kernel/runtime.js";

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

/**
 * The client a request comes from, as the runtime knows it (Node: the TCP peer; the Worker:
 * CF-Connecting-IP), or undefined when it cannot tell (an in-process `app.request`).
 */
export type ClientAddress = (c: Context) => string | undefined;

/**
 * The bucket key of an address: IPv4 as is (IPv4-mapped IPv6 included), IPv6 by its /64, the block
 * one host or subscriber normally holds whole, so rotating through it does not buy fresh budgets.
 */
export function clientKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}

type WithRequestId = Context<{ Variables: { requestId: string } }>;

/**
 * What the API and the console do with a failed attempt. Only failures come here: a request whose token
 * is valid never touches this (the check path is hot), which is also why a client over its budget still
 * gets in with a valid token. Bearer secrets are at least 16 characters (generated ones 192 random bits),
 * so guessing them through the API is not practical; what the limit answers there is a failing client's
 * noise, and refusing valid tokens by address would let one misconfigured client, or anyone behind the
 * same proxy or NAT, lock the meeting-join flow out. Where a person types the secret (the console's
 * sign-in), `refuseEarly` refuses a client over its budget before its token is looked at.
 */
export class AuthFailures {
  // Long-lived: one per app.
  readonly #clients: FailureLimiter;
  readonly #principals: FailureLimiter;

  constructor(
    private readonly s: { logger: Logger; clock: Clock; clientAddress: ClientAddress },
    budgets: { client: Budget; principal: Budget } = { client: CLIENT_BUDGET, principal: PRINCIPAL_BUDGET },
  ) {
    this.#clients = new FailureLimiter(s.clock, budgets.client);
    this.#principals = new FailureLimiter(s.clock, budgets.principal);
  }

  /** A 429 for a client over its budget, before its attempt is looked at; undefined to go on. */
  refuseEarly(c: Context): RateLimitedError | undefined {
    const address = this.s.clientAddress(c);
    const wait = address === undefined ? 0 : this.#clients.wait(clientKey(address));
    return wait > 0 ? new RateLimitedError(wait) : undefined;
  }

  /**
   * A failed attempt (`err`: 401 or 403): logged, and counted against the principal when one is known
   * (a valid token with the wrong role), else against the client. Answers what to send: `err` itself,
   * or a RateLimitedError once over budget. A request whose client the runtime cannot name is logged
   * but not counted: one shared "unknown" bucket would let any one caller lock out every other.
   */
  failed(c: WithRequestId | Context, err: CordonError, principal?: Principal): CordonError {
    const address = this.s.clientAddress(c);
    const counted = principal
      ? this.#principals.fail(principal.name.toLowerCase())
      : address !== undefined
        ? this.#clients.fail(clientKey(address))
        : { wait: 0, first: false };
    const fields = {
      requestId: (c as WithRequestId).get("requestId"),
      client: address ?? "unknown",
      method: c.req.method,
      route: c.req.path,
      reason: err.message,
      ...(principal ? { principal: principal.name, role: principal.role } : {}),
    };
    if (counted.wait === 0) {
      this.s.logger.warn("authentication failed", fields);
      return err;
    }
    // Once per block: a flood of refused tries must not become a flood of log lines.
    if (counted.first)
      this.s.logger.warn("authentication failures rate limited", {
        ...fields,
        retryAfterSeconds: counted.wait,
      });
    return new RateLimitedError(counted.wait);
  }
}
