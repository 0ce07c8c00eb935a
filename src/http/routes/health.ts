/**
 * GET /healthz (the process answers) and GET /readyz (ruleset and geo database loaded). Neither needs a
 * token; /readyz shows its details (database paths, the Redis address, probes) only with a valid one.
 */
import { createRoute } from "@hono/zod-openapi";
import { VERSION } from "../../kernel/version.js";
import { AuthFailure, bearerSecret } from "../middleware.js";
import { json, z } from "../openapi.js";
import type { AuthFailures } from "../rate-limit.js";
import type { App, CheckServices } from "../services.js";

const details = "Only with a valid bearer token (any role): it names files and addresses.";
const Ready = z
  .object({
    ready: z.boolean(),
    degraded: z
      .boolean()
      .optional()
      .meta({ description: `Serving, but a dependency (Redis) is unavailable or behind. ${details}` }),
    ruleset: z
      .object({ loaded: z.boolean(), version: z.number().int(), hash: z.string() })
      .optional()
      .meta({ description: details }),
    geo: z
      .object({
        databaseType: z.string(),
        buildDate: z.string(),
        subdivisions: z.boolean(),
        ipVersion: z.number().int(),
        source: z.string(),
      })
      .nullable()
      .optional()
      .meta({ description: details }),
    checks: z
      .array(
        z.object({
          name: z.string(),
          ready: z.boolean(),
          detail: z.record(z.string(), z.unknown()).optional(),
        }),
      )
      .optional()
      .meta({ description: details }),
  })
  .meta({ id: "Readiness" });

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["operations"],
  operationId: "getLiveness",
  summary: "Liveness",
  description: "200 while the process answers; for a liveness probe. Needs no token.",
  security: [],
  responses: {
    200: json(z.object({ status: z.literal("ok"), version: z.string() }), "The process answers."),
  },
});

const readyRoute = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["operations"],
  operationId: "getReadiness",
  summary: "Readiness: 200 once the ruleset and the geo database are loaded, else 503",
  description:
    "For a readiness probe: needs no token, and answers only `ready` without one. With a valid bearer token (any role) it adds the details; a wrong token is logged and counted, and the probe still gets its status.",
  security: [],
  responses: { 200: json(Ready, "Ready."), 503: json(Ready, "Not ready yet.") },
});

export function registerHealth(app: App, s: CheckServices, failures: AuthFailures): void {
  app.openapi(healthRoute, (c) => c.json({ status: "ok" as const, version: VERSION }, 200));
  app.openapi(readyRoute, (c) => {
    const ruleset = s.rulesets.current();
    const geo = s.geo.info();
    const checks = s.readiness();
    const ready = s.rulesets.isLoaded() && geo !== null && checks.every((r) => r.ready);
    // A load balancer's probe needs only the status (and its code); the details are for operators.
    const secret = bearerSecret(c.req.header("authorization"));
    if (!secret || !s.auth.authenticate(secret)) {
      // A wrong token is logged and counted like any other, but a probe keeps its status codes.
      if (secret) failures.failed(c, new AuthFailure("UNAUTHORIZED", "unknown bearer token"));
      return c.json({ ready }, ready ? 200 : 503);
    }
    const body = {
      ready,
      degraded: checks.some((r) => r.degraded === true),
      ruleset: { loaded: s.rulesets.isLoaded(), version: ruleset.version, hash: ruleset.hash },
      geo,
      checks,
    };
    return ready ? c.json(body, 200) : c.json(body, 503);
  });
}
