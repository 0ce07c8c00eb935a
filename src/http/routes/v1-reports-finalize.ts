/**
 * POST /v1/reports/{period}/finalize: freezes a period's report and signs its manifest (I9). Idempotent:
 * a finalized period answers its manifest again. 409 FINALIZE_TOO_EARLY before the period's end plus
 * CORDON_FINALIZE_GRACE_DAYS.
 */
import { ErrorEnvelope } from "../errors.js";
import { errors, json } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";
import { PeriodParams, periodOf } from "./v1-reports.js";
import { ManifestSchema } from "./v1-reports-manifest.js";

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "finalizeReports", {
    method: "post",
    path: "/v1/reports/{period}/finalize",
    tags: ["reporting"],
    operationId: "finalizeReport",
    summary: "Finalize a period: freeze its report and sign its manifest",
    description:
      "Catches the aggregates up, freezes the period's months (records arriving later count as late in the next open period), archives its records, renders every format at the default threshold and stores those bytes, then signs the manifest. Afterwards GET /v1/reports/{period} answers the frozen bytes. Finalizing again answers the same manifest.",
    request: { params: PeriodParams },
    responses: {
      200: json(ManifestSchema, "The signed manifest."),
      ...errors(400, 503),
      409: {
        description: "FINALIZE_TOO_EARLY: the period has not ended plus the grace days.",
        content: { "application/json": { schema: ErrorEnvelope } },
      },
    },
  });

export function registerReportFinalize(app: App, s: ServerServices): void {
  app.openapi(route(s), async (c) => {
    const period = periodOf(c.req.valid("param").period);
    return c.json(await s.reports.finalize(period), 200);
  });
}
