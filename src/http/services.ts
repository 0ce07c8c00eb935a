/**
 * What the app is built from, split by capability. `CheckServices` is what a check needs, the same on
 * both runtimes; the Node server adds the order store, the decision log's reader, the compiler, reports
 * and ingest (`ServerServices`); the edge adds only how to locate a caller (`EdgeServices`). Each
 * runtime builds exactly its own, and implements nothing it does not have.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Caller, Geo } from "../geo/interface.js";
import type { Language } from "../i18n/language.js";
import type { Logger } from "../kernel/logger.js";
import type { Principal } from "../kernel/roles.js";
import type { Clock, NewId, Readiness } from "../kernel/runtime.js";
import type { RulesetCompiler } from "../rulesets/compiler.js";
import type { RulesetHolder } from "../rulesets/holder.js";
import type { Authenticator } from "../service/auth.js";
import type { ReportService } from "../service/reports.js";
import type { EnforcementEventStore } from "../store/enforcement-events.js";
import type { IngestIndex } from "../store/ingest-index.js";
import type { DecisionLog, DecisionSink, OrderStore } from "../store/interface.js";
import type { SessionStore } from "../store/sessions.js";
import type { DocsAssetReader } from "./docs.js";

/** The meeting-join check: on Node and in the Worker. */
export interface CheckServices {
  /** The ruleset in force (long-lived; filled by the compiler, the Redis sync or the KV loader). */
  rulesets: Pick<RulesetHolder, "current" | "isLoaded">;
  geo: Geo;
  /** Where decision records go before the answer is sent (I5). */
  decisions: DecisionSink;
  auth: Authenticator;
  /** Epoch milliseconds. Tests fix it; the engine gets it as an argument (I8). */
  clock: Clock;
  /**
   * I6: the keyed hash a decision record made at `at` (epoch ms) keeps of a normalised address, hex.
   * Node seals it under the period's key at once; the edge keeps the hash under CORDON_IP_HASH_KEY and
   * Node's ingest seals it (`sealEdgeHash`).
   */
  hashIp: (ip: string, at: number) => string;
  /** Unique ids for decisions and orders. */
  newId: NewId;
  logger: Logger;
  /** The runtime's readiness probes beyond the ruleset and geo (store reachable, KV fresh, ...). */
  readiness: () => Readiness[];
  /**
   * The address a request comes from, for counting failed authentication by client (`rate-limit.ts`):
   * Node's TCP peer, the Worker's CF-Connecting-IP; undefined when the runtime cannot tell. Called only
   * on a failure.
   */
  clientAddress: (c: Context) => string | undefined;
}

/** The Node server: everything the response team, the auditors and the edge's ingest need. */
export interface ServerServices extends CheckServices {
  orders: OrderStore;
  decisions: DecisionLog;
  /** Recompiles after each order change, so the change is enforced (or lifted) at once. */
  compiler: Pick<RulesetCompiler, "refresh">;
  reports: ReportService;
  /** Decision records delivered from the edge: which are in the log already. */
  ingest: IngestIndex;
  /** Blocks taking effect and lifting, for `GET /v1/enforcement/events` (published by the reconciler). */
  enforcementEvents: EnforcementEventStore;
  /** I6: an edge record's `ipHash` (under CORDON_IP_HASH_KEY) sealed as Node's own records are, for `at`. */
  sealEdgeHash: (hash: string, at: string) => string;
  /**
   * The console's sessions, shared by every instance (Redis mode); absent: the console keeps them in
   * process memory (embedded mode).
   */
  sessions?: SessionStore<Language>;
  /** Reads the API reference's files (`GET /docs`, `docs.ts`); absent: `/docs` is a 404. */
  docsAssets?: DocsAssetReader;
}

/** The Worker: checks, also from a participant's browser, located by the runtime (`request.cf`). */
export interface EdgeServices extends CheckServices {
  /** Where a browser-direct check's caller is (`/v1/check/self` only). */
  locateCaller: (request: Request) => Caller;
  /** CORDON_TICKET_KEY, the meeting service's join-ticket key; null: `/v1/check/self` is not served. */
  ticketKey: string | null;
}

export interface AppEnv {
  Variables: {
    principal: Principal;
    requestId: string;
  };
}

export type App = OpenAPIHono<AppEnv>;
