/** GET /v1/orders and GET /v1/orders/{id}: the response team's, approvers' and auditors' view of orders. */
import { createRoute } from "@hono/zod-openapi";
import {
  contains,
  Enforcement,
  Jurisdiction,
  Order,
  OrderStatus,
  withEnforcement,
} from "../../engine/index.js";
import type { App, Services } from "../env.js";
import { ApiError } from "../errors.js";
import { requireRole } from "../middleware.js";
import { bearer, errors, json, z } from "../openapi.js";
import { OrderIdParam } from "./v1-orders-transition.js";

const ListQuery = z.strictObject({
  status: OrderStatus.optional(),
  enforcement: Enforcement.optional(),
  jurisdiction: Jurisdiction.optional().meta({
    description:
      "Orders whose authority or block jurisdictions lie inside this jurisdiction (or contain it).",
  }),
  meetingId: z.string().max(128).optional().meta({ description: "Orders naming this meeting." }),
  accountId: z.string().max(128).optional().meta({ description: "Orders naming this account." }),
  q: z.string().max(200).optional().meta({ description: "Case-insensitive text search in the reference." }),
});

const listRoute = (s: Services) =>
  createRoute({
    method: "get",
    path: "/v1/orders",
    tags: ["response-team"],
    summary: "List orders",
    security: bearer,
    middleware: [requireRole(s.auth, "readOrders")] as const,
    request: { query: ListQuery },
    responses: {
      200: json(
        z.object({ orders: z.array(Order) }).meta({ id: "OrderList" }),
        "Matching orders, oldest first.",
      ),
      ...errors(400, 401, 403),
    },
  });

const getRoute = (s: Services) =>
  createRoute({
    method: "get",
    path: "/v1/orders/{id}",
    tags: ["response-team"],
    summary: "Read one order",
    security: bearer,
    middleware: [requireRole(s.auth, "readOrders")] as const,
    request: { params: OrderIdParam },
    responses: { 200: json(Order, "The order."), ...errors(401, 403, 404) },
  });

export function registerOrderReads(app: App, s: Services): void {
  app.openapi(listRoute(s), async (c) => {
    const query = c.req.valid("query");
    const now = s.clock();
    const needle = query.q?.toLowerCase();
    const orders = (await s.store.listOrders())
      .map((o) => withEnforcement(o, now))
      .filter(
        (o) =>
          (!query.status || o.status === query.status) &&
          (!query.enforcement || o.enforcement === query.enforcement) &&
          (!query.jurisdiction || touches(o, query.jurisdiction)) &&
          (!query.meetingId ||
            (o.target.kind === "meeting" && o.target.meetingIds.includes(query.meetingId))) &&
          (!query.accountId ||
            (o.target.kind === "account" && o.target.accountIds.includes(query.accountId))) &&
          (!needle || o.reference.toLowerCase().includes(needle)),
      );
    return c.json({ orders }, 200);
  });
  app.openapi(getRoute(s), async (c) => {
    const { id } = c.req.valid("param");
    const order = await s.store.getOrder(id);
    if (!order) throw new ApiError("NOT_FOUND", `no order ${id}`);
    return c.json(withEnforcement(order, s.clock()), 200);
  });
}

/** An order touches a jurisdiction when its authority or a block lies inside it, or contains it. */
function touches(order: Order, j: string): boolean {
  const codes = [order.authority.jurisdiction, ...order.jurisdictions];
  return codes.some((code) => contains(j, code) || contains(code, j));
}
