/**
 * The report's numbers on request: catch the aggregates up with the decision log (incremental, from the
 * last checkpoint), then build a period's report, or total one order's enforcement for the console.
 * Both read the same aggregates, so the console and the report never count differently.
 * And finalization (I9): a period that has ended plus the grace days is frozen into fixed bytes and a
 * signed manifest; from then on its report is those bytes, and its records that come later count late.
 * Runtime-free: the entry hands in how to catch up (the file log, or the Redis consumer group), where
 * frozen reports live, and how to read records back and sign.
 */
import type { DecisionRecord, Order } from "../engine/index.js";
import type { Language } from "../i18n/language.js";
import { CordonError, StoreUnavailableError } from "../kernel/errors.js";
import type { AggregateStore } from "../report/aggregate-store.js";
import { buildReport } from "../report/build.js";
import {
  archiveOf,
  derivedReport,
  type FrozenReport,
  type FrozenReportStore,
  frozenFormat,
  frozenReport,
  type Manifest,
  manifestBody,
  ordersAt,
  renderFormats,
} from "../report/frozen.js";
import type { OrderTotals, Publisher, Report } from "../report/model.js";
import { monthOf, type Period, type PeriodKind, parsePeriod, periodOf } from "../report/periods.js";
import { renderCsv, renderHtml, renderJson } from "../report/render.js";
import type { AuditEntry, OrderStore } from "../store/interface.js";
import type { ManifestSigner } from "./report-signing.js";

const DAY_MS = 86_400_000;

export interface ReportDeps {
  aggregates: AggregateStore;
  /** Reads decision records from the checkpoint on and applies them. */
  catchUp: () => Promise<unknown>;
  orders: () => Promise<Order[]>;
  clock: () => number;
  /** Where finalized reports and their archived records are kept. */
  frozen: FrozenReportStore;
  /** The records with these decisionIds from the decision log: the first of each id, in any order. */
  records: (ids: ReadonlySet<string>) => Promise<DecisionRecord[]>;
  /** The audit chain: a frozen report's orders are the chain's at its head. */
  audit: Pick<OrderStore, "head" | "readAudit">;
  /** The manifest's signer, asked for at the first finalization (a key may be generated then). */
  signer: () => Promise<ManifestSigner>;
  /** Days after a period's end before it may be finalized (CORDON_FINALIZE_GRACE_DAYS). */
  graceDays: number;
  /** Who publishes the reports (CORDON_REPORT_PUBLISHER, CORDON_REPORT_SERVICE); absent: the defaults. */
  publisher?: Publisher;
  /**
   * Called after a finalization's frozen report and manifest are durable, and again on every repeated
   * finalization of the period (so a crash between the two is repaired by finalizing again): must be
   * idempotent. The per-period IP-hash keys are destroyed here (I6).
   */
  onFinalized?: (period: Period) => Promise<void>;
}

export type PeriodState = "open" | "provisional" | "finalized";

export interface Publication {
  text: string;
  /** Not finalized: the numbers may still change (served with `X-Cordon-Provisional: true`). */
  provisional: boolean;
  /** Finalized: the sha256 of the frozen bytes served (undefined for a derived threshold variant). */
  frozenSha256?: string;
}

const KIND_ORDER: Record<PeriodKind, number> = { half: 0, quarter: 1, month: 2 };
/** How long `isFinalized` trusts the frozen months it read (another instance may freeze meanwhile). */
const FROZEN_CACHE_MS = 5000;

export class ReportService {
  // Serialises catch-ups: two requests must not apply the same records at once.
  #running: Promise<unknown> = Promise.resolve();
  // Serialises finalizations in this process (instances agree through the store's set-if-absent).
  #finalizing: Promise<unknown> = Promise.resolve();
  #frozenMonths: { at: number; months: Set<string> } | undefined;

  constructor(private readonly deps: ReportDeps) {}

  /** Days after a period's end before it may be finalized (the console says when that is). */
  get graceDays(): number {
    return this.deps.graceDays;
  }

  /** The live report of a period (provisional), built from the aggregates. */
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
      previousMonths: history,
      ...(this.deps.publisher === undefined ? {} : { publisher: this.deps.publisher }),
      ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
      generatedAt: new Date(this.deps.clock()).toISOString(),
    });
  }

  /**
   * A period's report as published: a finalized period's frozen bytes (or, at another threshold, a
   * variant derived from them), else the live report, provisional. 400 PERIOD_NOT_STARTED for a period
   * that has not begun.
   */
  async publication(
    period: Period,
    opts: { format: "json" | "csv" | "html"; lang: Language; threshold?: number },
  ): Promise<Publication> {
    this.#assertStarted(period);
    const frozen = await this.deps.frozen.get(period.id);
    if (frozen !== undefined) {
      const format = frozenFormat(opts.format, opts.lang);
      // Frozen at the default threshold (0: every count shown).
      if (opts.threshold === undefined || opts.threshold === 0) {
        return {
          text: frozen.formats[format],
          provisional: false,
          frozenSha256: frozen.manifest.sha256[format],
        };
      }
      return { text: render(derivedReport(frozen, opts.threshold), opts), provisional: false };
    }
    const report = await this.report(
      period,
      opts.threshold === undefined ? {} : { threshold: opts.threshold },
    );
    return { text: render(report, opts), provisional: true };
  }

  /**
   * The periods an auditor can ask for: every half-year, quarter and month that has decision records or
   * an order received or completed in it, the current ones, and the finalized ones; none that has not
   * begun. Sorted by start, a half-year before its quarters before its months.
   */
  async periods(): Promise<{ period: string; state: PeriodState }[]> {
    const now = this.deps.clock();
    const [months, orders, finalized] = await Promise.all([
      this.deps.aggregates.allMonths(),
      this.deps.orders(),
      this.deps.frozen.list(),
    ]);
    const instants = [now];
    for (const order of orders) {
      for (const at of [order.receivedAt, order.decidedAt, order.withdrawnAt]) {
        if (at !== undefined && !Number.isNaN(Date.parse(at))) instants.push(Date.parse(at));
      }
    }
    const found = new Map<string, Period>();
    const add = (p: Period) => {
      if (p.start <= now) found.set(p.id, p);
    };
    for (const month of months) instants.push(Date.parse(`${month}-01T00:00:00Z`));
    for (const at of instants)
      for (const kind of ["half", "quarter", "month"] as const) add(periodOf(at, kind));
    const done = new Set(finalized);
    for (const id of finalized) {
      const p = parsePeriod(id);
      if (p) add(p);
    }
    return [...found.values()]
      .sort((a, b) => a.start - b.start || KIND_ORDER[a.kind] - KIND_ORDER[b.kind])
      .map((p) => ({
        period: p.id,
        state: done.has(p.id) ? "finalized" : now < p.end ? "open" : "provisional",
      }));
  }

  /** The signed manifest of a finalized period, or undefined. */
  async manifest(period: Period): Promise<Manifest | undefined> {
    this.#assertStarted(period);
    return (await this.deps.frozen.get(period.id))?.manifest;
  }

  /**
   * Finalizes a period (I9): 409 FINALIZE_TOO_EARLY before its end plus the grace days; idempotent once
   * finalized (the stored manifest again). Steps, each safe to repeat after a crash:
   * 1. catch the aggregates up, so what has arrived counts in the period;
   * 2. freeze its months: from here, records of the period count late, so its set of records is fixed;
   * 3. archive those records (read back from the decision log by the ids the aggregates counted);
   * 4. rebuild the report from the archive and the orders at the audit head, render every format, sign
   *    the manifest, and commit set-if-absent (a racing instance's commit wins, and is returned);
   * 5. call `onFinalized`.
   */
  async finalize(period: Period): Promise<Manifest> {
    this.#assertStarted(period);
    const openUntil = period.end + this.deps.graceDays * DAY_MS;
    if (this.deps.clock() < openUntil) {
      throw new CordonError(
        "FINALIZE_TOO_EARLY",
        `${period.id} can be finalized from ${new Date(openUntil).toISOString()} (its end plus ${this.deps.graceDays} grace days)`,
      );
    }
    const run = this.#finalizing.then(() => this.#finalizeNow(period));
    this.#finalizing = run.catch(() => undefined);
    const frozen = await run;
    await this.deps.onFinalized?.(period);
    return frozen.manifest;
  }

  /**
   * Whether the period holding `at` (a record's instant) is finalized, or being finalized: its months are
   * frozen and a record there no longer changes its numbers (I9).
   */
  async isFinalized(at: string): Promise<boolean> {
    const t = Date.parse(at);
    if (Number.isNaN(t)) return false;
    const now = this.deps.clock();
    if (this.#frozenMonths === undefined || now - this.#frozenMonths.at > FROZEN_CACHE_MS) {
      this.#frozenMonths = { at: now, months: new Set(await this.deps.aggregates.frozenMonths()) };
    }
    return this.#frozenMonths.months.has(monthOf(t));
  }

  /** One order's denied joins and shadow matches over every month, up to the last record logged. */
  async orderTotals(orderId: string): Promise<OrderTotals> {
    await this.#catchUp();
    return this.deps.aggregates.orderTotals(orderId);
  }

  async #finalizeNow(period: Period): Promise<FrozenReport> {
    const existing = await this.deps.frozen.get(period.id);
    if (existing !== undefined) return existing;
    await this.#catchUp();
    await this.deps.aggregates.freeze(period.months);
    this.#frozenMonths = undefined;

    const own = new Set<string>();
    const late = new Set<string>();
    for (const month of period.months) {
      const counted = await this.deps.aggregates.counted(month);
      for (const id of counted.records) own.add(id);
      for (const id of counted.late) late.add(id);
    }
    const found = await this.deps.records(new Set([...own, ...late]));
    const byId = new Map(found.map((r) => [r.decisionId, r]));
    const missing = [...own, ...late].filter((id) => !byId.has(id));
    if (missing.length > 0) {
      // Counted, but no longer in the log (a stream trimmed before this version kept records for
      // finalization): the report could be frozen, but never verified against its records.
      throw new StoreUnavailableError(
        `${period.id}: ${missing.length} counted decision record(s) are no longer in the decision log ` +
          `(first: ${missing[0]}); the period cannot be finalized verifiably`,
      );
    }
    const archive = archiveOf(
      [...own].map((id) => byId.get(id) as DecisionRecord),
      [...late].map((id) => byId.get(id) as DecisionRecord),
    );
    await this.deps.frozen.putArchive(period, archive);

    const head = await this.deps.audit.head();
    const orders = ordersAt(await this.#auditUpTo(head.seq), head.seq);
    const finalizedAt = new Date(this.deps.clock()).toISOString();
    const report = frozenReport({
      period,
      orders,
      archive,
      finalizedAt,
      ...(this.deps.publisher === undefined ? {} : { publisher: this.deps.publisher }),
    });
    const formats = renderFormats(report);
    const signer = await this.deps.signer();
    const manifest = await signer.sign(
      manifestBody({ report, formats, archive, audit: head, signer: signer.signer }),
    );
    return this.deps.frozen.commit(period.id, { manifest, formats });
  }

  async #auditUpTo(seq: number): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    while (entries.length < seq) {
      const page = await this.deps.audit.readAudit({ after: entries.length, limit: 1000 });
      if (page.length === 0) break;
      entries.push(...page.filter((e) => e.seq <= seq));
      if ((page.at(-1) as AuditEntry).seq >= seq) break;
    }
    return entries;
  }

  #assertStarted(period: Period): void {
    if (period.start > this.deps.clock()) {
      throw new CordonError(
        "PERIOD_NOT_STARTED",
        `${period.id} has not started yet (it starts ${new Date(period.start).toISOString()})`,
      );
    }
  }

  #catchUp(): Promise<unknown> {
    const run = this.#running.then(() => this.deps.catchUp());
    this.#running = run.catch(() => undefined);
    return run;
  }
}

function render(report: Report, opts: { format: "json" | "csv" | "html"; lang: Language }): string {
  return opts.format === "csv"
    ? renderCsv(report)
    : opts.format === "html"
      ? renderHtml(report, opts.lang)
      : renderJson(report);
}
