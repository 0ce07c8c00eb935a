/** POST /v1/check/batch: many joins at once (a webinar opening), answered in request order. */
import { Decision } from "../../engine/index.js";
import { pickLanguage } from "../../i18n/language.js";
import { evaluate, located } from "../../service/check.js";
import { instruments } from "../../telemetry/index.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, CheckServices } from "../services.js";
import { BatchRequest, type CheckVariant, requireRuleset } from "./v1-check.js";

export const BATCH_PATH = "/v1/check/batch";

const route = (s: CheckServices) =>
  guardedRoute(s.auth, "check", {
    method: "post",
    path: BATCH_PATH,
    tags: ["meeting-join"],
    summary: "Decide 1 to 1000 joins in one call",
    description:
      "Every check in the batch is decided against the same ruleset and clock. One malformed item fails the whole batch with 400 (the `issues` paths name it), so nothing is half-answered.",
    request: {
      body: jsonBody(BatchRequest, "The joins to check."),
    },
    responses: {
      200: json(
        z.object({ results: z.array(Decision) }).meta({ id: "CheckBatchResponse" }),
        "Decisions, in request order.",
      ),
      ...errors(400, 413, 415, 503),
    },
  });

export function registerCheckBatch(app: App, s: CheckServices, variant: CheckVariant): void {
  app.openapi(route(s), async (c) => {
    const { checks } = c.req.valid("json");
    requireRuleset(s, variant);
    const ruleset = s.rulesets.current();
    const now = s.clock();
    const lang = pickLanguage(c.req.header("accept-language"));
    const evaluated = await Promise.all(
      checks.map((check) => evaluate(s, ruleset, located(check), now, lang)),
    );
    await s.decisions.append(evaluated.map((e) => e.record));
    for (const e of evaluated) instruments.decisions.add(1, { code: e.decision.code });
    return c.json({ results: evaluated.map((e) => e.decision) }, 200);
  });
}
