/**
 * `FileStore`: a whole data directory opened at once, the embedded store (`CORDON_DATA_DIR`, no services
 * needed). It owns this layout, and opens each part with the module that owns it:
 *
 *   <dir>/LOCK                     pid of the process that has the directory open (dir-lock.ts)
 *   <dir>/orders.jsonl             the order journal: orders and their audit chain (order-journal.ts)
 *   <dir>/orders.snapshot          the orders as of one journal entry, a cache of it (order-snapshot.ts)
 *   <dir>/ruleset.snapshot         the ruleset as of one journal entry, a cache (ruleset-snapshot.ts)
 *   <dir>/decisions/000001.jsonl   the decision log, in size-rotated segments (segment-log.ts)
 *
 * One lock and one failure latch (write-guard.ts) for both parts. The server hands `orders` and
 * `decisions` apart; the forwarding methods serve the CLI and tests, which use the directory as one store.
 */
import type { DecisionRecord, Order } from "../../engine/index.js";
import { SILENT_LOGGER } from "../../kernel/logger.js";
import type { Readiness } from "../../kernel/runtime.js";
import type { ApplyChange, AuditEntry, DecisionLog, OrderStore } from "../interface.js";
import { DeferredOrderJournal } from "./deferred-orders.js";
import { DirLock } from "./dir-lock.js";
import { OrderJournal } from "./order-journal.js";
import {
  type PruneOptions,
  type PruneResult,
  SegmentLog,
  type SegmentLogOptions,
  type SegmentLogStats,
  segmentLogSettings,
} from "./segment-log.js";
import { WriteGuard } from "./write-guard.js";

/** Orders are always fdatasynced; `fsync` and `segmentBytes` are the decision log's (see SegmentLogOptions). */
export type FileStoreOptions = Pick<
  SegmentLogOptions,
  "fsync" | "segmentBytes" | "logger" | "probeIntervalMs"
>;

export class FileStore<Orders extends OrderJournal | DeferredOrderJournal = OrderJournal>
  implements OrderStore, DecisionLog
{
  private closed: Promise<void> | undefined;

  private constructor(
    readonly orders: Orders,
    readonly decisions: SegmentLog,
    private readonly lock: DirLock,
  ) {}

  /** The directory, resolved. */
  get root(): string {
    return this.lock.root;
  }

  /**
   * The server's open: the lock and the decision log now, the order journal when the caller says
   * (`orders.load`): in the background once a ruleset is in force from the ruleset snapshot, else at once.
   */
  static async openServing(
    dir: string,
    options: FileStoreOptions = {},
  ): Promise<FileStore<DeferredOrderJournal>> {
    segmentLogSettings(options);
    const lock = await DirLock.acquire(dir);
    const guard = new WriteGuard();
    try {
      const decisions = await SegmentLog.open(lock.root, { ...options, lock, guard });
      const orders = new DeferredOrderJournal(lock.root, {
        lock,
        guard,
        logger: options.logger ?? SILENT_LOGGER,
      });
      return new FileStore(orders, decisions, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Opens the journal first, then the segments; a second open of the directory fails (see dir-lock.ts). */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore<OrderJournal>> {
    segmentLogSettings(options); // a bad setting stops the open before the journal is touched
    const lock = await DirLock.acquire(dir);
    const guard = new WriteGuard();
    let orders: OrderJournal | undefined;
    try {
      orders = await OrderJournal.open(lock.root, { lock, guard, logger: options.logger ?? SILENT_LOGGER });
      const decisions = await SegmentLog.open(lock.root, { ...options, lock, guard });
      return new FileStore(orders, decisions, lock);
    } catch (err) {
      await orders?.close().catch(() => undefined);
      await lock.release();
      throw err;
    }
  }

  listOrders(): Promise<Order[]> {
    return this.orders.listOrders();
  }
  getOrder(id: string): Promise<Order | undefined> {
    return this.orders.getOrder(id);
  }
  applyChange: ApplyChange = (...args) => this.orders.applyChange(...args);
  readAudit(opts: Parameters<OrderStore["readAudit"]>[0]): Promise<AuditEntry[]> {
    return this.orders.readAudit(opts);
  }
  head(): Promise<{ seq: number; hash: string }> {
    return this.orders.head();
  }
  append(records: readonly DecisionRecord[]): Promise<void> {
    return this.decisions.append(records);
  }
  page(opts: Parameters<SegmentLog["page"]>[0]): ReturnType<SegmentLog["page"]> {
    return this.decisions.page(opts);
  }
  prune(beforeCursor: string, opts?: PruneOptions): Promise<PruneResult> {
    return this.decisions.prune(beforeCursor, opts);
  }
  stats(): SegmentLogStats {
    return this.decisions.stats();
  }
  /** Not ready while the directory cannot be written (one guard for both parts: see SegmentLog.readiness). */
  readiness(): Readiness {
    return this.decisions.readiness();
  }

  /** Waits for pending order changes and appends, syncs, closes both parts, then frees the directory. */
  close(): Promise<void> {
    // Both closed in this tick, so neither takes a write once close was called.
    this.closed ??= Promise.allSettled([this.orders.close(), this.decisions.close()]).then(
      async (results) => {
        await this.lock.release();
        for (const r of results) if (r.status === "rejected") throw r.reason;
      },
    );
    return this.closed;
  }
}
