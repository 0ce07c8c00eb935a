/**
 * `RedisStore`: the Store of a Redis deployment. Orders and their audit chain live in Redis
 * (`RedisOrderStore`, one Lua script per change); decision records go through the instance's local
 * outbox to the Redis stream (`RedisDecisionLog`), so a check never waits on Redis.
 */
import type { DecisionRecord, Order } from "../../engine/index.js";
import type { FileStore } from "../file/file-store.js";
import type { AuditAction, AuditEntry, OrderStore, Store } from "../interface.js";
import type { RedisDecisionLog } from "./decision-log.js";

export class RedisStore implements Store {
  constructor(
    readonly orders: OrderStore & { close(): Promise<void> },
    readonly decisions: RedisDecisionLog,
    /** The local outbox the decision log writes to; closed last, after the shipper stopped. */
    private readonly outbox: FileStore,
  ) {}

  listOrders(): Promise<Order[]> {
    return this.orders.listOrders();
  }
  getOrder(id: string): Promise<Order | undefined> {
    return this.orders.getOrder(id);
  }
  applyChange(
    orderId: string,
    action: AuditAction,
    actor: string,
    at: string,
    change: (current: Order | undefined) => Order,
  ): Promise<AuditEntry> {
    return this.orders.applyChange(orderId, action, actor, at, change);
  }
  readAudit(opts: { orderId?: string; after?: number; limit?: number }): Promise<AuditEntry[]> {
    return this.orders.readAudit(opts);
  }
  head(): Promise<{ seq: number; hash: string }> {
    return this.orders.head();
  }
  append(records: readonly DecisionRecord[]): Promise<void> {
    return this.decisions.append(records);
  }
  page(opts: { after?: string; limit: number }): Promise<{ records: DecisionRecord[]; next: string | null }> {
    return this.decisions.page(opts);
  }

  async close(): Promise<void> {
    await this.decisions.close();
    await this.orders.close();
    await this.outbox.close();
  }
}
