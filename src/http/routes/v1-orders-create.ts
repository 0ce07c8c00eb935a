/** POST /v1/orders: the response team enters an order; it waits as `pending` for a second person. */
import { Order, OrderInput } from "../../engine/index.js";
import { submitOrder } from "../../service/orders.js";
import { errors, json, jsonBody } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";
import { shownOrder } from "./v1-orders-transition.js";

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "createOrder", {
    method: "post",
    path: "/v1/orders",
    tags: ["response-team"],
    operationId: "createOrder",
    summary: "Enter an access-denial order",
    description:
      "Validates the order (ISO 3166 codes; every block jurisdiction inside the authority's: I1) and stores it as `pending` with its audit entry. Blocks are stored as location sources report the place (`FR-971` as `GP`). 422 `SEPARATE_LEGAL_ORDER` for a state's block on a territory with its own legal order (`CN-HK` by a `CN` authority), 422 `UNLOCATABLE_JURISDICTION` for a block no source can report (`NO-21`). Accepted with `warnings` when the location source is too coarse for a block (`NEEDS_CITY_DATABASE`).",
    request: { body: jsonBody(OrderInput, "The order as received from the authority.") },
    responses: {
      201: json(Order, "The stored order, status `pending`."),
      ...errors(400, 413, 415, 422),
    },
  });

export function registerCreateOrder(app: App, s: ServerServices): void {
  app.openapi(route(s), async (c) => {
    const order = await submitOrder(s, c.req.valid("json"), c.get("principal").name);
    return c.json(shownOrder(order, s), 201);
  });
}
