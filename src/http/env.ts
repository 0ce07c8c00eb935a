/**
 * The app's types: what routes receive (`Services`, handed in by each runtime's entry) and what the
 * middleware puts on the context. Nothing here imports a runtime.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Geo } from "../geo/interface.js";
import type { RulesetManager } from "../rulesets/holder.js";
import type { Authenticator, Principal } from "../service/auth.js";
import type { Caller } from "../service/check.js";
import type { ReportService } from "../service/reports.js";
import type { IngestIndex } from "../store/ingest-index.js";
import type { Store } from "../store/interface.js";

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * One component's state for /readyz. `ready: false` takes the instance out of rotation (503);
 * `degraded: true` keeps it serving (checks answer from the last ruleset and local geo) but says
 * something needs attention, such as Redis being unreachable.
 */
export interface Readiness {
  name: string;
  ready: boolean;
  degraded?: boolean;
  detail?: Record<string, unknown>;
}

export interface Services {
  store: Store;
  geo: Geo;
  rulesets: RulesetManager;
  auth: Authenticator;
  /** Epoch milliseconds. Tests fix it; the engine gets it as an argument (I8). */
  clock: () => number;
  /** I6: keyed hash of a normalised address (HMAC-SHA-256 under CORDON_IP_HASH_KEY), hex. */
  hashIp: (ip: string) => string;
  /** Unique ids for decisions and orders. */
  newId: () => string;
  logger: Logger;
  /** Decision records delivered from the edge: which are in the log already. */
  ingest?: IngestIndex;
  /** The transparency report (absent where the runtime keeps no aggregates, e.g. the edge). */
  reports?: ReportService;
  /** Extra readiness probes of the runtime (store reachable, ...). */
  readiness?: () => Readiness[];
  /**
   * The edge only: the connecting client as the runtime knows it (`request.cf`, `CF-Connecting-IP`), for
   * checks whose body names no `ip`. Absent on Node, whose surface requires `ip`.
   */
  locateCaller?: (request: Request) => Caller;
  version?: string;
}

/**
 * Which routes an app serves. `full`: everything (Node). `edge`: the meeting-join checks, the ruleset
 * summary, health and the OpenAPI document (the Worker); orders, reports, decisions and audit stay on
 * Node, where the store is.
 */
export type Surface = "full" | "edge";

export interface AppEnv {
  Variables: {
    principal: Principal;
    requestId: string;
  };
}

export type App = OpenAPIHono<AppEnv>;
