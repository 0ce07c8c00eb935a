/**
 * The would-be impact of a pending order (or a pending amendment's scope), for the reviewer: how many
 * joins of the last 30 days it would have refused. Counted from the decision log (DESIGN.md
 * "DecisionRecord"): a record counts when it is a join (`phase` join), was allowed, is at one of the
 * scope's targets (its meetings, or its accounts), was located (`country`, `subdivision`) inside one of
 * the scope's blocks (the engine's `contains`), is not from an account the scope exempts, and, for a
 * `prevent_hosting` scope, was a host's check. Checks already refused count nowhere (they were refused
 * anyway); a dial-in caller counts like any located join.
 *
 * Never on the check path: the console asks, and the log is read through its ordinary reader
 * (`DecisionLog.page`: the embedded segments, or the Redis streams every instance writes), the way
 * `GET /v1/decisions` pages it. The work is bounded and shared:
 * - one position in the log for every scope tracked: each refresh reads only what was written since the
 *   last one, and adds it to per-day tallies (at most 31 numbers per scope); days that leave the window
 *   drop out. The scopes tracked are those pending at the last re-read and any asked for since (a re-read
 *   drops the rest), so memory is bounded by the pending orders and amendments, never by the log.
 * - a scope seen for the first time (a new pending order, a changed scope) makes the next refresh re-read
 *   the 30-day window once, from the position where its first day began (remembered while reading; the
 *   first refresh after a start reads the log from its beginning, skipping older records);
 * - at most one refresh per `REFRESH_MS` (the page says when the numbers were computed and up to which
 *   check), one refresh at a time (concurrent pages share it), at most `budget` records per refresh (the
 *   next refresh continues where it stopped; the page says the count is still in progress), and the
 *   event loop is given back between pages of `PAGE` records, so checks served by the same process wait
 *   at most one page's worth of parsing.
 * Cost at volume, in records read (the time per record is the log reader's: reading and parsing one
 * JSON line, or one stream entry, plus a few set look-ups here; not measured separately):
 * - a page view within a minute of the last refresh: none;
 * - a refresh: the records written since the last one (at 1 M checks a day and a view a minute, about
 *   700), in one or a few pages;
 * - a new pending order or amendment (or a changed scope): the whole window once, about 30 M records at
 *   1 M checks a day, spread over refreshes of at most `BUDGET` records each (30 page views, each showing
 *   "still counting"), then back to the incremental cost;
 * - the first reading after a start also reads what lies before the window, since the log can only be
 *   paged from its start or a cursor: the embedded log keeps every record, so a log of years is read
 *   once (at `BUDGET` a page view) before the first count is complete; the Redis streams keep records
 *   until the report archives them. A seek by time in `DecisionLog` would remove this (not built).
 * Memory: at most 31 numbers per scope waiting for review, one cursor, one mark per day of the window.
 * Records are read in pages of `PAGE` with the event loop given back between pages (the check path shares
 * the process on Node); nothing here is on the check path itself, and no check waits for it.
 */
import {
  type Amendment,
  contains,
  countryOf,
  type DecisionRecord,
  type Order,
  type OrderAction,
  type OrderInput,
} from "../engine/index.js";
import type { DecisionLog } from "../store/interface.js";

const DAY_MS = 86_400_000;
/** The window: this many UTC days, today included. */
export const IMPACT_DAYS = 30;
const PAGE = 1000;
/** Records read at most by one refresh. */
const BUDGET = 1_000_000;
/** The numbers are at most this old when a page asks. */
export const REFRESH_MS = 60_000;

/** What decides whether a past join would have been refused: an order's scope, or an amendment's. */
export interface ImpactScope {
  target: Order["target"];
  jurisdictions: readonly string[];
  action?: OrderAction | undefined;
  exemptAccountIds?: readonly string[] | undefined;
}

export interface Impact {
  /** Allowed joins of the window the scope would have refused. */
  joins: number;
  /** When the numbers were computed (epoch ms). */
  computedAt: number;
  /** The `at` of the newest record read; undefined: the log held no record yet. */
  through: string | undefined;
  /** false: the window is still being read (the budget ran out); the count covers only part of it. */
  complete: boolean;
}

interface Tracked {
  scope: ImpactScope;
  /** Counted joins per UTC day number. */
  days: Map<number, number>;
}

interface Mark {
  day: number;
  /** The cursor to read from to see the first record of `day` (undefined: the log's start). */
  cursor: string | undefined;
}

/** A scope's identity: the same key, the same tallies. */
export const scopeKey = (s: ImpactScope): string =>
  JSON.stringify([s.target, [...s.jurisdictions].sort(), s.action ?? "geoblock", s.exemptAccountIds ?? []]);

/** The scope an order decides with. */
export const orderScope = (o: Order | OrderInput): ImpactScope => ({
  target: o.target,
  jurisdictions: o.jurisdictions,
  action: o.action,
  exemptAccountIds: o.exemptAccountIds,
});

/** I1's containment, as the engine judges a location: the country, or a subdivision of that country. */
function inside(jurisdictions: readonly string[], r: DecisionRecord): boolean {
  const { country, subdivision } = r;
  if (country === null) return false;
  const sub = subdivision !== null && countryOf(subdivision) === country ? subdivision : undefined;
  return jurisdictions.some((j) => contains(j, country) || (sub !== undefined && contains(j, sub)));
}

/** Whether the scope would have refused this record's join (see the module comment). */
export function wouldRefuse(scope: ImpactScope, r: DecisionRecord): boolean {
  if (r.decision !== "allow" || (r.phase ?? "join") !== "join") return false;
  if (scope.action === "prevent_hosting" && r.role !== "host") return false;
  const { target } = scope;
  const at =
    target.kind === "meeting"
      ? target.meetingIds.includes(r.meetingId)
      : r.accountId !== undefined && target.accountIds.includes(r.accountId);
  if (!at) return false;
  if (r.accountId !== undefined && (scope.exemptAccountIds ?? []).includes(r.accountId)) return false;
  return inside(scope.jurisdictions, r);
}

export class ImpactService {
  readonly #log: Pick<DecisionLog, "page">;
  readonly #clock: () => number;
  readonly #budget: number;
  #tracked = new Map<string, Tracked>();
  /** Where reading stopped: the next refresh reads on from here (undefined: the log's start). */
  #cursor: string | undefined;
  /** The first position of each day seen, in reading order (for re-reading the window). */
  #marks: Mark[] = [];
  #read = false;
  #through: string | undefined;
  #complete = false;
  #computedAt = 0;
  #running: Promise<void> | undefined;

  constructor(deps: { log: Pick<DecisionLog, "page">; clock: () => number; budget?: number }) {
    this.#log = deps.log;
    this.#clock = deps.clock;
    this.#budget = deps.budget ?? BUDGET;
  }

  /** The impact of each scope (by `scopeKey`), refreshing first when the numbers are stale or new. */
  async impacts(scopes: readonly ImpactScope[]): Promise<Map<string, Impact>> {
    const wanted = new Map(scopes.map((s) => [scopeKey(s), s]));
    // Nothing waits for review: nothing to read (the next scope re-reads the window anyway).
    if (wanted.size === 0) return new Map();
    const fresh = this.#clock() - this.#computedAt < REFRESH_MS && this.#complete;
    const known = [...wanted.keys()].every((k) => this.#tracked.has(k));
    if (!fresh || !known) await this.#refresh(wanted);
    const from = dayOf(this.#clock()) - IMPACT_DAYS + 1;
    const out = new Map<string, Impact>();
    for (const key of wanted.keys()) {
      const t = this.#tracked.get(key);
      let joins = 0;
      for (const [day, n] of t?.days ?? []) if (day >= from) joins += n;
      out.set(key, { joins, computedAt: this.#computedAt, through: this.#through, complete: this.#complete });
    }
    return out;
  }

  async #refresh(wanted: Map<string, ImpactScope>): Promise<void> {
    // One refresh at a time; a page arriving meanwhile waits for it, then refreshes only if it must.
    while (this.#running) await this.#running;
    const known = [...wanted.keys()].every((k) => this.#tracked.has(k));
    if (known && this.#complete && this.#clock() - this.#computedAt < REFRESH_MS) return;
    this.#running = this.#run(wanted, known).finally(() => {
      this.#running = undefined;
    });
    await this.#running;
  }

  async #run(wanted: Map<string, ImpactScope>, known: boolean): Promise<void> {
    const now = this.#clock();
    const from = dayOf(now) - IMPACT_DAYS + 1;
    // Until this run ends, the numbers are partial (a failed read leaves them so: the next page reads on).
    this.#complete = false;
    // The same scopes (or fewer): read on. Scopes no longer asked for are dropped at the next re-read.
    if (!known) {
      // A new scope: every scope is counted again over the window, from where its first day began.
      this.#tracked = new Map([...wanted].map(([k, scope]) => [k, { scope, days: new Map() }]));
      if (this.#read) {
        const mark = this.#marks.find((m) => m.day >= from);
        // No record of the window read yet: nothing in it lies before where reading stopped.
        if (mark !== undefined) this.#cursor = mark.cursor;
      }
    }
    this.#marks = this.#marks.filter((m) => m.day >= from);
    const byMeeting = new Map<string, Tracked[]>();
    const byAccount = new Map<string, Tracked[]>();
    for (const t of this.#tracked.values()) {
      const index = t.scope.target.kind === "meeting" ? byMeeting : byAccount;
      const ids = t.scope.target.kind === "meeting" ? t.scope.target.meetingIds : t.scope.target.accountIds;
      for (const id of ids) index.set(id, [...(index.get(id) ?? []), t]);
    }
    const seen = new Set(this.#marks.map((m) => m.day));
    let budget = this.#budget;
    let complete = false;
    while (budget > 0) {
      const before = this.#cursor;
      const limit = Math.min(PAGE, budget);
      const page = await this.#log.page({ ...(before === undefined ? {} : { after: before }), limit });
      for (const r of page.records) {
        const at = Date.parse(r.at);
        const day = dayOf(at);
        if (!seen.has(day)) {
          seen.add(day);
          this.#marks.push({ day, cursor: before });
        }
        this.#through = r.at;
        if (day < from) continue;
        const candidates = [
          ...(byMeeting.get(r.meetingId) ?? []),
          ...(r.accountId === undefined ? [] : (byAccount.get(r.accountId) ?? [])),
        ];
        for (const t of candidates) {
          if (wouldRefuse(t.scope, r)) t.days.set(day, (t.days.get(day) ?? 0) + 1);
        }
      }
      budget -= page.records.length;
      if (page.next !== null) this.#cursor = page.next;
      // A short page is the log's end (for now).
      if (page.records.length < limit || page.next === null) {
        complete = true;
        break;
      }
      // Give the event loop back between pages: checks served by this process never wait for the scan.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const t of this.#tracked.values())
      for (const day of t.days.keys()) if (day < from) t.days.delete(day);
    this.#read = true;
    this.#complete = complete;
    this.#computedAt = now;
  }
}

const dayOf = (ms: number) => Math.floor(ms / DAY_MS);

/** A pending order, or a pending amendment of an order, waiting for a second person's decision. */
export interface PendingItem {
  order: Order;
  amendment?: Amendment;
  /** The scope it would enforce once approved: the order's, or the order's with the amendment's changes. */
  scope: ImpactScope;
}

/** What waits for review: pending orders, and pending amendments (of pending or approved orders). */
export function pendingItems(orders: readonly Order[]): PendingItem[] {
  const out: PendingItem[] = [];
  for (const order of orders) {
    if (order.status === "pending") out.push({ order, scope: orderScope(order) });
    if (order.status !== "pending" && order.status !== "approved") continue;
    for (const amendment of order.amendmentLog ?? []) {
      if (amendment.status === "pending")
        out.push({ order, amendment, scope: amendedScope(order, amendment) });
    }
  }
  return out;
}

/** The order's scope with the amendment's changes applied (`null` removes the exemptions). */
export function amendedScope(order: Order, amendment: Amendment): ImpactScope {
  const c = amendment.changes;
  const exempt = c.exemptAccountIds === null ? undefined : (c.exemptAccountIds ?? order.exemptAccountIds);
  return {
    target: c.target ?? order.target,
    jurisdictions: c.jurisdictions ?? order.jurisdictions,
    action: c.action ?? order.action,
    exemptAccountIds: exempt,
  };
}

/** One impact service per decision log (the console's pages share it; it lives as long as the log). */
const services = new WeakMap<object, ImpactService>();
export function impactServiceFor(log: Pick<DecisionLog, "page">, clock: () => number): ImpactService {
  let service = services.get(log);
  if (!service) {
    service = new ImpactService({ log, clock });
    services.set(log, service);
  }
  return service;
}
