/**
 * POST /v1/admin/orders/import: backfill. An admin imports historical orders with their life cycle, one
 * `ImportedOrder` per line (JSON Lines), so past periods can be reported. All lines are validated first;
 * one bad line refuses the whole file (400, an issue per problem, each path naming its line).
 */
import { CordonError } from "../../kernel/errors.js";
import { ImportedOrder, ImportRefusedError, importOrders } from "../../service/import.js";
import { summarise } from "../errors.js";
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

export const IMPORT_PATH = "/v1/admin/orders/import";

const ImportResult = z
  .object({
    imported: z
      .number()
      .int()
      .meta({ description: "Orders written (in whole, or finishing a cut-short one)." }),
    skipped: z
      .number()
      .int()
      .meta({ description: "Orders already stored (an earlier import), or changed since: nothing written." }),
    orders: z.array(
      z.object({
        line: z.number().int().meta({ description: "The line of the body, from 1.", example: 1 }),
        id: z.string().meta({ example: "ord_imp_3f9a0c1d2e4b5a6c7d8e" }),
        result: z.enum(["imported", "skipped"]),
      }),
    ),
  })
  .meta({ id: "ImportResult" });

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "importOrders", {
    method: "post",
    path: IMPORT_PATH,
    tags: ["administration"],
    operationId: "importOrders",
    summary: "Import historical orders (backfill)",
    description:
      "JSON Lines, one `ImportedOrder` per line (blank lines ignored), at most 1 MiB. Every line is checked like a live order (schema, I1, four eyes, legal transitions) and its instants must be ordered and in the past; an approved order must have ended or been withdrawn. Any bad line refuses the whole import. Each order is then written with its historical times and actors, marked `importedBy` in its audit entries. An order's id derives from its authority, reference and receivedAt, so importing a file again skips what is stored.",
    request: {
      body: {
        required: true,
        description: "One ImportedOrder (JSON) per line.",
        content: { "application/x-ndjson": { schema: ImportedOrder } },
      },
    },
    responses: {
      200: json(ImportResult, "What was imported and skipped, per line."),
      ...errors(400, 413),
      415: { ...errors(415)[415], description: "The body must be application/x-ndjson." },
    },
  });

export function registerAdminImport(app: App, s: ServerServices): void {
  app.openapi(route(s), async (c) => {
    const lines = await c.req.text();
    try {
      return c.json(await importOrders(s, lines, c.get("principal").name), 200);
    } catch (err) {
      if (!(err instanceof ImportRefusedError)) throw err;
      throw new CordonError("BAD_REQUEST", `${err.message}: ${summarise(err.issues)}`, err.issues);
    }
  });
}
