/** GET /v1/ruleset: which compiled ruleset this instance enforces. */
import { OrderWarning, precisionWarnings } from "../../engine/index.js";
import { geoPrecision } from "../../geo/interface.js";
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, CheckServices } from "../services.js";

export const RulesetSummary = z
  .object({
    version: z
      .number()
      .int()
      .meta({ description: "The store sequence number the ruleset was compiled from." }),
    epoch: z.string().nullable().meta({
      description:
        "The order history `version` counts in (Redis mode: a random token made with the history's first entry; versions of different epochs are not comparable). Null on the embedded store.",
    }),
    hash: z.string().meta({ description: "SHA-256 of the compiled orders: equal hash, equal enforcement." }),
    compiledAt: z.string(),
    orders: z
      .number()
      .int()
      .meta({ description: "Approved orders compiled in (in force, scheduled or expired)." }),
    meetings: z.number().int().meta({ description: "Distinct meetings named." }),
    accounts: z.number().int().meta({ description: "Distinct accounts named." }),
    excluded: z.array(z.object({ id: z.string(), reason: z.string() })),
    warnings: z.array(OrderWarning.extend({ orderId: z.string() })).meta({
      description:
        "Compiled orders that will not deny anyone as things stand, with why: e.g. NEEDS_CITY_DATABASE for a subdivision block while the location source knows countries only.",
    }),
  })
  .meta({ id: "RulesetSummary" });

const route = (s: CheckServices) =>
  guardedRoute(s.auth, "readRuleset", {
    method: "get",
    path: "/v1/ruleset",
    tags: ["response-team"],
    operationId: "getRuleset",
    summary: "The ruleset this instance enforces",
    responses: { 200: json(RulesetSummary, "Version, hash and size."), ...errors() },
  });

export function registerRuleset(app: App, s: CheckServices): void {
  app.openapi(route(s), (c) => {
    const r = s.rulesets.current();
    const precision = geoPrecision(s.geo);
    return c.json(
      {
        version: r.version,
        epoch: r.epoch ?? null,
        hash: r.hash,
        compiledAt: r.compiledAt,
        orders: r.orders.length,
        meetings: r.meetings.size,
        accounts: r.accounts.size,
        excluded: [...r.excluded],
        warnings: r.orders.flatMap((o) =>
          precisionWarnings(o.jurisdictions, precision).map((w) => ({ orderId: o.id, ...w })),
        ),
      },
      200,
    );
  });
}
