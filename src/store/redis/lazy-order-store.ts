/**
 * `LazyOrderStore`: the Redis order store opened on first use, and again after a failed open, so an
 * instance can start while Redis is down (checks are served from the ruleset kept on disk meanwhile).
 */
import type { ApplyChange, OrderStore } from "../interface.js";

/** What the lazy store opens: the Redis order store, or that store as an instance mirrors it. */
type ClosableOrderStore = OrderStore & { epoch(): Promise<string | undefined>; close(): Promise<void> };

/** Until Redis answers, every call rejects with `StoreUnavailableError` (a 503); nothing hangs. */
export class LazyOrderStore implements OrderStore {
  #opening: Promise<ClosableOrderStore> | undefined;

  constructor(private readonly open: () => Promise<ClosableOrderStore>) {
    // Try at once, so a Redis that is up is used from the first request; a failure is retried lazily.
    this.#store().catch(() => undefined);
  }

  #store(): Promise<ClosableOrderStore> {
    this.#opening ??= this.open().catch((error: unknown) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  async listOrders() {
    return (await this.#store()).listOrders();
  }
  async getOrder(id: string) {
    return (await this.#store()).getOrder(id);
  }
  readonly applyChange: ApplyChange = async (...args) => (await this.#store()).applyChange(...args);
  async readAudit(opts: Parameters<OrderStore["readAudit"]>[0]) {
    return (await this.#store()).readAudit(opts);
  }
  async head() {
    return (await this.#store()).head();
  }
  /** The epoch of the history in Redis (see RedisOrderStore). */
  async epoch() {
    return (await this.#store()).epoch();
  }
  async close(): Promise<void> {
    const store = await this.#opening?.catch(() => undefined);
    await store?.close();
  }
}
