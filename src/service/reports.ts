/**
 * The report's numbers on request: catch the aggregates up with the decision log (incremental, from the
 * last checkpoint), then build a period's report, or total one order's enforcement for the console.
 * Both read the same aggregates, so the console and the report never count differently.
 * Runtime-free: the entry hands in how to catch up (the file log, or the Redis consumer group).
 */
import type { Order } from "../engine/index.js";
import type { AggregateStore } from "../report/aggregate-store.js";
import { buildReport } from "../report/build.js";
import type { OrderTotals, Report } from "../report/model.js";
import type { Period } from "../report/periods.js";

export interface ReportDeps {
  aggregates: AggregateStore;
  /** Reads decision records from the checkpoint on and applies them. */
  catchUp: () => Promise<unknown>;
  orders: () => Promise<Order[]>;
  clock: () => number;
}

export class ReportService {
  // Serialises catch-ups: two requests must not apply the same records at once.
  #running: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ReportDeps) {}

  async report(period: Period, opts: { threshold?: number } = {}): Promise<Report> {
    await this.#catchUp();
    const allMonths = await this.deps.aggregates.allMonths();
    const lastMonth = period.months.at(-1) as string;
    // Every month up to the period's end, read once: `buildReport` takes the period's own months from it.
    const [history, orders] = await Promise.all([
      this.deps.aggregates.months(allMonths.filter((m) => m <= lastMonth)),
      this.deps.orders(),
    ]);
    return buildReport({
      period,
      orders,
      months: history,
      history,
      ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
      generatedAt: new Date(this.deps.clock()).toISOString(),
    });
  }

  /** Whether the period holding `at` (a record's instant) is finalized: its numbers no longer move (I9). */
  async isFinalized(_at: string): Promise<boolean> {
    return false;
  }

  /** One order's denied joins and shadow matches over every month, up to the last record logged. */
  async orderTotals(orderId: string): Promise<OrderTotals> {
    await this.#catchUp();
    return this.deps.aggregates.orderTotals(orderId);
  }

  #catchUp(): Promise<unknown> {
    const run = this.#running.then(() => this.deps.catchUp());
    this.#running = run.catch(() => undefined);
    return run;
  }
}
