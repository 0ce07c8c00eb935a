/**
 * Per-order enforcement counts for the order page (denied joins, shadow matches), read from the
 * decision log incrementally: each call reads only the records written since the last, so a page view
 * costs what was logged since the previous one. Process memory holds one small counter per order that
 * ever matched. Calls are serialised, so two page views never count the same records twice.
 */
import type { DecisionLog } from "../store/interface.js";

export interface OrderCounts {
  deniedJoins: number;
  shadowMatches: number;
}

export class EnforcementTally {
  #cursor: string | undefined;
  readonly #byOrder = new Map<string, OrderCounts>();
  #running: Promise<unknown> = Promise.resolve();

  constructor(private readonly log: DecisionLog) {}

  async of(orderId: string): Promise<OrderCounts> {
    const run = this.#running.then(() => this.#catchUp());
    this.#running = run.catch(() => undefined);
    await run;
    return { ...(this.#byOrder.get(orderId) ?? { deniedJoins: 0, shadowMatches: 0 }) };
  }

  async #catchUp(): Promise<void> {
    for (;;) {
      const page = await this.log.page({
        ...(this.#cursor === undefined ? {} : { after: this.#cursor }),
        limit: 1000,
      });
      for (const r of page.records) {
        if (r.code !== "BLOCKED" && r.code !== "SHADOW_MATCH") continue;
        for (const id of r.orderIds) {
          const counts = this.#byOrder.get(id) ?? { deniedJoins: 0, shadowMatches: 0 };
          if (r.code === "BLOCKED") counts.deniedJoins++;
          else counts.shadowMatches++;
          this.#byOrder.set(id, counts);
        }
      }
      if (page.next !== null) this.#cursor = page.next;
      if (page.next === null || page.records.length === 0) return;
    }
  }
}
