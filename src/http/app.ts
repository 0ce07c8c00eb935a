/**
 * `createApp(services, {surface})`: the HTTP surface of Cordon, built once. Runtimes only wire it: the
 * Node entry and the Worker entry parse their environment, build the adapters and hand them in. This
 * file imports no `node:*`, no Redis client and no `cloudflare:*`. The Worker asks for the `edge`
 * surface: the same routes and handlers, fewer of them.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { registerConsole } from "../console/routes.js";
import { OrderRuleError } from "../engine/index.js";
import { InvalidCursorError, NotFoundError, StoreUnavailableError } from "../store/interface.js";
import type { App, AppEnv, Services, Surface } from "./env.js";
import {
  ApiError,
  type ErrorCode,
  type ErrorEnvelope,
  type ErrorStatus,
  statusOf,
  summarise,
  toIssues,
} from "./errors.js";
import { KiB, limitBody, requireJson } from "./middleware.js";
import { registerHealth } from "./routes/health.js";
import { IMPORT_PATH, registerAdminImport } from "./routes/v1-admin-import.js";
import { registerAudit } from "./routes/v1-audit.js";
import { registerCheck } from "./routes/v1-check.js";
import { registerCheckBatch } from "./routes/v1-check-batch.js";
import { registerDecisions } from "./routes/v1-decisions.js";
import { registerDecisionIngest } from "./routes/v1-decisions-ingest.js";
import { registerCreateOrder } from "./routes/v1-orders-create.js";
import { registerOrderReads } from "./routes/v1-orders-read.js";
import { registerOrderTransitions } from "./routes/v1-orders-transition.js";
import { registerReports } from "./routes/v1-reports.js";
import { registerRuleset } from "./routes/v1-ruleset.js";

export const BODY_LIMIT = 64 * KiB;
export const BATCH_BODY_LIMIT = 1024 * KiB;
export const IMPORT_BODY_LIMIT = 1024 * KiB;

export interface AppOptions {
  /** `full` (default): every route, on Node. `edge`: the routes the Worker serves (see `Surface`). */
  surface?: Surface;
}

export function createApp(s: Services, options: AppOptions = {}): App {
  const surface = options.surface ?? "full";
  const app: App = new OpenAPIHono<AppEnv>({
    // Schema violations (body, query, path) become one 400 naming every offending field.
    defaultHook: (result) => {
      if (!result.success) {
        const prefix = result.target === "json" ? "" : `${result.target}.`;
        const issues = toIssues(result.error).map((i) => ({ ...i, path: prefix + i.path }));
        throw new ApiError("BAD_REQUEST", summarise(issues), issues);
      }
    },
  });

  app.use(requestId({ headerName: "x-request-id" }));
  app.use("/v1/*", requireJson([IMPORT_PATH]));
  const limit = limitBody(BODY_LIMIT);
  const batchLimit = limitBody(BATCH_BODY_LIMIT);
  const importLimit = limitBody(IMPORT_BODY_LIMIT);
  app.use("/v1/*", (c, next) =>
    c.req.path === "/v1/check/batch"
      ? batchLimit(c, next)
      : c.req.path === IMPORT_PATH
        ? importLimit(c, next)
        : limit(c, next),
  );

  // Meeting-join flow: the hot path.
  registerCheck(app, s, surface);
  registerCheckBatch(app, s, surface);

  // The edge surface stops at the checks, the ruleset summary and health: whatever reads or changes
  // orders, decisions and reports needs the store, which is on Node (the edge's `store` only appends).
  const full = surface === "full";

  // Response team: orders and their life cycle, and the ruleset they compile into.
  if (full) {
    registerCreateOrder(app, s);
    registerOrderReads(app, s);
    registerOrderTransitions(app, s);

    // Response team, in a browser: the console's server-rendered pages (same rules as the API).
    registerConsole(app, s);
  }
  registerRuleset(app, s);

  if (full) {
    // Reporting and audit.
    registerReports(app, s);
    registerDecisions(app, s);
    registerDecisionIngest(app, s);
    registerAudit(app, s);

    // Administration: backfill of historical orders.
    registerAdminImport(app, s);
  }

  // Operations.
  registerHealth(app, s);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description:
      "A token from CORDON_TOKENS (principal:role:secret); roles: checker, responder, approver, auditor, admin.",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Cordon",
      version: s.version ?? "dev",
      description:
        "Access-denial and geoblocking enforcement: orders with four-eyes approval, compiled jurisdiction blocks, the meeting-join check and its decision log.",
    },
  });

  app.notFound((c) =>
    c.json(envelope("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`, c.get("requestId")), 404),
  );
  app.onError((err, c) => {
    const { status, body } = toErrorResponse(err, c.get("requestId") ?? "", s);
    return c.json(body, status);
  });
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
 * Three tiers: our own errors (ApiError and the engine's and adapters' named errors) with their codes;
 * Hono's HTTPException (malformed JSON, say) with its status; anything else is a fault, logged with its
 * stack and answered as an opaque 500.
 */
function toErrorResponse(
  err: Error,
  requestId: string,
  s: Services,
): { status: ErrorStatus; body: ErrorEnvelope } {
  const answer = (code: ErrorCode, message: string, issues?: ErrorEnvelope["error"]["issues"]) => ({
    status: statusOf(code),
    body: envelope(code, message, requestId, issues),
  });
  if (err instanceof ApiError) return answer(err.code, err.message, err.issues);
  if (err instanceof OrderRuleError) {
    const issues =
      err.code === "JURISDICTION_OUTSIDE_AUTHORITY"
        ? [{ path: "jurisdictions", message: err.message }]
        : undefined;
    return answer(err.code, err.message, issues);
  }
  if (err instanceof NotFoundError) return answer("NOT_FOUND", err.message);
  if (err instanceof InvalidCursorError) return answer("BAD_REQUEST", `query.after: ${err.message}`);
  if (err instanceof StoreUnavailableError) {
    s.logger.error("store unavailable", { requestId, error: err.message });
    return answer("UNAVAILABLE", "the store is unavailable; try again");
  }
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
      s.logger.error("http exception", { requestId, status, error: err.message });
      return answer("INTERNAL", "internal error");
    }
    return answer(code, err.message || "bad request");
  }
  s.logger.error("unhandled error", { requestId, error: err.message, stack: err.stack });
  return answer("INTERNAL", "internal error");
}
