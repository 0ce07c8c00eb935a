/**
 * The order life cycle: pending -> approved | rejected; pending | approved -> withdrawn.
 * Pure functions from (order, action, actor, time) to the next order, or an `OrderRuleError`.
 * Four eyes (I7): the approver or rejecter differs from the creator and from whoever imported the order,
 * principal names compared case-insensitively (`samePrincipal`). An imported order whose historical
 * approval would have put a block in force waits, pending, with that approval in `importedApproval`; a
 * live approval confirms it (`confirmation`) and keeps its historical `decidedBy`/`decidedAt`, so the
 * report still counts it where it was decided.
 */
import { CordonError, type Issue } from "../kernel/errors.js";
import { samePrincipal } from "../kernel/roles.js";
import { contains, normaliseBlocks } from "./jurisdiction.js";
import {
  blockProblems,
  type Enforcement,
  type GeoPrecision,
  type Order,
  type OrderInput,
  precisionWarnings,
  type ReasonCode,
} from "./schemas.js";

export type OrderRuleCode =
  | "BAD_REQUEST"
  | "FOUR_EYES"
  | "ILLEGAL_TRANSITION"
  | "JURISDICTION_OUTSIDE_AUTHORITY"
  | "SEPARATE_LEGAL_ORDER"
  | "UNLOCATABLE_JURISDICTION";

/** An order rule broken (I1, I7, I10, the life cycle): a `CordonError` with one of the codes above. */
export class OrderRuleError extends CordonError {
  override readonly name = "OrderRuleError";
  declare readonly code: OrderRuleCode;
  constructor(
    code: OrderRuleCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    issues?: Issue[],
  ) {
    // An order outside the authority's jurisdiction is an input error on one field: say which.
    super(
      code,
      message,
      issues ?? (JURISDICTION_CODES.has(code) ? [{ path: "jurisdictions", message }] : undefined),
    );
  }
}

const JURISDICTION_CODES: ReadonlySet<OrderRuleCode> = new Set([
  "JURISDICTION_OUTSIDE_AUTHORITY",
  "SEPARATE_LEGAL_ORDER",
  "UNLOCATABLE_JURISDICTION",
]);

export type OrderStep =
  | { type: "approve"; note?: string }
  | { type: "reject"; reason: string; reasonCode?: ReasonCode }
  | { type: "withdraw"; reason?: string };

/**
 * Builds a new pending order, enforcing I1 at entry. What the authority asked for is recorded as given,
 * or as the granted scope when not given (I10), so a later narrowing shows as granted for less. Live
 * entries also pass `assertReceived` (the import judges its history against its own clock).
 */
export function createOrder(input: OrderInput, meta: { id: string; actor: string; at: string }): Order {
  assertInsideAuthority(input);
  return {
    ...input,
    // Stored as sources report them (`FR-971` as `GP`), so the block matches; `requested` stays verbatim.
    jurisdictions: normaliseBlocks(input.jurisdictions),
    requested: {
      jurisdictions: [...(input.requested?.jurisdictions ?? input.jurisdictions)],
      target: input.requested?.target ?? input.target,
    },
    id: meta.id,
    status: "pending",
    enforcement: "none",
    createdBy: meta.actor,
    createdAt: meta.at,
  };
}

/**
 * I1 at entry, for a new order or an amended one, by the reviewed table. One code per answer: a
 * territory's own legal order first, then outside the authority, then unlocatable; `details` lists all.
 */
export function assertInsideAuthority(input: Pick<OrderInput, "authority" | "jurisdictions">): void {
  const problems = blockProblems(input);
  if (problems.length === 0) return;
  const order: OrderRuleCode[] = [
    "SEPARATE_LEGAL_ORDER",
    "JURISDICTION_OUTSIDE_AUTHORITY",
    "UNLOCATABLE_JURISDICTION",
  ];
  const code = order.find((c) => problems.some((p) => p.code === c)) ?? "JURISDICTION_OUTSIDE_AUTHORITY";
  const mine = problems.filter((p) => p.code === code);
  const codes = mine.map((p) => p.jurisdiction);
  const message =
    code === "JURISDICTION_OUTSIDE_AUTHORITY"
      ? `${codes.join(", ")} ${codes.length === 1 ? "is" : "are"} not inside the authority's jurisdiction ${input.authority.jurisdiction}`
      : mine.map((p) => p.message).join("; ");
  throw new OrderRuleError(code, message, {
    jurisdictions: codes,
    authority: input.authority.jurisdiction,
    problems,
  });
}

/** An order cannot have been received after the moment it is entered or amended (`at`). */
export function assertReceived(input: Pick<OrderInput, "receivedAt">, at: string): void {
  if (Date.parse(input.receivedAt) > Date.parse(at)) {
    const message = `is in the future (now: ${at})`;
    throw new OrderRuleError("BAD_REQUEST", `receivedAt: ${message}`, {}, [{ path: "receivedAt", message }]);
  }
}

/**
 * I10: the order grants less than the authority asked: a requested jurisdiction not wholly inside a
 * granted block, or a requested meeting or account not granted. An order stored before requests were
 * recorded (no `requested`) was granted as asked.
 */
export function grantedLessThanRequested(
  order: Pick<Order, "jurisdictions" | "target" | "requested">,
): boolean {
  const asked = order.requested;
  if (asked === undefined) return false;
  if (!asked.jurisdictions.every((r) => order.jurisdictions.some((g) => contains(g, r)))) return true;
  const ids = (t: Order["target"]) => (t.kind === "meeting" ? t.meetingIds : t.accountIds);
  const granted = new Set(ids(order.target));
  return asked.target.kind !== order.target.kind || ids(asked.target).some((id) => !granted.has(id));
}

const ALLOWED: Record<OrderStep["type"], readonly Order["status"][]> = {
  approve: ["pending"],
  reject: ["pending"],
  withdraw: ["pending", "approved"],
};

/** Applies an action; throws `OrderRuleError` for an illegal transition or a four-eyes breach. */
export function transition(order: Order, action: OrderStep, actor: string, at: string): Order {
  if (!ALLOWED[action.type].includes(order.status)) {
    throw new OrderRuleError(
      "ILLEGAL_TRANSITION",
      `cannot ${action.type} an order that is ${order.status}; allowed from: ${ALLOWED[action.type].join(", ")}`,
      { status: order.status },
    );
  }
  switch (action.type) {
    case "approve":
    case "reject":
      assertFourEyes(order, actor, action.type);
      if (action.type === "reject") {
        return {
          ...order,
          ...lapsePending(order, at),
          status: "rejected",
          decidedBy: actor,
          decidedAt: at,
          reason: action.reason,
          reasonCode: action.reasonCode ?? "other",
        };
      }
      if (order.importedApproval) {
        const { importedApproval: stated, ...rest } = order;
        return {
          ...rest,
          status: "approved",
          decidedBy: stated.by,
          decidedAt: stated.at,
          ...(stated.note ? { note: stated.note } : {}),
          confirmation: { by: actor, at, ...(action.note ? { note: action.note } : {}) },
        };
      }
      return {
        ...order,
        status: "approved",
        decidedBy: actor,
        decidedAt: at,
        ...(action.note ? { note: action.note } : {}),
      };
    case "withdraw":
      return {
        ...order,
        ...lapsePending(order, at),
        status: "withdrawn",
        withdrawnBy: actor,
        withdrawnAt: at,
        ...(action.reason ? { reason: action.reason } : {}),
      };
  }
}

/** I7: the one who decides is neither the order's creator nor whoever imported it. */
function assertFourEyes(order: Order, actor: string, what: string): void {
  if (samePrincipal(actor, order.createdBy)) {
    throw new OrderRuleError("FOUR_EYES", `${actor} created this order and cannot also ${what} it`);
  }
  if (order.importedBy !== undefined && samePrincipal(actor, order.importedBy)) {
    throw new OrderRuleError("FOUR_EYES", `${actor} imported this order and cannot also ${what} it`);
  }
}

/** Start of enforcement in epoch ms: `effectiveFrom`, or the approval time when none was given. */
export function effectiveStart(order: Order): number | undefined {
  const from = order.effectiveFrom ?? order.decidedAt;
  return from === undefined ? undefined : Date.parse(from);
}

/**
 * Enforcement state at `now` (epoch ms), computed from status and time, never stored. An order stored
 * before the jurisdiction table that now breaks it (a `CN-HK` block) is `none`: `compile` leaves it out.
 */
export function enforcementAt(order: Order, now: number): Enforcement {
  if (order.status !== "approved" || blockProblems(order).length > 0) return "none";
  const start = effectiveStart(order) ?? Number.POSITIVE_INFINITY;
  const until = order.effectiveUntil ? Date.parse(order.effectiveUntil) : Number.POSITIVE_INFINITY;
  if (now < start) return "scheduled";
  if (now >= until) return "expired";
  return "active";
}

/**
 * The order as the API shows it at `now`: enforcement computed, and its amendments as a count (they are
 * listed on their own route). An order never amended shows no count, as before amendments existed.
 */
export function withEnforcement(order: Order, now: number): Order {
  const { amendmentLog, ...shown } = order;
  return {
    ...shown,
    enforcement: enforcementAt(order, now),
    ...(amendmentLog?.length ? { amendments: amendmentLog.length } : {}),
  };
}

/**
 * The order as shown with its warnings against the location source's `precision` (null: no source
 * loaded, nothing to say). Orders that are done (rejected, withdrawn) earn none.
 */
export function withWarnings(order: Order, precision: GeoPrecision | null): Order {
  const { warnings: _stale, ...shown } = order;
  if (order.status === "rejected" || order.status === "withdrawn") return shown;
  const broken = blockProblems(order);
  const warnings = [
    ...(broken.length > 0
      ? [
          {
            code: "NOT_ENFORCED" as const,
            jurisdictions: broken.map((p) => p.jurisdiction),
            message: `not enforced, the jurisdiction table refuses it: ${broken.map((p) => p.message).join("; ")}`,
          },
        ]
      : []),
    ...precisionWarnings(order.jurisdictions, precision),
  ];
  return warnings.length > 0 ? { ...shown, warnings } : shown;
}

/** A pending amendment cannot outlive its order's decision or withdrawal: it lapses, undecided. */
function lapsePending(order: Order, at: string): Pick<Order, "amendmentLog"> {
  const log = order.amendmentLog;
  if (!log?.some((a) => a.status === "pending")) return {};
  return {
    amendmentLog: log.map((a) => (a.status === "pending" ? { ...a, status: "lapsed", lapsedAt: at } : a)),
  };
}
