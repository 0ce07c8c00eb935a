/**
 * When an order counts in the report, and as what (DESIGN.md "Report"). An order is completed when it is
 * approved, rejected, or withdrawn while still pending; it counts in the period that holds that instant.
 * Pure.
 */
import type { Order } from "../engine/index.js";
import type { Outcome } from "./model.js";

export interface Completion {
  outcome: Outcome;
  /** The instant of completion, as stored on the order (RFC 3339; compare with `Date.parse`). */
  at: string;
}

/**
 * - approved: `complied` at `decidedAt`;
 * - withdrawn after approval: still `complied` at `decidedAt`: the authority lifting its own order later
 *   does not undo the platform's compliance, and the count of a closed period must not change;
 * - rejected: `rejected` at `decidedAt`;
 * - withdrawn while pending (no decision): `withdrawn` at `withdrawnAt`;
 * - pending: not completed (undefined).
 * The life cycle allows withdrawal only from pending or approved, so a withdrawn order with a `decidedAt`
 * was approved. An order missing the instant its status implies is treated as not completed.
 */
export function completion(
  order: Pick<Order, "status" | "decidedAt" | "withdrawnAt">,
): Completion | undefined {
  switch (order.status) {
    case "pending":
      return undefined;
    case "approved":
      return order.decidedAt === undefined ? undefined : { outcome: "complied", at: order.decidedAt };
    case "rejected":
      return order.decidedAt === undefined ? undefined : { outcome: "rejected", at: order.decidedAt };
    case "withdrawn":
      if (order.decidedAt !== undefined) return { outcome: "complied", at: order.decidedAt };
      return order.withdrawnAt === undefined ? undefined : { outcome: "withdrawn", at: order.withdrawnAt };
  }
}
