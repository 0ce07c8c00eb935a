/**
 * GET /v1/reports/{period}: the access-denial section of the transparency report for a half-year,
 * quarter or month, as JSON, the CSV dataset, or an HTML page (English or Dutch). Auditors only.
 * A finalized period answers its frozen bytes; any other is provisional (I9). Also the period parameter
 * the other report routes share.
 */
import { LANGUAGES } from "../../i18n/language.js";
import { CordonError } from "../../kernel/errors.js";
import { type Period, parsePeriod } from "../../report/periods.js";
import { errors, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

export const PeriodParams = z.object({
  period: z
    .string()
    .max(16)
    .meta({
      param: { name: "period", in: "path" },
      example: "2026-H1",
      description: "2026-H1, 2026-Q3 or 2026-07 (UTC).",
    }),
});

const Query = z.strictObject({
  format: z.enum(["json", "csv", "html"]).default("json"),
  lang: z.enum(LANGUAGES).default("en").meta({ description: "Language of the HTML page." }),
  threshold: z.coerce.number().int().min(0).max(1000).optional().meta({
    description: 'Counts below this are published as "< N" (CSV and HTML); JSON keeps exact numbers.',
  }),
});

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "readReports", {
    method: "get",
    path: "/v1/reports/{period}",
    tags: ["reporting"],
    operationId: "getReport",
    summary: "The access-denial report for a period",
    description:
      "Requests completed in the period per requesting jurisdiction and outcome, per account type and location; pending at the period's end; enforcement counts per jurisdiction and per order. Aggregation catches up with the decision log first. A finalized period answers the same frozen bytes every time (another threshold: a variant derived from them); any other period is provisional (JSON `provisional: true`, a banner in HTML, and the header `X-Cordon-Provisional: true`). A period that has not started: 400 PERIOD_NOT_STARTED.",
    request: { params: PeriodParams, query: Query },
    responses: {
      200: {
        description: "The report.",
        content: {
          "application/json": {
            schema: z.object({}).passthrough().meta({ description: "See the Report model." }),
          },
          "text/csv": { schema: z.string() },
          "text/html": { schema: z.string() },
        },
      },
      ...errors(400, 503),
    },
  });

export function registerReports(app: App, s: ServerServices): void {
  app.openapi(route(s), async (c) => {
    const { period: label } = c.req.valid("param");
    const { format, lang, threshold } = c.req.valid("query");
    const period = periodOf(label);
    if (!s.reports) throw new CordonError("UNAVAILABLE", "reports are not configured on this instance");
    const published = await s.reports.publication(period, {
      format,
      lang,
      ...(threshold === undefined ? {} : { threshold }),
    });
    // I9: whether the numbers may still change, on every format (the CSV body has no room to say it).
    const finality: Record<string, string> = {
      "x-cordon-provisional": String(published.provisional),
      ...(published.frozenSha256 === undefined ? {} : { etag: `"${published.frozenSha256}"` }),
    };
    if (format === "csv") {
      return c.body(published.text, 200, {
        ...finality,
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="cordon-${period.id}.csv"`,
      });
    }
    if (format === "html") {
      return c.body(published.text, 200, {
        ...finality,
        "content-type": "text/html; charset=utf-8",
        // The page is self-contained: inline SVG and styles, no scripts, nothing fetched.
        "content-security-policy":
          "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
      });
    }
    return c.body(published.text, 200, { ...finality, "content-type": "application/json; charset=utf-8" });
  });
}

/** The period a path names, or 400 BAD_REQUEST. */
export function periodOf(label: string): Period {
  const period = parsePeriod(label);
  if (!period) {
    throw new CordonError(
      "BAD_REQUEST",
      `period: ${label} is not a period; use 2026-H1, 2026-Q3 or 2026-07`,
      [{ path: "period", message: "must be YYYY-H1|H2, YYYY-Q1..Q4 or YYYY-MM" }],
    );
  }
  return period;
}
