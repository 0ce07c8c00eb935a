/**
 * When an order counts in the report, and as what (DESIGN.md "Report"). An order is completed when it is
 * approved, rejected, or withdrawn while still pending; it counts in the period that holds that instant.
 * Pure.
 */
import { grantedLessThanRequested, type Order } from "../engine/index.js";
import type { Outcome, ReasonCode } from "./model.js";

export interface Completion {
  outcome: Outcome;
  /** The instant of completion, as stored on the order (RFC 3339; compare with `Date.parse`). */
  at: string;
  /** For `rejected`: why (`other` when the order does not say). */
  reasonCode?: ReasonCode;
}

/**
 * - approved in shadow mode: `shadow` at `decidedAt` (observed only, never enforced: not compliance);
 * - approved: `complied` at `decidedAt`, or `partially_complied` when granted for less than was
 *   requested (the current order, amendments included: an amended order is one request);
 * - withdrawn after approval: still `complied` (or `partially_complied`) at `decidedAt`: the authority
 *   lifting its own order later does not undo the platform's compliance, and the count of a closed period
 *   must not change;
 * - rejected: `rejected` at `decidedAt`, with its reason code;
 * - withdrawn while pending (no decision): `withdrawn` at `withdrawnAt`;
 * - pending: not completed (undefined).
 * The life cycle allows withdrawal only from pending or approved, so a withdrawn order with a `decidedAt`
 * was approved. An order missing the instant its status implies is treated as not completed.
 */
export function completion(
  order: Pick<Order, "status" | "decidedAt" | "withdrawnAt" | "reasonCode"> &
    Partial<Pick<Order, "jurisdictions" | "target" | "requested" | "mode">>,
): Completion | undefined {
  const approved = (at: string): Completion => ({
    outcome: order.mode === "shadow" ? "shadow" : grantedLess(order) ? "partially_complied" : "complied",
    at,
  });
  switch (order.status) {
    case "pending":
      return undefined;
    case "approved":
      return order.decidedAt === undefined ? undefined : approved(order.decidedAt);
    case "rejected":
      return order.decidedAt === undefined
        ? undefined
        : { outcome: "rejected", at: order.decidedAt, reasonCode: order.reasonCode ?? "other" };
    case "withdrawn":
      if (order.decidedAt !== undefined) return approved(order.decidedAt);
      return order.withdrawnAt === undefined ? undefined : { outcome: "withdrawn", at: order.withdrawnAt };
  }
}

function grantedLess(order: Partial<Pick<Order, "jurisdictions" | "target" | "requested">>): boolean {
  const { jurisdictions, target, requested } = order;
  return (
    jurisdictions !== undefined &&
    target !== undefined &&
    grantedLessThanRequested({ jurisdictions, target, requested })
  );
}
