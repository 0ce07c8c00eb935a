/** GET /v1/decisions: the decision log, paged with an opaque cursor (for auditors and the report). */
import { DecisionRecord } from "../../engine/index.js";
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "readDecisions", {
    method: "get",
    path: "/v1/decisions",
    tags: ["reporting"],
    operationId: "listDecisions",
    summary: "Page through decision records",
    description:
      "Records in write order. Pass `next` as `after` to continue; at the end `next` stays put, so a reader can poll.",
    request: {
      query: z.strictObject({
        after: z.string().max(4096).optional().meta({ description: "Cursor from a previous page." }),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    },
    responses: {
      200: json(
        z
          .object({ records: z.array(DecisionRecord), next: z.string().nullable() })
          .meta({ id: "DecisionPage" }),
        "A page of records.",
      ),
      ...errors(400),
    },
  });

export function registerDecisions(app: App, s: ServerServices): void {
  app.openapi(route(s), async (c) => {
    const { after, limit } = c.req.valid("query");
    const page = await s.decisions.page({ ...(after === undefined ? {} : { after }), limit });
    return c.json(page, 200);
  });
}
