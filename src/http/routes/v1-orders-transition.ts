/**
 * POST /v1/orders/{id}/approve | reject | withdraw: the order's life cycle. Approve and reject need a
 * second person (403 FOUR_EYES for the creator); an illegal transition is 409.
 */
import {
  ApproveRequest,
  Order,
  type OrderStep,
  RejectRequest,
  WithdrawRequest,
  withWarnings,
} from "../../engine/index.js";
import { geoPrecision } from "../../geo/interface.js";
import type { Access } from "../../kernel/roles.js";
import { changeOrder } from "../../service/orders.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

export const OrderIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .meta({ param: { name: "id", in: "path" }, example: "ord_0b1c2d3e4f5a6b7c8d9e" }),
});

/** One life-cycle step as the API offers it: its body, who may take it, and the engine action it asks for. */
interface Transition<T extends z.ZodType> {
  action: OrderStep["type"];
  body: T;
  bodyRequired: boolean;
  operationId: string;
  summary: string;
  description: string;
  access: Access;
  toAction: (body: z.output<T> | undefined) => OrderStep;
}

const TRANSITIONS = [
  transition({
    action: "approve",
    operationId: "approveOrder",
    body: ApproveRequest,
    bodyRequired: false,
    summary: "Approve a pending order",
    description:
      "A second person approves: the creator gets 403 FOUR_EYES. Enforcement starts at `effectiveFrom`, or now.",
    access: "decideOrder",
    toAction: (body) => ({ type: "approve", ...(body?.note ? { note: body.note } : {}) }),
  }),
  transition({
    action: "reject",
    operationId: "rejectOrder",
    body: RejectRequest,
    bodyRequired: true,
    summary: "Reject a pending order",
    description:
      "A second person rejects, with a reason and a reason code (default `other`): the creator and the importer get 403 FOUR_EYES.",
    access: "decideOrder",
    toAction: (body) => ({
      type: "reject",
      reason: body?.reason ?? "",
      ...(body?.reasonCode ? { reasonCode: body.reasonCode } : {}),
    }),
  }),
  transition({
    action: "withdraw",
    operationId: "withdrawOrder",
    body: WithdrawRequest,
    bodyRequired: false,
    summary: "Withdraw an order",
    description: "The authority withdrew it: from pending or approved; the block is lifted at once.",
    access: "withdrawOrder",
    toAction: (body) => ({ type: "withdraw", ...(body?.reason ? { reason: body.reason } : {}) }),
  }),
];

/** Binds a transition's body schema to its action mapping (the table above holds several schemas). */
function transition<T extends z.ZodType>(t: Transition<T>) {
  return (app: App, s: ServerServices) => {
    const route = guardedRoute(s.auth, t.access, {
      method: "post",
      path: `/v1/orders/{id}/${t.action}`,
      tags: ["response-team"],
      operationId: t.operationId,
      summary: t.summary,
      description: t.description,
      request: {
        params: OrderIdParam,
        body: jsonBody(t.body as z.ZodType, `The ${t.action} details.`, t.bodyRequired),
      },
      responses: {
        200: json(Order, "The order after the change."),
        ...errors(400, 404, 409, 413, 415),
      },
    });
    app.openapi(route, async (c) => {
      const body = c.req.valid("json") as z.output<T> | undefined;
      const order = await changeOrder(s, c.req.valid("param").id, t.toAction(body), c.get("principal").name);
      return c.json(shownOrder(order, s), 200);
    });
  };
}

export function registerOrderTransitions(app: App, s: ServerServices): void {
  for (const register of TRANSITIONS) register(app, s);
}

/**
 * An order as the API answers it: with the warnings it earns against the location source configured
 * now (a subdivision block with a Country database will not deny anyone: NEEDS_CITY_DATABASE).
 */
export function shownOrder(order: Order, s: Pick<ServerServices, "geo">): Order {
  return withWarnings(order, geoPrecision(s.geo));
}
