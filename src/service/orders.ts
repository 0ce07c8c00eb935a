/**
 * Order changes outside HTTP: each goes through the store's serialised `applyChange` (order and audit
 * entry in one write), then the ruleset is recompiled so the change is enforced (or lifted) at once.
 * Amendments too: an approved amendment of an approved order takes effect on that recompile.
 */
import {
  type Amendment,
  type AmendmentChanges,
  type AmendmentDecision,
  assertReceived,
  contains,
  createOrder,
  decideAmendment,
  type Order,
  type OrderInput,
  type OrderStep,
  proposeAmendment,
  transition,
  withEnforcement,
} from "../engine/index.js";
import { CordonError, NotFoundError } from "../kernel/errors.js";
import type { Clock, NewId } from "../kernel/runtime.js";
import type { RulesetCompiler } from "../rulesets/compiler.js";
import type { OrderStore } from "../store/interface.js";
import { instruments } from "../telemetry/index.js";
import type { ReportService } from "./reports.js";

export interface OrderDeps {
  orders: Pick<OrderStore, "applyChange" | "getOrder">;
  compiler: Pick<RulesetCompiler, "refresh">;
  clock: Clock;
  newId: NewId;
  /** Which periods are finalized (I9); absent where none can be (the offline CLI). */
  reports?: Pick<ReportService, "isFinalized">;
}

export async function submitOrder(deps: OrderDeps, input: OrderInput, actor: string): Promise<Order> {
  const now = deps.clock();
  const at = new Date(now).toISOString();
  const id = `ord_${deps.newId().replaceAll("-", "").slice(0, 20)}`;
  assertReceived(input, at);
  const order = createOrder(input, { id, actor, at });
  const entry = await deps.orders.applyChange(id, "create", actor, at, (current) => {
    if (current) throw new Error(`order id collision: ${id}`);
    return order;
  });
  instruments.orderChanges.add(1, { action: "create" });
  await deps.compiler.refresh();
  return withEnforcement(entry.order, now);
}

export async function changeOrder(
  deps: OrderDeps,
  id: string,
  action: OrderStep,
  actor: string,
): Promise<Order> {
  const now = deps.clock();
  const at = new Date(now).toISOString();
  const frozen = action.type === "approve" ? await finalizedImportedApproval(deps, id) : undefined;
  const entry = await deps.orders.applyChange(id, action.type, actor, at, (current) => {
    if (!current) throw new NotFoundError(`no order ${id}`);
    if (frozen !== undefined && current.importedApproval?.at === frozen) {
      throw new CordonError(
        "ILLEGAL_TRANSITION",
        `this imported order's approval (${frozen.slice(0, 10)}) lies in a finalized period, whose published report can no longer count it (I9); reject it, and enter the order anew if it is to be enforced`,
      );
    }
    return transition(current, action, actor, at);
  });
  instruments.orderChanges.add(1, { action: action.type });
  await deps.compiler.refresh();
  return withEnforcement(entry.order, now);
}

/**
 * An imported approval is confirmed with its historical date, so the report counts it in that period:
 * once the period is finalized it would be counted nowhere. The instant, when that is the case.
 */
async function finalizedImportedApproval(deps: OrderDeps, id: string): Promise<string | undefined> {
  const stated = (await deps.orders.getOrder(id))?.importedApproval?.at;
  return stated !== undefined && (await deps.reports?.isFinalized(stated)) ? stated : undefined;
}

/** Proposes an amendment to an order; resolves with the amendment, `pending`. */
export async function amendOrder(
  deps: OrderDeps,
  id: string,
  proposal: { changes: AmendmentChanges; reason: string },
  actor: string,
): Promise<Amendment> {
  const now = deps.clock();
  const at = new Date(now).toISOString();
  const entry = await deps.orders.applyChange(id, "propose_amendment", actor, at, (current) => {
    if (!current) throw new NotFoundError(`no order ${id}`);
    return proposeAmendment(current, proposal, actor, at);
  });
  instruments.orderChanges.add(1, { action: "propose_amendment" });
  // The version follows the store's seq; the ruleset's content is unchanged until a decision.
  await deps.compiler.refresh();
  return entry.order.amendmentLog?.at(-1) as Amendment;
}

/** Approves or rejects an amendment; resolves with the amendment and the order after it. */
export async function decideOnAmendment(
  deps: OrderDeps,
  id: string,
  amendmentId: string,
  decision: AmendmentDecision,
  actor: string,
): Promise<{ amendment: Amendment; order: Order }> {
  const now = deps.clock();
  const at = new Date(now).toISOString();
  const action = decision.type === "approve" ? "approve_amendment" : "reject_amendment";
  const entry = await deps.orders.applyChange(id, action, actor, at, (current) => {
    if (!current) throw new NotFoundError(`no order ${id}`);
    return decideAmendment(current, amendmentId, decision, actor, at);
  });
  instruments.orderChanges.add(1, { action });
  await deps.compiler.refresh();
  const amendment = entry.order.amendmentLog?.find((a) => a.id === amendmentId) as Amendment;
  return { amendment, order: withEnforcement(entry.order, now) };
}

export interface OrderFilter {
  status?: Order["status"] | undefined;
  enforcement?: Order["enforcement"] | undefined;
  /** Orders whose authority or a block lies inside this jurisdiction, or contains it. */
  jurisdiction?: string | undefined;
  meetingId?: string | undefined;
  accountId?: string | undefined;
  /** Case-insensitive text in the reference. */
  q?: string | undefined;
}

/** The order list as the API and the console show it: enforcement computed at `now`, then filtered. */
export function filterOrders(orders: readonly Order[], filter: OrderFilter, now: number): Order[] {
  const needle = filter.q?.toLowerCase();
  return orders
    .map((o) => withEnforcement(o, now))
    .filter(
      (o) =>
        (!filter.status || o.status === filter.status) &&
        (!filter.enforcement || o.enforcement === filter.enforcement) &&
        (!filter.jurisdiction || touches(o, filter.jurisdiction)) &&
        (!filter.meetingId ||
          (o.target.kind === "meeting" && o.target.meetingIds.includes(filter.meetingId))) &&
        (!filter.accountId ||
          (o.target.kind === "account" && o.target.accountIds.includes(filter.accountId))) &&
        (!needle || o.reference.toLowerCase().includes(needle)),
    );
}

/** An order touches a jurisdiction when its authority or a block lies inside it, or contains it. */
function touches(order: Order, j: string): boolean {
  return [order.authority.jurisdiction, ...order.jurisdictions].some(
    (code) => contains(j, code) || contains(code, j),
  );
}
