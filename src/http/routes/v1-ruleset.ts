/** GET /v1/ruleset: which compiled ruleset this instance enforces. */
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, CheckServices } from "../services.js";

export const RulesetSummary = z
  .object({
    version: z
      .number()
      .int()
      .meta({ description: "The store sequence number the ruleset was compiled from." }),
    hash: z.string().meta({ description: "SHA-256 of the compiled orders: equal hash, equal enforcement." }),
    compiledAt: z.string(),
    orders: z
      .number()
      .int()
      .meta({ description: "Approved orders compiled in (in force, scheduled or expired)." }),
    meetings: z.number().int().meta({ description: "Distinct meetings named." }),
    accounts: z.number().int().meta({ description: "Distinct accounts named." }),
    excluded: z.array(z.object({ id: z.string(), reason: z.string() })),
  })
  .meta({ id: "RulesetSummary" });

const route = (s: CheckServices) =>
  guardedRoute(s.auth, "readRuleset", {
    method: "get",
    path: "/v1/ruleset",
    tags: ["response-team"],
    summary: "The ruleset this instance enforces",
    responses: { 200: json(RulesetSummary, "Version, hash and size."), ...errors() },
  });

export function registerRuleset(app: App, s: CheckServices): void {
  app.openapi(route(s), (c) => {
    const r = s.rulesets.current();
    return c.json(
      {
        version: r.version,
        hash: r.hash,
        compiledAt: r.compiledAt,
        orders: r.orders.length,
        meetings: r.meetings.size,
        accounts: r.accounts.size,
        excluded: [...r.excluded],
      },
      200,
    );
  });
}
