/**
 * The Worker's wiring: parse its vars and secrets, build the edge adapters (decision Queue, KV ruleset,
 * the mmdb, `request.cf`), hand them to `createEdgeApp` (the same routes and engine Node uses), and
 * serve; plus the Queue consumer that delivers decision records to Node. No logic of the check lives
 * here: routes, engine, geo and auth are the shared ones.
 *
 * Here rather than in `src/entry/worker.ts` because workerd takes every named export of the entry
 * module for a handler or entrypoint class: the entry exports only `createWorker(...)`'s result.
 *
 * Lifetime: everything built here is per isolate, created on the first request (the env is only known
 * then) and kept while the isolate lives: the mmdb reader, the ruleset in force, the token digests.
 */
import type {
  ExportedHandler,
  KVNamespace,
  MessageBatch,
  Queue,
  Response as WorkersResponse,
} from "@cloudflare/workers-types";
import { ConfigError, configError } from "../config/parse.js";
import { parseConsumerConfig, parseEdgeConfig } from "../config/worker.js";
import { CachedGeo } from "../geo/cached-geo.js";
import { MaxmindGeo } from "../geo/maxmind-geo.js";
import { createEdgeApp } from "../http/app.js";
import type { App } from "../http/services.js";
import { locateCaller } from "../platform/cloudflare/caller.js";
import { deliverDecisions } from "../platform/cloudflare/decision-consumer.js";
import { edgeIpHasher } from "../platform/cloudflare/ip-hash.js";
import { workerLogger } from "../platform/cloudflare/logger.js";
import { QueueDecisionLog } from "../platform/cloudflare/queue-decision-log.js";
import { EdgeRulesets, ShardUnavailableError } from "../rulesets/edge-loader.js";
import { RulesetHolder } from "../rulesets/holder.js";
import { shardNeedOf } from "../rulesets/shard-need.js";
import { parsePublicKeys } from "../rulesets/signed.js";
import { Authenticator, digestSecret } from "../service/auth.js";
import { edgeDecisionId } from "../store/ingest-index.js";

/** The Worker's bindings (wrangler.toml) and its vars and secrets (parsed in `parseEdgeConfig`). */
export interface WorkerEnv {
  /**
   * The signed ruleset, written by the Node side's publisher: a manifest and its shards
   * (`rulesets/sharded.ts`), or the single value of earlier releases (`RULESET_KV_KEY`).
   */
  RULESETS: KVNamespace;
  /** Decision records, many a message (platform/cloudflare/decision-messages.ts), for the consumer below. */
  DECISIONS: Queue<unknown>;
  CORDON_TOKENS?: string;
  CORDON_IP_HASH_KEY?: string;
  RULESET_PUBLIC_KEYS?: string;
  CORDON_RULESET_REFRESH_MS?: string;
  CORDON_LOG_LEVEL?: string;
  CORDON_TICKET_KEY?: string;
  CORDON_INGEST_URL?: string;
  CORDON_EDGE_TOKEN?: string;
}

export interface WorkerOptions {
  /** The database addresses are located in (the entry bundles GeoLite2 country; tests use others). */
  mmdb: { bytes: ArrayBuffer | Uint8Array; source: string };
}

interface Edge {
  app: App;
  rulesets: EdgeRulesets;
}

/** The same L1 as Node's in front of the mmdb; an isolate sees far fewer addresses than a Node process. */
const GEO_CACHE_SIZE = 10_000;

async function buildEdge(env: WorkerEnv, options: WorkerOptions): Promise<Edge> {
  const config = parseEdgeConfig({ ...env });
  const logger = workerLogger(config.CORDON_LOG_LEVEL);
  const publicKeys = await parsePublicKeys(config.RULESET_PUBLIC_KEYS).catch((err: unknown) => {
    throw configError([`RULESET_PUBLIC_KEYS: ${messageOf(err)}`], "Worker configuration");
  });
  const clock = () => Date.now();
  // Nothing compiles at the edge (it holds no orders): EdgeRulesets installs what KV holds.
  const holder = new RulesetHolder(clock);
  const rulesets = new EdgeRulesets({
    publicKeys,
    read: (key) => env.RULESETS.get(key, "text"),
    manager: holder,
    clock,
    refreshMs: config.CORDON_RULESET_REFRESH_MS,
    logger,
  });
  const mmdb = options.mmdb;
  const bytes = mmdb.bytes instanceof Uint8Array ? mmdb.bytes : new Uint8Array(mmdb.bytes);
  const geo = new CachedGeo(MaxmindGeo.fromBuffer(bytes, mmdb.source), { max: GEO_CACHE_SIZE });
  const app = createEdgeApp({
    decisions: new QueueDecisionLog(env.DECISIONS),
    geo,
    rulesets: holder,
    auth: new Authenticator(
      config.CORDON_TOKENS.map((t) => ({
        principal: t.principal,
        role: t.role,
        sha256: digestSecret(t.secret),
      })),
    ),
    clock,
    hashIp: edgeIpHasher(config.CORDON_IP_HASH_KEY),
    // The edge's own id namespace (UUIDv8), so Node's ingest can tell its records from Node's.
    newId: () => edgeDecisionId(crypto.randomUUID()),
    logger,
    readiness: () => [rulesets.readiness()],
    locateCaller,
    // Set by Cloudflare's edge on every request (a client cannot choose it). Failure budgets are per
    // isolate, so at the edge they only curb a client that keeps hitting one isolate.
    clientAddress: (c) => c.req.header("cf-connecting-ip"),
    ticketKey: config.CORDON_TICKET_KEY ?? null,
  });
  return { app, rulesets };
}

/**
 * The Worker's handlers, with their own per-isolate state. The entry's default export is one of these;
 * tests build fresh ones (a fresh isolate's worth of state, another mmdb) around the same code.
 */
export function createWorker(options: WorkerOptions) {
  let edge: Promise<Edge> | undefined;
  const edgeOf = (env: WorkerEnv): Promise<Edge> => {
    edge ??= buildEdge(env, options).catch((err: unknown) => {
      // Not kept: a fixed secret or binding takes effect on the next request, not the next isolate.
      edge = undefined;
      throw err;
    });
    return edge;
  };

  return {
    async fetch(request, env, ctx) {
      let built: Edge;
      try {
        built = await edgeOf(env);
      } catch (err) {
        return misconfigured(err);
      }
      // Until this isolate has a ruleset, the request waits for the KV read (checks need one); after
      // that a due refresh runs under waitUntil and the request is answered from the one in force.
      // Liveness never waits on KV.
      if (new URL(request.url).pathname !== "/healthz") {
        await built.rulesets.beforeRequest((promise) => ctx.waitUntil(promise));
      }
      // Workers' and the DOM's Request/Response are the same objects at run time, declared twice.
      const req = request as unknown as Request;
      const answer = async () =>
        (await built.app.fetch(
          req,
          env,
          ctx as unknown as Parameters<App["fetch"]>[2],
        )) as unknown as WorkersResponse;
      // A sharded ruleset: the shards of the request's meetings and accounts are read before the app
      // decides (once held, no body is read twice).
      if (!built.rulesets.needsShards()) return answer();
      try {
        return await built.rulesets.withShards(await shardNeedOf(req), answer);
      } catch (err) {
        if (err instanceof ShardUnavailableError) return shardUnavailable();
        throw err;
      }
    },

    async queue(batch: MessageBatch<unknown>, env: WorkerEnv) {
      // A configuration error throws, and the runtime retries the whole batch: records wait, not vanish.
      const config = parseConsumerConfig({ ...env });
      await deliverDecisions(batch, {
        url: config.CORDON_INGEST_URL,
        token: config.CORDON_EDGE_TOKEN.secret,
        logger: workerLogger(config.CORDON_LOG_LEVEL),
      });
    },
  } satisfies ExportedHandler<WorkerEnv, unknown>;
}

/** No app to answer with: a short error in the app's envelope, and the reason (names, never values) in the log. */
function misconfigured(err: unknown): WorkersResponse {
  const message = messageOf(err);
  // No configured level to go by: the start failed before the configuration was read.
  workerLogger("error").error("worker failed to start", { error: message });
  const body = {
    error: {
      code: "INTERNAL",
      message:
        err instanceof ConfigError
          ? "the Worker is misconfigured; see its logs"
          : "the Worker failed to start",
      requestId: crypto.randomUUID(),
    },
  };
  return Response.json(body, { status: 500 }) as unknown as WorkersResponse;
}

/** A check whose ruleset shard could not be read or verified: not answered, as before any ruleset. */
function shardUnavailable(): WorkersResponse {
  const body = {
    error: {
      code: "UNAVAILABLE",
      message: "the ruleset this check needs could not be loaded; try again",
      requestId: crypto.randomUUID(),
    },
  };
  return Response.json(body, {
    status: 503,
    headers: { "cache-control": "no-store", "retry-after": "1" },
  }) as unknown as WorkersResponse;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
