/**
 * POST /v1/decisions/ingest: decision records made at the edge, delivered by the Worker's Queue
 * consumer, join the decision log here. Idempotent by decisionId: a retried delivery appends nothing
 * twice (I5). Records keep only the prefix and keyed hash of the address (I6): an `ipPrefix` that is not
 * a prefix is refused.
 */
import { DecisionRecord } from "../../engine/index.js";
import { CordonError } from "../../kernel/errors.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

const IngestRecord = DecisionRecord.extend({
  decisionId: z.string().min(1).max(64),
  at: z.iso.datetime({ offset: true }),
  ipPrefix: z
    .string()
    .regex(/^[0-9a-f.:]+\/\d{1,3}$/i, "must be a network prefix such as 203.0.113.0/24, never an address")
    .nullable(),
});

const IngestBody = z
  .strictObject({ records: z.array(IngestRecord).min(1).max(500) })
  .meta({ id: "DecisionIngestRequest" });

const IngestResult = z
  .object({ received: z.number().int(), appended: z.number().int(), duplicates: z.number().int() })
  .meta({ id: "DecisionIngestResult" });

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "ingestDecisions", {
    method: "post",
    path: "/v1/decisions/ingest",
    tags: ["reporting"],
    summary: "Add decision records made at the edge to the decision log",
    description:
      "Called by the Worker's Queue consumer. Records already ingested (same decisionId) are skipped.",
    request: { body: jsonBody(IngestBody, "Decision records from the edge, 1 to 500.") },
    responses: { 200: json(IngestResult, "What was appended."), ...errors(400, 413, 415, 503) },
  });

export function registerDecisionIngest(app: App, s: ServerServices): void {
  // One ingest at a time per instance: two deliveries of one batch must not both find its ids unseen.
  let queue: Promise<unknown> = Promise.resolve();
  app.openapi(route(s), async (c) => {
    const index = s.ingest;
    if (!index) throw new CordonError("UNAVAILABLE", "this instance does not ingest edge decisions");
    const { records } = c.req.valid("json");
    const run = queue.then(async () => {
      const unseen = await index.unseen(records);
      // Within one delivery an id can also repeat; keep its first occurrence only.
      const fresh = records.filter((r) => unseen.delete(r.decisionId));
      if (fresh.length > 0) {
        await s.decisions.append(fresh);
        await index.remember(fresh);
      }
      return { received: records.length, appended: fresh.length, duplicates: records.length - fresh.length };
    });
    queue = run.catch(() => undefined);
    return c.json(await run, 200);
  });
}
