/**
 * The HTTP surface of Cordon, composed from route modules: `createServerApp` (Node: every route and the
 * console) and `createEdgeApp` (the Worker: checks, ruleset summary, health). Runtimes only wire them:
 * `runtime/node` and `runtime/worker.ts` build the adapters and hand them in. Nothing here imports
 * `node:*`, a Redis client or `cloudflare:*`.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { OidcSignIn } from "../console/oidc.js";
import { registerConsole } from "../console/routes.js";
import {
  CordonError,
  HistoryLostError,
  InvalidCursorError,
  RateLimitedError,
  StoreUnavailableError,
} from "../kernel/errors.js";
import type { Logger } from "../kernel/logger.js";
import { VERSION } from "../kernel/version.js";
import { registerDocs, registerDocsPointer } from "./docs.js";
import {
  type ErrorCode,
  type ErrorEnvelope,
  type ErrorStatus,
  statusOf,
  summarise,
  toIssues,
} from "./errors.js";
import { AuthFailure, KiB, limitBody, requireJson } from "./middleware.js";
import { documentFields } from "./openapi.js";
import { AuthFailures } from "./rate-limit.js";
import { frontWithCheckFastPath } from "./routes/check-fast-path.js";
import { registerHealth } from "./routes/health.js";
import { registerLanding } from "./routes/landing.js";
import { registerMetrics } from "./routes/metrics.js";
import { IMPORT_PATH, registerAdminImport } from "./routes/v1-admin-import.js";
import { registerAudit } from "./routes/v1-audit.js";
import { type CheckVariant, EDGE_CHECKS, registerCheck, SERVER_CHECKS } from "./routes/v1-check.js";
import { BATCH_PATH, registerCheckBatch } from "./routes/v1-check-batch.js";
import { registerSelfCheck } from "./routes/v1-check-self.js";
import { registerDecisions } from "./routes/v1-decisions.js";
import { registerDecisionIngest } from "./routes/v1-decisions-ingest.js";
import { registerEnforcementEvents } from "./routes/v1-enforcement-events.js";
import { RECHECK_PATH, registerRecheck } from "./routes/v1-meetings-recheck.js";
import { registerOrderAmendments } from "./routes/v1-orders-amendments.js";
import { registerCreateOrder } from "./routes/v1-orders-create.js";
import { registerOrderReads } from "./routes/v1-orders-read.js";
import { registerOrderTransitions } from "./routes/v1-orders-transition.js";
import { registerReports } from "./routes/v1-reports.js";
import { registerReportFinalize } from "./routes/v1-reports-finalize.js";
import { registerReportList } from "./routes/v1-reports-list.js";
import { registerReportManifest } from "./routes/v1-reports-manifest.js";
import { registerRuleset } from "./routes/v1-ruleset.js";
import type { App, AppEnv, CheckServices, EdgeServices, ServerServices } from "./services.js";

export const BODY_LIMIT = 64 * KiB;
export const BATCH_BODY_LIMIT = 1024 * KiB;
export const IMPORT_BODY_LIMIT = 1024 * KiB;

/**
 * How an app is composed beyond its services. `fastChecks: false` serves the checks through the router
 * alone: the contract suite runs both ways, to show the fast path answers as the routes do.
 */
export interface AppOptions {
  fastChecks?: boolean;
  /** The console's OpenID Connect sign-in, when configured (Node). */
  oidc?: OidcSignIn;
}

/** The Node server: every route, and the console. */
export function createServerApp(s: ServerServices, options: AppOptions = {}): App {
  // Long-lived, one per app: failed authentication, counted for the API and the console's sign-in alike.
  const failures = new AuthFailures(s);
  const app = baseApp(s, failures, {
    [BATCH_PATH]: BATCH_BODY_LIMIT,
    [RECHECK_PATH]: BATCH_BODY_LIMIT,
    [IMPORT_PATH]: IMPORT_BODY_LIMIT,
  });

  // Meeting-join flow: the hot path.
  registerCheck(app, s, SERVER_CHECKS);
  registerCheckBatch(app, s, SERVER_CHECKS);
  registerRecheck(app, s, SERVER_CHECKS);
  registerEnforcementEvents(app, s);

  // Response team: orders and their life cycle, and the ruleset they compile into.
  registerCreateOrder(app, s);
  registerOrderReads(app, s);
  registerOrderTransitions(app, s);
  registerOrderAmendments(app, s);
  registerRuleset(app, s);

  // Response team, in a browser: the console's server-rendered pages (same rules as the API).
  registerConsole(app, s, failures, options.oidc);
  registerLanding(app);

  // Reporting and audit.
  registerReportList(app, s);
  registerReports(app, s);
  registerReportManifest(app, s);
  registerReportFinalize(app, s);
  registerDecisions(app, s);
  registerDecisionIngest(app, s);
  registerAudit(app, s);

  // Administration: backfill of historical orders.
  registerAdminImport(app, s);

  // Operations.
  registerHealth(app, s, failures);
  registerMetrics(app);
  // People reading the API: the reference for /openapi.json.
  registerDocs(app, s.docsAssets);
  return finish(app, s, SERVER_CHECKS, options);
}

/**
 * The Worker: the meeting-join checks, the browser-direct check with a join ticket (when a ticket key
 * is configured), the ruleset summary and health. Orders, reports, decisions and audit stay on the
 * Node service, where the store is.
 */
export function createEdgeApp(s: EdgeServices, options: AppOptions = {}): App {
  const failures = new AuthFailures(s);
  const app = baseApp(s, failures, { [BATCH_PATH]: BATCH_BODY_LIMIT, [RECHECK_PATH]: BATCH_BODY_LIMIT });
  registerCheck(app, s, EDGE_CHECKS);
  registerCheckBatch(app, s, EDGE_CHECKS);
  registerRecheck(app, s, EDGE_CHECKS);
  if (s.ticketKey !== null) registerSelfCheck(app, s, s.ticketKey);
  registerRuleset(app, s);
  registerHealth(app, s, failures);
  registerDocsPointer(app);
  return finish(app, s, EDGE_CHECKS, options);
}

/**
 * What every app has first: request ids, no-store, JSON-only bodies, body limits (64 KiB unless
 * `limits` says); and last, the error envelope, where refused tokens are logged and counted.
 */
function baseApp(s: CheckServices, failures: AuthFailures, limits: Record<string, number>): App {
  const app: App = new OpenAPIHono<AppEnv>({
    // Schema violations (body, query, path) become one 400 naming every offending field.
    defaultHook: (result) => {
      if (!result.success) {
        const prefix = result.target === "json" ? "" : `${result.target}.`;
        const issues = toIssues(result.error).map((i) => ({ ...i, path: prefix + i.path }));
        throw new CordonError("BAD_REQUEST", summarise(issues), issues);
      }
    },
  });
  app.use(requestId({ headerName: "x-request-id" }));
  // Orders, decisions, reports and even errors must not be kept by a shared cache or a browser. Set
  // before the handler, so every answer built from the context carries it, errors and 404s included.
  app.use((c, next) => {
    c.header("Cache-Control", "no-store");
    return next();
  });
  app.use("/v1/*", requireJson(IMPORT_PATH in limits ? [IMPORT_PATH] : []));
  const limit = limitBody(BODY_LIMIT);
  const byPath = new Map(Object.entries(limits).map(([path, bytes]) => [path, limitBody(bytes)]));
  // Paths with parameters (`/v1/meetings/{meetingId}/recheck`) are matched by pattern, after the others.
  const byPattern = [...byPath]
    .filter(([path]) => path.includes("{"))
    .map(([path, check]) => [new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`), check] as const);
  const pick = (path: string) => byPath.get(path) ?? byPattern.find(([re]) => re.test(path))?.[1] ?? limit;
  app.use("/v1/*", (c, next) => pick(c.req.path)(c, next));
  app.onError((err, c) => {
    const answered = err instanceof AuthFailure ? failures.failed(c, err, err.principal) : err;
    const { status, body } = toErrorResponse(answered, c.get("requestId") ?? "", s.logger);
    if (answered instanceof RateLimitedError) c.header("Retry-After", String(answered.retryAfterSeconds));
    // A store that says when it will be back (the orders still loading at a start) tells the caller too.
    if (answered instanceof StoreUnavailableError && answered.retryAfterSeconds !== undefined)
      c.header("Retry-After", String(answered.retryAfterSeconds));
    return c.json(body, status);
  });
  return app;
}

/**
 * What every app has last: the OpenAPI document of the routes it serves, the 404 envelope, and the
 * checks' fast path in front of the router (`check-fast-path.ts`).
 */
function finish(app: App, s: CheckServices, variant: CheckVariant, options: AppOptions): App {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description:
      "A token from CORDON_TOKENS (principal:role:secret); roles: checker, responder, approver, auditor, edge (decision ingest only), admin.",
  });
  app.doc31(
    "/openapi.json",
    documentFields(
      VERSION,
      "Access-denial and geoblocking enforcement: orders with four-eyes approval, compiled jurisdiction blocks, the meeting-join check and its decision log.",
    ),
  );
  app.notFound((c) =>
    c.json(envelope("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`, c.get("requestId")), 404),
  );
  if (options.fastChecks !== false) {
    frontWithCheckFastPath(app, {
      services: s,
      variant,
      checkLimit: BODY_LIMIT,
      batchLimit: BATCH_BODY_LIMIT,
      errorAnswer: (err, requestId) => toErrorResponse(err, requestId, s.logger),
    });
  }
  return app;
}

function envelope(
  code: ErrorCode,
  message: string,
  requestId: string,
  issues?: ErrorEnvelope["error"]["issues"],
) {
  return { error: { code, message, requestId, ...(issues ? { issues } : {}) } } satisfies ErrorEnvelope;
}

/**
 * Three tiers: our own errors (CordonError and the engine's and adapters' named errors) with their codes;
 * Hono's HTTPException (malformed JSON, say) with its status; anything else is a fault, logged with its
 * stack and answered as an opaque 500.
 */
export function toErrorResponse(
  err: Error,
  requestId: string,
  logger: Logger,
): { status: ErrorStatus; body: ErrorEnvelope } {
  const answer = (code: ErrorCode, message: string, issues?: ErrorEnvelope["error"]["issues"]) => ({
    status: statusOf(code),
    body: envelope(code, message, requestId, issues),
  });
  if (err instanceof HistoryLostError) {
    logger.error("order history lost or diverged; order changes refused", { requestId, reason: err.reason });
    return answer("UNAVAILABLE", err.message);
  }
  if (err instanceof StoreUnavailableError) {
    // The cause (a Redis or disk error) is for the operators' log, not for the caller. A store that
    // says when it will be back (the orders loading at a start) is expected, not a fault.
    if (err.retryAfterSeconds === undefined)
      logger.error("store unavailable", { requestId, error: err.message });
    else logger.info("store unavailable for now", { requestId, error: err.message });
    return answer("UNAVAILABLE", "the store is unavailable; try again");
  }
  // Paging cursors arrive as `?after=`: name the parameter.
  if (err instanceof InvalidCursorError) return answer("BAD_REQUEST", `query.after: ${err.message}`);
  if (err instanceof CordonError) return answer(err.code, err.message, err.issues);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code: ErrorCode =
      status === 413
        ? "PAYLOAD_TOO_LARGE"
        : status === 401
          ? "UNAUTHORIZED"
          : status === 405
            ? "METHOD_NOT_ALLOWED"
            : "BAD_REQUEST";
    if (status >= 500) {
      logger.error("http exception", { requestId, status, error: err.message });
      return answer("INTERNAL", "internal error");
    }
    return answer(code, err.message || "bad request");
  }
  logger.error("unhandled error", { requestId, error: err.message, stack: err.stack });
  return answer("INTERNAL", "internal error");
}
