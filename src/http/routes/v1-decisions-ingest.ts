/**
 * POST /v1/decisions/ingest: decision records made at the edge, delivered by the Worker's Queue
 * consumer (role `edge`), join the decision log here. Each record is accepted, skipped (stored before,
 * identically) or refused with its index and a code, never stored (`service/ingest.ts`, DESIGN "Ingest").
 * A body that is not a list of decision records at all is a 400, as everywhere.
 */
import { DecisionRecord } from "../../engine/index.js";
import { EdgeIngest, RefusalCode } from "../../service/ingest.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

// Only the shape here: the rules a record's values must pass are per-record refusals, so one bad record
// does not hold back the others of its Queue batch.
const IngestRecord = DecisionRecord.extend({
  decisionId: z.string().min(1).max(64),
});

const IngestBody = z
  .strictObject({ records: z.array(IngestRecord).min(1).max(500) })
  .meta({ id: "DecisionIngestRequest" });

const IngestResult = z
  .object({
    accepted: z.number().int().meta({ description: "Records added to the decision log." }),
    skipped: z
      .number()
      .int()
      .meta({ description: "Records stored before, identically (a retried delivery): nothing added." }),
    refused: z
      .array(
        z.object({
          index: z.number().int().meta({ description: "The record's position in `records`." }),
          code: RefusalCode,
          message: z.string().meta({ example: "ipPrefix: must be the /24 (IPv4) or /48 (IPv6) network" }),
        }),
      )
      .meta({ description: "Records not stored, and why, in index order." }),
  })
  .meta({ id: "DecisionIngestResult" });

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "ingestDecisions", {
    method: "post",
    path: "/v1/decisions/ingest",
    tags: ["reporting"],
    operationId: "ingestDecisions",
    summary: "Add decision records made at the edge to the decision log",
    description:
      "Called by the Worker's Queue consumer with an `edge` token. A record is refused (never stored) when its decisionId is not an edge id (a version-8 UUID), its `at` is more than 14 days old or 5 minutes ahead or in a finalized period, its ipPrefix is not exactly a /24 or /48 network, its ipHash not 64 lowercase hex characters, its accountId not an account id (or an IP address or phone number), or an orderId is unknown. A decisionId stored before is skipped when the record is identical, refused when it differs.",
    request: { body: jsonBody(IngestBody, "Decision records from the edge, 1 to 500.") },
    responses: {
      200: json(IngestResult, "What was accepted, skipped and refused."),
      ...errors(400, 413, 415, 503),
    },
  });

export function registerDecisionIngest(app: App, s: ServerServices): void {
  // One per app: it serialises this instance's deliveries.
  const edge = new EdgeIngest({
    index: s.ingest,
    decisions: s.decisions,
    orders: s.orders,
    isFinalized: (at) => s.reports.isFinalized(at),
    sealEdgeHash: s.sealEdgeHash,
    clock: s.clock,
  });
  app.openapi(route(s), async (c) => c.json(await edge.ingest(c.req.valid("json").records), 200));
}
