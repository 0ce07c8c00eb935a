/** GET /v1/orders/{id}/audit and GET /v1/audit: the hash-chained audit log (I7). */
import { Order } from "../../engine/index.js";
import { CordonError } from "../../kernel/errors.js";
import { AUDIT_ACTIONS } from "../../store/interface.js";
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";
import { OrderIdParam } from "./v1-orders-transition.js";

export const AuditEntry = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    actor: z.string(),
    action: z.enum(AUDIT_ACTIONS),
    orderId: z.string(),
    order: Order,
    prevHash: z.string(),
    hash: z.string(),
  })
  .meta({ id: "AuditEntry" });

const AuditPage = z
  .object({ entries: z.array(AuditEntry), next: z.number().int().nullable() })
  .meta({ id: "AuditPage" });

const orderAuditRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "readOrders", {
    method: "get",
    path: "/v1/orders/{id}/audit",
    tags: ["response-team"],
    operationId: "getOrderAudit",
    summary: "An order's audit history",
    request: { params: OrderIdParam },
    responses: {
      200: json(z.object({ entries: z.array(AuditEntry) }), "Every change, oldest first."),
      ...errors(404),
    },
  });

const auditRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "readAudit", {
    method: "get",
    path: "/v1/audit",
    tags: ["reporting"],
    operationId: "listAuditEntries",
    summary: "Page through the whole audit log",
    request: {
      query: z.strictObject({
        after: z.coerce
          .number()
          .int()
          .min(0)
          .optional()
          .meta({ description: "Return entries with seq above this." }),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    },
    responses: {
      200: json(AuditPage, "Entries in seq order; `next` is the seq to pass as `after`."),
      ...errors(400),
    },
  });

export function registerAudit(app: App, s: ServerServices): void {
  app.openapi(orderAuditRoute(s), async (c) => {
    const { id } = c.req.valid("param");
    if (!(await s.orders.getOrder(id))) throw new CordonError("NOT_FOUND", `no order ${id}`);
    return c.json({ entries: await s.orders.readAudit({ orderId: id }) }, 200);
  });
  app.openapi(auditRoute(s), async (c) => {
    const { after, limit } = c.req.valid("query");
    const entries = await s.orders.readAudit({ ...(after === undefined ? {} : { after }), limit });
    const last = entries.at(-1);
    return c.json({ entries, next: last ? last.seq : (after ?? null) }, 200);
  });
}
