/**
 * What Cordon keeps: orders with their hash-chained audit log (I7), and the decision log (I5). Embedded
 * (`CORDON_DATA_DIR`): `OrderJournal` and `SegmentLog` on one data directory. Redis: `RedisOrderStore`
 * and `RedisDecisionLog` (a local outbox shipped to a Redis stream). Stores throw `CordonError`s
 * (kernel/errors.ts: not found, unavailable, a bad cursor); only the transports turn them into answers.
 * `AuditChainError` is a fault, not an answer: a broken chain keeps a store from opening, and a request
 * that meets one gets the opaque 500.
 */
import type { DecisionRecord, Order } from "../engine/index.js";

/** The order's life cycle, and its amendments' (proposed, then approved or rejected by another person). */
export const AUDIT_ACTIONS = [
  "create",
  "approve",
  "reject",
  "withdraw",
  "propose_amendment",
  "approve_amendment",
  "reject_amendment",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One change to one order. The order's full new state travels with its audit entry: one write (I7). */
export interface AuditEntry {
  /** 1, 2, 3, ... without gaps. The last seq is the version of the ruleset compiled from the store. */
  seq: number;
  at: string;
  actor: string;
  action: AuditAction;
  orderId: string;
  /** The order after the change. */
  order: Order;
  /** `hash` of the previous entry; 64 zeros for the first. */
  prevHash: string;
  /** SHA-256 (hex) over prevHash and the canonical JSON of this entry without `hash`. */
  hash: string;
}

/** An order change: the current order (undefined for "create") to the new one, or a throw. */
export type OrderChange = (current: Order | undefined) => Order;

export interface OrderStore {
  /** Current state of every order, in creation order. */
  listOrders(): Promise<Order[]>;
  getOrder(id: string): Promise<Order | undefined>;
  /**
   * Applies a change: `change` receives the current order (undefined for "create") and returns the new
   * one, or throws (an `OrderRuleError`, say) and nothing is written. Changes are serialised, so two
   * concurrent approvals cannot both pass. Resolves once the order and its audit entry are durable, in one
   * write; a crash never leaves one without the other.
   */
  applyChange(
    orderId: string,
    action: AuditAction,
    actor: string,
    at: string,
    change: OrderChange,
  ): Promise<AuditEntry>;
  /** Audit entries with seq > after, at most `limit`. */
  readAudit(opts: { orderId?: string; after?: number; limit?: number }): Promise<AuditEntry[]>;
  /** seq and hash of the last entry (0 and the zero hash when empty). */
  head(): Promise<{ seq: number; hash: string }>;
}

/** `applyChange` as declared above, for implementations and wrappers (its parameters are typed once). */
export type ApplyChange = OrderStore["applyChange"];

/** Where a check's decision record goes before its answer is sent (I5). */
export interface DecisionSink {
  /**
   * Appends records; resolves once they are written where a crash of this process cannot lose them.
   * Concurrent calls are batched into one write (group commit).
   */
  append(records: readonly DecisionRecord[]): Promise<void>;
}

/** The decision log on the server: a sink that can also be read back, in write order. */
export interface DecisionLog extends DecisionSink {
  /**
   * Pages through records in write order. `after` is an opaque cursor from a previous page. With
   * `positions`, a log that can also gives each record's own cursor (the one that reads on after it).
   */
  page(opts: {
    after?: string;
    limit: number;
    positions?: boolean;
  }): Promise<{ records: DecisionRecord[]; next: string | null; positions?: string[] }>;
}

export class AuditChainError extends Error {
  override readonly name = "AuditChainError";
  constructor(
    message: string,
    readonly seq: number,
  ) {
    super(message);
  }
}
