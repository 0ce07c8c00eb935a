/**
 * /v1/orders/{id}/amendments: propose a change to an order (responder), list them, and approve or reject
 * one (approver; 403 FOUR_EYES for its proposer, 409 unless it is pending). On approval the order keeps
 * its id and takes the changes; the ruleset is recompiled, so an approved order's new scope is in force.
 */
import {
  Amendment,
  AmendmentRequest,
  ApproveAmendmentRequest,
  amendmentsOf,
  Order,
  RejectAmendmentRequest,
} from "../../engine/index.js";
import { NotFoundError } from "../../kernel/errors.js";
import { amendOrder, decideOnAmendment } from "../../service/orders.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";
import { OrderIdParam } from "./v1-orders-transition.js";

const AmendmentParams = OrderIdParam.extend({
  aid: z
    .string()
    .min(1)
    .max(64)
    .meta({ param: { name: "aid", in: "path" }, example: "amd_1" }),
});

const AmendmentOutcome = z
  .object({ amendment: Amendment, order: Order })
  .meta({ id: "AmendmentOutcome", description: "The decided amendment and the order after it." });

const proposeRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "amendOrder", {
    method: "post",
    path: "/v1/orders/{id}/amendments",
    tags: ["response-team"],
    operationId: "proposeAmendment",
    summary: "Propose an amendment to an order",
    description:
      "On a pending or approved order, one pending amendment at a time (else 409). The changes are validated as the whole amended order would be (400 naming the field, 422 for I1). A second person approves or rejects it.",
    request: { params: OrderIdParam, body: jsonBody(AmendmentRequest, "The changes and why.") },
    responses: {
      201: json(Amendment, "The amendment, `pending`."),
      ...errors(400, 404, 409, 413, 415, 422),
    },
  });

const listRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "readOrders", {
    method: "get",
    path: "/v1/orders/{id}/amendments",
    tags: ["response-team"],
    operationId: "listAmendments",
    summary: "An order's amendments",
    request: { params: OrderIdParam },
    responses: {
      200: json(z.object({ amendments: z.array(Amendment) }).meta({ id: "AmendmentList" }), "Oldest first."),
      ...errors(404),
    },
  });

const approveRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "decideAmendment", {
    method: "post",
    path: "/v1/orders/{id}/amendments/{aid}/approve",
    tags: ["response-team"],
    operationId: "approveAmendment",
    summary: "Approve an amendment",
    description:
      "A second person approves: its proposer gets 403 FOUR_EYES. The order takes the changes (validated again), keeping its id; an approved order's new scope takes effect at once.",
    request: {
      params: AmendmentParams,
      body: jsonBody(ApproveAmendmentRequest, "An optional note.", false),
    },
    responses: {
      200: json(AmendmentOutcome, "The amendment, `approved`, and the amended order."),
      ...errors(400, 404, 409, 413, 415, 422),
    },
  });

const rejectRoute = (s: ServerServices) =>
  guardedRoute(s.auth, "decideAmendment", {
    method: "post",
    path: "/v1/orders/{id}/amendments/{aid}/reject",
    tags: ["response-team"],
    operationId: "rejectAmendment",
    summary: "Reject an amendment",
    description:
      "A second person rejects, with a reason: its proposer gets 403 FOUR_EYES. The order is unchanged.",
    request: { params: AmendmentParams, body: jsonBody(RejectAmendmentRequest, "Why.") },
    responses: {
      200: json(AmendmentOutcome, "The amendment, `rejected`, and the order, unchanged."),
      ...errors(400, 404, 409, 413, 415),
    },
  });

export function registerOrderAmendments(app: App, s: ServerServices): void {
  app.openapi(proposeRoute(s), async (c) => {
    const amendment = await amendOrder(
      s,
      c.req.valid("param").id,
      c.req.valid("json"),
      c.get("principal").name,
    );
    return c.json(amendment, 201);
  });
  app.openapi(listRoute(s), async (c) => {
    const { id } = c.req.valid("param");
    const order = await s.orders.getOrder(id);
    if (!order) throw new NotFoundError(`no order ${id}`);
    return c.json({ amendments: amendmentsOf(order) }, 200);
  });
  app.openapi(approveRoute(s), async (c) => {
    const { id, aid } = c.req.valid("param");
    const note = c.req.valid("json")?.note;
    const decided = await decideOnAmendment(
      s,
      id,
      aid,
      { type: "approve", ...(note ? { note } : {}) },
      c.get("principal").name,
    );
    return c.json(decided, 200);
  });
  app.openapi(rejectRoute(s), async (c) => {
    const { id, aid } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const decided = await decideOnAmendment(s, id, aid, { type: "reject", reason }, c.get("principal").name);
    return c.json(decided, 200);
  });
}
