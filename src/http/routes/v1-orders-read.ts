/** GET /v1/orders and GET /v1/orders/{id}: the response team's, approvers' and auditors' view of orders. */
import { Enforcement, Jurisdiction, Order, OrderStatus, withEnforcement } from "../../engine/index.js";
import { CordonError } from "../../kernel/errors.js";
import { filterOrders } from "../../service/orders.js";
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";
import { OrderIdParam, shownOrder } from "./v1-orders-transition.js";

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

const listRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "readOrders", {
    method: "get",
    path: "/v1/orders",
    tags: ["response-team"],
    operationId: "listOrders",
    summary: "List orders",
    request: { query: ListQuery },
    responses: {
      200: json(
        z.object({ orders: z.array(Order) }).meta({ id: "OrderList" }),
        "Matching orders, oldest first.",
      ),
      ...errors(400),
    },
  });

const getRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "readOrders", {
    method: "get",
    path: "/v1/orders/{id}",
    tags: ["response-team"],
    operationId: "getOrder",
    summary: "Read one order",
    request: { params: OrderIdParam },
    responses: { 200: json(Order, "The order."), ...errors(404) },
  });

export function registerOrderReads(app: App, s: ServerServices): void {
  app.openapi(listRoute(s), async (c) => {
    const orders = filterOrders(await s.orders.listOrders(), c.req.valid("query"), s.clock());
    return c.json({ orders: orders.map((o) => shownOrder(o, s)) }, 200);
  });
  app.openapi(getRoute(s), async (c) => {
    const { id } = c.req.valid("param");
    const order = await s.orders.getOrder(id);
    if (!order) throw new CordonError("NOT_FOUND", `no order ${id}`);
    return c.json(shownOrder(withEnforcement(order, s.clock()), s), 200);
  });
}
