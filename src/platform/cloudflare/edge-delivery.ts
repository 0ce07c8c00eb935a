/**
 * Delivery of the edge's decision records beyond the main queue, added around the Worker's handlers
 * (`createWorker`): the dead-letter queue's consumer (retry with backoff, then park in KV), the cron
 * trigger that replays parked records to ingest, and `POST /v1/edge/replay`, the same replay on demand
 * for an operator (an `admin` token; `cordon edge-replay` calls it). Every other request and the main
 * queue go to the wrapped handlers unchanged.
 */
import type {
  AnalyticsEngineDataset,
  ExecutionContext,
  IncomingRequestCfProperties,
  KVNamespace,
  MessageBatch,
  ScheduledController,
  Request as WorkersRequest,
  Response as WorkersResponse,
} from "@cloudflare/workers-types";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { clientKey } from "../../geo/ip.js";
import { CLIENT_BUDGET, FailureLimiter, PRINCIPAL_BUDGET } from "../../kernel/failure-limiter.js";
import type { Principal, Role } from "../../kernel/roles.js";
import { drainDeadLetters, isDeadLetterQueue } from "./dead-letter-consumer.js";
import type { DeliveryOptions } from "./decision-consumer.js";
import { workerLogger } from "./logger.js";
import { logParking, type ParkingArea, type ReplayResult, replayParked } from "./parked-decisions.js";

export const REPLAY_PATH = "/v1/edge/replay";
/** Replay runs per cron trigger, at most (each takes up to REPLAY_ENTRIES_PER_RUN entries). */
const CRON_RUNS = 10;

/** The bindings this part reads, besides the consumer's vars (CORDON_INGEST_URL, CORDON_EDGE_TOKEN). */
export interface DeliveryEnv {
  /** The parking area (wrangler.toml); without it the dead-letter consumer only retries. */
  PARKED_DECISIONS?: KVNamespace;
  /** Analytics Engine (wrangler.toml): the dead-letter backlog, one data point per batch. */
  EDGE_METRICS?: AnalyticsEngineDataset;
}

/** A configured token, as CORDON_TOKENS lists it. */
export interface BearerToken {
  principal: string;
  role: Role;
  secret: string;
}

/**
 * What the entry parses from the environment for this part (the config layer is not this one's to
 * import). Both throw a ConfigError naming the variable when a setting is wrong.
 */
export interface DeliveryWiring {
  /** The consumer's delivery to ingest (CORDON_INGEST_URL, CORDON_EDGE_TOKEN, CORDON_LOG_LEVEL). */
  delivery(env: Record<string, unknown>): DeliveryOptions;
  /** The Worker's tokens (CORDON_TOKENS), for the replay route. */
  tokens(env: Record<string, unknown>): readonly BearerToken[];
}

interface BaseHandlers<Env> {
  fetch(request: IncomingRequest, env: Env, ctx: ExecutionContext): Promise<WorkersResponse>;
  queue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void>;
}
type IncomingRequest = WorkersRequest<unknown, IncomingRequestCfProperties>;

export function withEdgeDelivery<BaseEnv>(base: BaseHandlers<BaseEnv>, wiring: DeliveryWiring) {
  type Env = BaseEnv & DeliveryEnv;
  // Per isolate, as the app's own limits are (README, "Rate limits").
  const failures = replayFailures();
  return {
    async fetch(request: IncomingRequest, env: Env, ctx: ExecutionContext): Promise<WorkersResponse> {
      if (request.method === "POST" && new URL(request.url).pathname === REPLAY_PATH) {
        return replayRoute(request, env, wiring, failures);
      }
      return base.fetch(request, env, ctx);
    },

    async queue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
      if (!isDeadLetterQueue(batch.queue)) return base.queue(batch, env, ctx);
      // A configuration error throws, and the runtime retries the whole batch: records wait, not vanish.
      const delivery = wiring.delivery({ ...(env as object) });
      await drainDeadLetters(batch, {
        delivery,
        parking: parkingOf(env) ?? noParking(delivery),
        now: () => Date.now(),
        metrics: env.EDGE_METRICS,
      });
    },

    async scheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
      const area = parkingOf(env);
      if (area === undefined) return;
      const delivery = wiring.delivery({ ...(env as object) });
      // Several runs while they make progress: a long outage can leave many entries parked.
      let total: ReplayResult | undefined;
      for (let run = 0; run < CRON_RUNS; run++) {
        const result = await replayParked(area, delivery);
        total = total === undefined ? result : sum(total, result);
        if (result.replayed === 0 || (result.remaining === 0 && !result.more)) break;
      }
      if (total !== undefined) logParking(total, delivery.logger, "cron");
    },
  };
}

function sum(a: ReplayResult, b: ReplayResult): ReplayResult {
  return {
    replayed: a.replayed + b.replayed,
    records: a.records + b.records,
    refused: a.refused + b.refused,
    setAside: a.setAside + b.setAside,
    failed: a.failed + b.failed,
    remaining: b.remaining,
    more: b.more,
  };
}

const parkingOf = (env: DeliveryEnv): ParkingArea | undefined => env.PARKED_DECISIONS;

/** Without a parking area a write fails, so the dead-letter consumer keeps retrying (and says why). */
function noParking(delivery: DeliveryOptions): ParkingArea {
  const refuse = async (): Promise<never> => {
    throw new Error("no PARKED_DECISIONS binding (wrangler.toml)");
  };
  delivery.logger.error("the dead-letter consumer has no parking area; records wait in the Queue");
  return { get: refuse, put: refuse, delete: refuse, list: refuse } as unknown as ParkingArea;
}

/**
 * Failed attempts at the replay route, with the app's budgets (http/rate-limit.ts): unknown tokens
 * counted per client (CF-Connecting-IP, IPv6 by its /64), valid tokens without the admin role per
 * principal. As on the app's API, a valid admin token still gets in from a client over its budget
 * (admin secrets are too long to guess; refusing by address would let anyone behind the operator's NAT
 * lock the replay out): what the budget answers is a failing client's noise, with 429 and one log line
 * per block instead of one per try.
 */
interface ReplayFailures {
  clients: FailureLimiter;
  principals: FailureLimiter;
}

function replayFailures(): ReplayFailures {
  const clock = () => Date.now();
  return {
    clients: new FailureLimiter(clock, CLIENT_BUDGET),
    principals: new FailureLimiter(clock, PRINCIPAL_BUDGET),
  };
}

/** `POST /v1/edge/replay`: one replay run; answers its counts (never records) to an `admin` token. */
async function replayRoute(
  request: IncomingRequest,
  env: DeliveryEnv,
  wiring: DeliveryWiring,
  failures: ReplayFailures,
): Promise<WorkersResponse> {
  const requestId = crypto.randomUUID();
  const fail = (status: number, code: string, message: string, retryAfter?: number) =>
    Response.json(
      { error: { code, message, requestId } },
      {
        status,
        headers: {
          "cache-control": "no-store",
          ...(retryAfter === undefined ? {} : { "retry-after": String(retryAfter) }),
        },
      },
    ) as unknown as WorkersResponse;
  const address = request.headers.get("cf-connecting-ip") ?? undefined;
  const client = address === undefined ? undefined : clientKey(address);
  const tooMany = (wait: number) =>
    fail(429, "RATE_LIMITED", `too many failed attempts; try again in ${wait} s`, wait);
  /** Logs a failed attempt and counts it; the answer is `refusal`, or 429 once over the budget. */
  const failed = (refusal: WorkersResponse, reason: string, principal?: Principal) => {
    // No address (never on Cloudflare's edge): logged, not counted, as the app does.
    const counted = principal
      ? failures.principals.fail(principal.name.toLowerCase())
      : client !== undefined
        ? failures.clients.fail(client)
        : { wait: 0, first: false };
    const fields = {
      requestId,
      client: address ?? "unknown",
      route: REPLAY_PATH,
      reason,
      ...(principal ? { principal: principal.name, role: principal.role } : {}),
    };
    const logger = workerLogger("warn");
    if (counted.wait === 0) {
      logger.warn("authentication failed", fields);
      return refusal;
    }
    if (counted.first)
      logger.warn("authentication failures rate limited", { ...fields, retryAfterSeconds: counted.wait });
    return tooMany(counted.wait);
  };

  let delivery: DeliveryOptions;
  let tokens: readonly BearerToken[];
  try {
    delivery = wiring.delivery({ ...env });
    tokens = wiring.tokens({ ...env });
  } catch (err) {
    workerLogger("error").error("replay route misconfigured", {
      error: err instanceof Error ? err.message : String(err),
    });
    return fail(500, "INTERNAL", "the Worker is misconfigured; see its logs");
  }
  const secret = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get("authorization") ?? "")?.[1];
  const principal = secret === undefined ? null : holderOf(tokens, secret);
  if (principal === null) {
    const reason = secret === undefined ? "no bearer token" : "unknown bearer token";
    return failed(fail(401, "UNAUTHORIZED", "a valid bearer token is required"), reason);
  }
  // Admin only: the edge token is the Worker's own and must not be able to move records around.
  if (principal.role !== "admin") {
    const message = "replaying parked records needs the admin role";
    return failed(fail(403, "FORBIDDEN", message), message, principal);
  }

  const area = parkingOf(env);
  if (area === undefined) return fail(503, "UNAVAILABLE", "no parking area is bound (PARKED_DECISIONS)");
  const result: ReplayResult = await replayParked(area, delivery);
  delivery.logger.info("parked decision records replayed on request", { principal: principal.name });
  logParking(result, delivery.logger, "route");
  return Response.json(result, { headers: { "cache-control": "no-store" } }) as unknown as WorkersResponse;
}

/**
 * Who holds `secret`, as the app's Authenticator (service/auth.ts, a layer this one may not import)
 * decides it: SHA-256 digests compared in constant time against every token, no early exit, so neither
 * the secret nor which principal matched leaks through timing. This route is rare (an operator's
 * call), so the digests are computed per call rather than kept.
 */
function holderOf(tokens: readonly BearerToken[], secret: string): Principal | null {
  const digest = sha256(utf8ToBytes(secret));
  let found: Principal | null = null;
  for (const token of tokens) {
    const known = sha256(utf8ToBytes(token.secret));
    let diff = 0;
    for (let i = 0; i < known.length; i++) diff |= (known[i] as number) ^ (digest[i] as number);
    if (diff === 0) found = { name: token.principal, role: token.role };
  }
  return found;
}
