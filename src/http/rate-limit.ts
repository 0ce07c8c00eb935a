/**
 * Failed authentication (issue 10): every failure is logged (warn: client, route, reason, never the
 * secret), and repeated failures are answered 429 with `Retry-After`, counted per client (its address)
 * and, where a principal is known, per principal. In process memory and bounded, so per instance: N
 * Node processes or edge isolates each allow the budget (README, "Rate limits").
 */
import type { Context } from "hono";
import { clientKey } from "../geo/ip.js";
import { type CordonError, RateLimitedError } from "../kernel/errors.js";
import { type Budget, CLIENT_BUDGET, FailureLimiter, PRINCIPAL_BUDGET } from "../kernel/failure-limiter.js";
import type { Logger } from "../kernel/logger.js";
import type { Principal } from "../kernel/roles.js";
import type { Clock } from "../kernel/runtime.js";

// The buckets themselves are runtime-free (kernel), shared with the edge's replay route.
export { clientKey } from "../geo/ip.js";
export {
  type Budget,
  CLIENT_BUDGET,
  FailureLimiter,
  MAX_KEYS,
  PRINCIPAL_BUDGET,
} from "../kernel/failure-limiter.js";

/**
 * The client a request comes from, as the runtime knows it (Node: the TCP peer; the Worker:
 * CF-Connecting-IP), or undefined when it cannot tell (an in-process `app.request`).
 */
export type ClientAddress = (c: Context) => string | undefined;

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
