/** GET /v1/reports: the periods an auditor can ask for, and whether each is open, provisional or finalized (I9). */
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

const PeriodList = z
  .object({
    periods: z.array(
      z.object({
        period: z.string().meta({ example: "2026-H1" }),
        state: z.enum(["open", "provisional", "finalized"]).meta({
          description:
            "open: still running; provisional: ended, not finalized (its numbers may change); finalized: frozen and signed.",
        }),
      }),
    ),
  })
  .meta({ id: "ReportPeriods" });

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "readReports", {
    method: "get",
    path: "/v1/reports",
    tags: ["reporting"],
    operationId: "listReportPeriods",
    summary: "The reporting periods and their state",
    description:
      "Every half-year, quarter and month that has decision records or an order received or completed in it, the current ones, and every finalized one; never a period that has not started. Sorted by start, a half-year before its quarters and months.",
    responses: { 200: json(PeriodList, "The periods."), ...errors(503) },
  });

export function registerReportList(app: App, s: ServerServices): void {
  app.openapi(route(s), async (c) => c.json({ periods: await s.reports.periods() }, 200));
}
