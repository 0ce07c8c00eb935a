/**
 * `DeferredOrderJournal`: the order journal of a server that answers checks before its orders are loaded
 * (it started from the ruleset snapshot). The journal opens in the background, in slices (`Pacer`);
 * until it is open every order call rejects with `OrdersLoadingError` (a 503 with `Retry-After`), so
 * nothing hangs and nothing is half-written; once open, calls go to it.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import type { Readiness } from "../../kernel/runtime.js";
import type { ApplyChange, AuditEntry, OrderStore } from "../interface.js";
import { JOURNAL_FILE, OrderJournal, type OrderJournalOptions, Pacer } from "./order-journal.js";
import { SNAPSHOT_FILE } from "./order-snapshot.js";
import type { JournalPosition } from "./ruleset-snapshot.js";

/** The orders are still loading: try again shortly (`Retry-After`). */
export class OrdersLoadingError extends StoreUnavailableError {
  override readonly name = "OrdersLoadingError";
  constructor(retryAfterSeconds = 2) {
    super("the order store is still loading; try again shortly", { retryAfterSeconds });
  }
}

type State =
  | { kind: "waiting" }
  | { kind: "loading"; since: number }
  | { kind: "open"; journal: OrderJournal; ms: number }
  | { kind: "failed"; error: Error };

export class DeferredOrderJournal implements OrderStore {
  /**
   * Below this many bytes of journal and orders snapshot, a start loads the orders before it listens
   * (a fraction of a second), so a small store never answers 503 after a restart; above it, in the
   * background. Tests set it to 0 to see the background load on a small store.
   */
  static backgroundFromBytes = 32 << 20;

  /** Whether the orders of `root` are worth loading in the background (see `backgroundFromBytes`). */
  static async worthBackground(root: string): Promise<boolean> {
    const size = async (file: string) => (await stat(join(root, file)).catch(() => undefined))?.size ?? 0;
    const bytes = (await size(JOURNAL_FILE)) + (await size(SNAPSHOT_FILE));
    return bytes >= DeferredOrderJournal.backgroundFromBytes;
  }

  private state: State = { kind: "waiting" };
  private opening: Promise<OrderJournal> | undefined;
  private pacer: Pacer | undefined;
  /** The journal's head as the start read it: answered by `head()` until the journal is open. */
  private known: JournalPosition | undefined;

  constructor(
    private readonly root: string,
    private readonly options: Omit<OrderJournalOptions, "pace"> & { logger: Logger },
  ) {}

  /**
   * Opens the journal: in slices when `background` (the server answers checks meanwhile), at once
   * otherwise. `known` is the head the start read (the journal's end then): nothing writes the journal
   * before it is open, so `head()` answers it meanwhile. Resolves with the open journal.
   */
  load(options: { background: boolean; known?: JournalPosition }): Promise<OrderJournal> {
    if (this.opening) return this.opening;
    this.known = options.known;
    const since = performance.now();
    this.state = { kind: "loading", since };
    this.pacer = options.background ? new Pacer() : undefined;
    this.opening = OrderJournal.open(this.root, {
      ...this.options,
      ...(this.pacer ? { pace: this.pacer.pace } : {}),
    }).then(
      (journal) => {
        this.state = { kind: "open", journal, ms: Math.round(performance.now() - since) };
        return journal;
      },
      (error: unknown) => {
        this.state = { kind: "failed", error: error as Error };
        throw error;
      },
    );
    return this.opening;
  }

  /** The journal once open; else the error every order call answers with. */
  private journal(): OrderJournal {
    const { state } = this;
    if (state.kind === "open") return state.journal;
    if (state.kind === "failed")
      throw new StoreUnavailableError(`the order store did not open: ${state.error.message}`);
    throw new OrdersLoadingError();
  }

  async listOrders() {
    return this.journal().listOrders();
  }
  async getOrder(id: string) {
    return this.journal().getOrder(id);
  }
  readonly applyChange: ApplyChange = async (...args) => this.journal().applyChange(...args);
  async readAudit(opts: Parameters<OrderStore["readAudit"]>[0]): Promise<AuditEntry[]> {
    return this.journal().readAudit(opts);
  }
  async head(): Promise<{ seq: number; hash: string }> {
    if (this.state.kind !== "open" && this.known) return { seq: this.known.seq, hash: this.known.hash };
    return this.journal().head();
  }

  /** See `OrderJournal.positionOf`; before the open, the head the start read. */
  positionOf(seq: number): JournalPosition | undefined {
    if (this.state.kind === "open") return this.state.journal.positionOf(seq);
    return this.known?.seq === seq ? { ...this.known } : undefined;
  }

  /**
   * Ready whatever its state (checks need the ruleset only); degraded while the orders load, and when
   * they could not be loaded (order routes answer 503 then).
   */
  readiness(): Readiness {
    const { state } = this;
    if (state.kind === "open") return { name: "order-store", ready: true, detail: { loadedInMs: state.ms } };
    if (state.kind === "failed")
      return { name: "order-store", ready: true, degraded: true, detail: { error: state.error.message } };
    return { name: "order-store", ready: true, degraded: true, detail: { loading: true } };
  }

  /** Stops a load under way (it is only a read) and closes the journal. */
  async close(): Promise<void> {
    this.pacer?.stop();
    const journal = await this.opening?.catch(() => undefined);
    await journal?.close();
  }
}
