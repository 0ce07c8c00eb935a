/** POST /v1/check/batch: many joins at once (a webinar opening), answered in request order. */
import { Decision, type DecisionRecord } from "../../engine/index.js";
import { pickLanguage } from "../../i18n/language.js";
import { type CheckInput, type Evaluated, evaluate, located } from "../../service/check.js";
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
    operationId: "checkJoinBatch",
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
    return c.json(await answerBatch(s, variant, checks.map(located), c.req.header("accept-language")), 200);
  });
}

/**
 * A batch answered, every record written first (I5), in one append: shared with the fast path
 * (`http/routes/check-fast-path.ts`).
 */
export async function answerBatch(
  s: CheckServices,
  variant: CheckVariant,
  checks: readonly CheckInput[],
  acceptLanguage: string | undefined,
): Promise<{ results: Decision[] }> {
  requireRuleset(s, variant);
  const ruleset = s.rulesets.current();
  const now = s.clock();
  const lang = pickLanguage(acceptLanguage);
  const pending = checks.map((check) => evaluate(s, ruleset, check, now, lang));
  // Geo answers synchronously (an mmdb, an L1 hit) nearly always: only a remote lookup needs waiting for.
  const evaluated = pending.some((e) => e instanceof Promise)
    ? await Promise.all(pending)
    : (pending as Evaluated[]);
  const records = new Array<DecisionRecord>(evaluated.length);
  const results = new Array<Decision>(evaluated.length);
  for (let i = 0; i < evaluated.length; i++) {
    const e = evaluated[i] as Evaluated;
    records[i] = e.record;
    results[i] = e.decision;
  }
  await s.decisions.append(records);
  // One add per code, not per check: a counter's sum is the same, and a batch has a handful of codes.
  const codes = new Map<Decision["code"], number>();
  for (const decision of results) codes.set(decision.code, (codes.get(decision.code) ?? 0) + 1);
  for (const [code, count] of codes) instruments.decisions.add(count, { code });
  return { results };
}
