/**
 * POST /v1/orders/{id}/approve | reject | withdraw: the order's life cycle. Approve and reject need a
 * second person (403 FOUR_EYES for the creator); an illegal transition is 409.
 */
import { Order, type OrderAction } from "../../engine/index.js";
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

const ApproveBody = z
  .strictObject({ note: z.string().trim().max(2000).optional() })
  .meta({ id: "ApproveRequest" });
const RejectBody = z
  .strictObject({ reason: z.string().trim().min(1, "say why the order is rejected").max(2000) })
  .meta({ id: "RejectRequest" });
const WithdrawBody = z
  .strictObject({ reason: z.string().trim().max(2000).optional() })
  .meta({ id: "WithdrawRequest" });

function transitionRoute<T extends z.ZodType>(
  action: OrderAction["type"],
  body: T,
  bodyRequired: boolean,
  summary: string,
  description: string,
  access: Access,
  s: ServerServices,
) {
  return guardedRoute(s.auth, access, {
    method: "post",
    path: `/v1/orders/{id}/${action}`,
    tags: ["response-team"],
    summary,
    description,
    request: { params: OrderIdParam, body: jsonBody(body, `The ${action} details.`, bodyRequired) },
    responses: {
      200: json(Order, "The order after the change."),
      ...errors(400, 404, 409, 413, 415),
    },
  });
}

export function registerOrderTransitions(app: App, s: ServerServices): void {
  app.openapi(
    transitionRoute(
      "approve",
      ApproveBody,
      false,
      "Approve a pending order",
      "A second person approves: the creator gets 403 FOUR_EYES. Enforcement starts at `effectiveFrom`, or now.",
      "decideOrder",
      s,
    ),
    async (c) => {
      const { note } = c.req.valid("json") ?? {};
      const order = await changeOrder(
        s,
        c.req.valid("param").id,
        { type: "approve", ...(note ? { note } : {}) },
        c.get("principal").name,
      );
      return c.json(order, 200);
    },
  );
  app.openapi(
    transitionRoute(
      "reject",
      RejectBody,
      true,
      "Reject a pending order",
      "A second person rejects, with a reason: the creator gets 403 FOUR_EYES.",
      "decideOrder",
      s,
    ),
    async (c) => {
      const { reason } = c.req.valid("json");
      const order = await changeOrder(
        s,
        c.req.valid("param").id,
        { type: "reject", reason },
        c.get("principal").name,
      );
      return c.json(order, 200);
    },
  );
  app.openapi(
    transitionRoute(
      "withdraw",
      WithdrawBody,
      false,
      "Withdraw an order",
      "The authority withdrew it: from pending or approved; the block is lifted at once.",
      "withdrawOrder",
      s,
    ),
    async (c) => {
      const { reason } = c.req.valid("json") ?? {};
      const order = await changeOrder(
        s,
        c.req.valid("param").id,
        { type: "withdraw", ...(reason ? { reason } : {}) },
        c.get("principal").name,
      );
      return c.json(order, 200);
    },
  );
}
