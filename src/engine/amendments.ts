/**
 * Amendments: a change to an order's input fields, proposed by one person and approved or rejected by
 * another (I7). Pure functions from an order to the next order, like `transition`; the amendments live
 * in the order's `amendmentLog`, so each step is one store write with its audit entry.
 *
 * Rules: an amendment is proposed on a pending or approved order, one pending at a time; its changes
 * are judged as the whole amended order would be (the schema, I1, I10, `receivedAt` not in the future),
 * when proposed and again when approved; its approver or rejecter differs from its proposer. On
 * approval the order keeps its id and status and takes the changes (its decision, and so the period the
 * report counts it in, stay). A withdrawal or rejection of the order lapses a pending amendment
 * (`transition`).
 */
import { NotFoundError } from "../kernel/errors.js";
import { samePrincipal } from "../kernel/roles.js";
import { normaliseBlocks } from "./jurisdiction.js";
import { assertInsideAuthority, assertReceived, OrderRuleError } from "./orders.js";
import {
  type Amendment,
  type AmendmentChanges,
  type Order,
  OrderInput,
  OrderInputFields,
  type RequestedScope,
} from "./schemas.js";

export type AmendmentDecision = { type: "approve"; note?: string } | { type: "reject"; reason: string };

const INPUT_KEYS = Object.keys(OrderInputFields) as (keyof typeof OrderInputFields)[];

/** Records a proposal on the order; throws `OrderRuleError` (or a 400 naming the field) when it cannot be. */
export function proposeAmendment(
  order: Order,
  proposal: { changes: AmendmentChanges; reason: string },
  actor: string,
  at: string,
): Order {
  if (order.status !== "pending" && order.status !== "approved") {
    throw new OrderRuleError(
      "ILLEGAL_TRANSITION",
      `cannot amend an order that is ${order.status}; allowed from: pending, approved`,
      { status: order.status },
    );
  }
  const log = order.amendmentLog ?? [];
  const open = log.find((a) => a.status === "pending");
  if (open) {
    throw new OrderRuleError(
      "ILLEGAL_TRANSITION",
      `amendment ${open.id} is pending: approve or reject it before proposing another`,
      { amendmentId: open.id },
    );
  }
  amendedFields(order, proposal.changes, at);
  const amendment: Amendment = {
    id: `amd_${log.length + 1}`,
    orderId: order.id,
    status: "pending",
    changes: proposal.changes,
    reason: proposal.reason,
    proposedBy: actor,
    proposedAt: at,
  };
  return { ...order, amendmentLog: [...log, amendment] };
}

/** Approves (the order takes the changes) or rejects a pending amendment. */
export function decideAmendment(
  order: Order,
  amendmentId: string,
  decision: AmendmentDecision,
  actor: string,
  at: string,
): Order {
  const log = order.amendmentLog ?? [];
  const amendment = log.find((a) => a.id === amendmentId);
  if (!amendment) throw new NotFoundError(`no amendment ${amendmentId} on order ${order.id}`);
  if (amendment.status !== "pending") {
    throw new OrderRuleError(
      "ILLEGAL_TRANSITION",
      `cannot ${decision.type} an amendment that is ${amendment.status}; allowed from: pending`,
      { status: amendment.status },
    );
  }
  if (samePrincipal(actor, amendment.proposedBy)) {
    throw new OrderRuleError(
      "FOUR_EYES",
      `${actor} proposed this amendment and cannot also ${decision.type} it`,
    );
  }
  const decided: Amendment =
    decision.type === "approve"
      ? {
          ...amendment,
          status: "approved",
          decidedBy: actor,
          decidedAt: at,
          ...(decision.note ? { note: decision.note } : {}),
        }
      : {
          ...amendment,
          status: "rejected",
          decidedBy: actor,
          decidedAt: at,
          rejectionReason: decision.reason,
        };
  const amendmentLog = log.map((a) => (a.id === amendmentId ? decided : a));
  if (decision.type === "reject") return { ...order, amendmentLog };
  // Judged again: the rules (or the clock, for receivedAt) may say otherwise than at the proposal.
  const fields = amendedFields(order, amendment.changes, at);
  const kept = Object.fromEntries(
    Object.entries(order).filter(([key]) => !(INPUT_KEYS as string[]).includes(key)),
  ) as Omit<Order, keyof OrderInput>;
  return { ...kept, ...fields, amendmentLog };
}

/** The order's amendments as the API lists them, oldest first. */
export function amendmentsOf(order: Order): Amendment[] {
  return [...(order.amendmentLog ?? [])];
}

/**
 * The order's input fields with the changes applied, validated as a new order's would be. The request
 * is recorded as it stood (the granted scope, for an order from before requests were recorded) unless
 * the changes name it; `requested: null` makes it the amended granted scope.
 */
function amendedFields(
  order: Order,
  changes: AmendmentChanges,
  at: string,
): OrderInput & { requested: Required<RequestedScope> } {
  const candidate: Record<string, unknown> = {};
  for (const key of INPUT_KEYS) if (order[key] !== undefined) candidate[key] = order[key];
  candidate.requested ??= { jurisdictions: order.jurisdictions, target: order.target };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete candidate[key];
    else if (value !== undefined) candidate[key] = value;
  }
  const parsed = OrderInput.safeParse(candidate);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: ["changes", ...issue.path.map(String)].join("."),
      message: issue.message,
    }));
    throw new OrderRuleError(
      "BAD_REQUEST",
      `the amended order would not be valid: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      {},
      issues,
    );
  }
  const input = parsed.data;
  assertInsideAuthority(input);
  assertReceived(input, at);
  return {
    ...input,
    jurisdictions: normaliseBlocks(input.jurisdictions),
    requested: {
      jurisdictions: input.requested?.jurisdictions ?? input.jurisdictions,
      target: input.requested?.target ?? input.target,
    },
  };
}
