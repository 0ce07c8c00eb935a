/**
 * Enforcement events, the pure part: which orders deny at `now` and with what scope (`enforcedState`),
 * the events that move a published state to that one (`reconcile`), and the next instant at which the
 * answer changes by time alone (`nextBoundary`). The stores publish the events atomically with the
 * state; nothing here reads a clock (I8).
 */
import { type CompiledOrder, eachOrder, type Ruleset } from "./ruleset.js";

export const ENFORCEMENT_EVENT_TYPES = ["block-effective", "block-lifted"] as const;
export type EnforcementEventType = (typeof ENFORCEMENT_EVENT_TYPES)[number];

export type EnforcementTarget =
  | { kind: "meeting"; meetingIds: string[] }
  | { kind: "account"; accountIds: string[] };

/**
 * One order's enforced scope as a canonical JSON text: every field of its `CompiledOrder` that decides
 * who is refused, i.e. all but `id` and the window (`from`, `until`: the window decides *when*, and is
 * judged by `enforcedState`). Taken field by field from the compiled order, not from a list, so a field
 * the compiler gains (an action, exempt accounts) is part of the scope without a change here.
 */
export type ScopeKey = string;

/** orderId -> the scope it enforces (published: the scope last announced). */
export type EnforcementState = ReadonlyMap<string, ScopeKey>;

/** An event before the store names it (`id`) and the reconciler dates it (`at`, `rulesetVersion`). */
export interface EnforcementChange {
  type: EnforcementEventType;
  orderId: string;
  target: EnforcementTarget;
  jurisdictions: string[];
}

/** One order's entry of the state moving from `before` to `after` (null: absent). */
export interface StateChange {
  orderId: string;
  before: ScopeKey | null;
  after: ScopeKey | null;
}

const WINDOW_FIELDS = new Set(["id", "from", "until"]);
/**
 * Fields whose members *narrow* the block when added (an exempt account is refused by nothing). Every
 * other list widens when it gains a member (a meeting, an account, a jurisdiction), and any other
 * changed value counts as both (an `action` that changes refuses someone new and frees someone else).
 */
const NARROWING_LISTS = new Set(["exemptAccountIds"]);

/** The enforce-mode orders whose window `[from, until)` holds `now`, with their scopes (I3: shadow never). */
export function enforcedState(ruleset: Ruleset, now: number): Map<string, ScopeKey> {
  const state = new Map<string, ScopeKey>();
  for (const order of eachOrder(ruleset)) {
    const scope = scopeAt(order, now);
    if (scope !== null) state.set(order.id, scope);
  }
  return state;
}

/** One order's entry of `enforcedState` at `now`: its scope, or null (absent, shadow, outside its window). */
export function scopeAt(order: CompiledOrder | undefined, now: number): ScopeKey | null {
  if (order === undefined || order.mode !== "enforce") return null;
  if (!(order.from <= now && (order.until === null || now < order.until))) return null;
  return scopeKey(order);
}

export function scopeKey(order: CompiledOrder): ScopeKey {
  const scope: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(order)) {
    if (!WINDOW_FIELDS.has(field) && value !== undefined) scope[field] = value;
  }
  return canonicalJson(scope);
}

/**
 * The events and state changes that take `published` to `desired`, by order id: an order that appears
 * is `block-effective`; one that is gone (withdrawn, expired, turned to shadow) is `block-lifted` with
 * the scope last published; a changed scope gives `block-lifted` with the old scope when it lost
 * anything, then `block-effective` with the new one when it gained anything (an amendment that does
 * both gives both, in that order, so the last word on the order is what it enforces now).
 */
export function reconcile(
  published: EnforcementState,
  desired: EnforcementState,
): { changes: StateChange[]; events: EnforcementChange[] } {
  return reconcileOrders(
    new Set([...published.keys(), ...desired.keys()]),
    (id) => published.get(id) ?? null,
    (id) => desired.get(id) ?? null,
  );
}

/**
 * `reconcile` over the orders `ids` only, the states given by order (null: absent): what an incremental
 * reconcile does with the orders that may have changed, when it knows the others did not.
 */
export function reconcileOrders(
  ids: Iterable<string>,
  published: (orderId: string) => ScopeKey | null,
  desired: (orderId: string) => ScopeKey | null,
): { changes: StateChange[]; events: EnforcementChange[] } {
  const changes = diffOrders(ids, published, desired);
  return { changes, events: changeEvents(changes) };
}

/**
 * The state changes of `reconcileOrders`, without their events, sorted by order id. Only the orders that
 * changed are sorted: over a million orders with nothing new, sorting every id would be most of the work.
 */
export function diffOrders(
  ids: Iterable<string>,
  published: (orderId: string) => ScopeKey | null,
  desired: (orderId: string) => ScopeKey | null,
): StateChange[] {
  const changes: StateChange[] = [];
  for (const orderId of ids) {
    const before = published(orderId);
    const after = desired(orderId);
    if (before !== after) changes.push({ orderId, before, after });
  }
  return changes.sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
}

/** The events of state changes, in their order (see `reconcile`). */
export function changeEvents(changes: readonly StateChange[]): EnforcementChange[] {
  const events: EnforcementChange[] = [];
  for (const { orderId, before, after } of changes) {
    const { widens, narrows } = direction(before, after);
    if (narrows && before !== null) events.push(eventOf("block-lifted", orderId, before));
    if (widens && after !== null) events.push(eventOf("block-effective", orderId, after));
  }
  return events;
}

/**
 * The first instant after `now` at which an enforce-mode order's window opens or closes: when the
 * enforced state changes with no order change. Null when none lies ahead.
 */
export function nextBoundary(ruleset: Ruleset, now: number): number | null {
  let next: number | null = null;
  for (const order of eachOrder(ruleset)) {
    if (order.mode !== "enforce") continue;
    for (const t of [order.from, order.until]) {
      if (t !== null && t > now && (next === null || t < next)) next = t;
    }
  }
  return next;
}

/**
 * The window boundaries (`from`, `until`) of enforce-mode orders after some instant, earliest first: an
 * incremental reconcile takes the orders whose boundary has passed instead of looking at every order.
 * Entries are only added (an order whose window changed keeps its old ones: taking it once more changes
 * nothing), and dropped when taken. A binary min-heap.
 */
export class BoundaryQueue {
  private readonly heap: { at: number; orderId: string }[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The boundaries of `order` after `after` (none for a shadow order). */
  addOrder(order: CompiledOrder | undefined, after: number): void {
    if (order === undefined || order.mode !== "enforce") return;
    if (order.from > after) this.add(order.from, order.id);
    if (order.until !== null && order.until > after) this.add(order.until, order.id);
  }

  add(at: number, orderId: string): void {
    const heap = this.heap;
    heap.push({ at, orderId });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as { at: number }).at <= at) break;
      [heap[i], heap[parent]] = [heap[parent] as (typeof heap)[0], heap[i] as (typeof heap)[0]];
      i = parent;
    }
  }

  /** Takes out the boundaries at or before `now`, earliest first. */
  takeUntil(now: number): { at: number; orderId: string }[] {
    const out: { at: number; orderId: string }[] = [];
    while (this.heap.length > 0 && (this.heap[0] as { at: number }).at <= now) out.push(this.pop());
    return out;
  }

  /** The earliest boundary after `now` (entries at or before it stay where they are). */
  nextAfter(now: number): number | null {
    const top = this.heap[0];
    if (top === undefined) return null;
    if (top.at > now) return top.at;
    // Entries not taken yet (a reconcile that did not publish): look past them.
    let next: number | null = null;
    for (const { at } of this.heap) if (at > now && (next === null || at < next)) next = at;
    return next;
  }

  private pop(): { at: number; orderId: string } {
    const heap = this.heap;
    const top = heap[0] as { at: number; orderId: string };
    const last = heap.pop() as { at: number; orderId: string };
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && (heap[l] as { at: number }).at < (heap[m] as { at: number }).at) m = l;
        if (r < heap.length && (heap[r] as { at: number }).at < (heap[m] as { at: number }).at) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as typeof last, heap[i] as typeof last];
        i = m;
      }
    }
    return top;
  }
}

/** The target and block of a scope, as events carry them. */
export function scopeOf(key: ScopeKey): { target: EnforcementTarget; jurisdictions: string[] } {
  const scope = JSON.parse(key) as Record<string, unknown>;
  const list = (field: string) => (Array.isArray(scope[field]) ? (scope[field] as string[]) : []);
  const accountIds = list("accountIds");
  const target: EnforcementTarget =
    accountIds.length > 0 && list("meetingIds").length === 0
      ? { kind: "account", accountIds }
      : { kind: "meeting", meetingIds: list("meetingIds") };
  return { target, jurisdictions: list("jurisdictions") };
}

function eventOf(type: EnforcementEventType, orderId: string, key: ScopeKey): EnforcementChange {
  return { type, orderId, ...scopeOf(key) };
}

function direction(before: ScopeKey | null, after: ScopeKey | null): { widens: boolean; narrows: boolean } {
  if (before === null) return { widens: true, narrows: false };
  if (after === null) return { widens: false, narrows: true };
  const a = JSON.parse(before) as Record<string, unknown>;
  const b = JSON.parse(after) as Record<string, unknown>;
  let widens = false;
  let narrows = false;
  for (const field of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const old = a[field];
    const now = b[field];
    if (canonicalJson(old ?? null) === canonicalJson(now ?? null)) continue;
    const isList = (v: unknown) =>
      v === undefined || (Array.isArray(v) && v.every((x) => typeof x === "string"));
    if (isList(old) && isList(now)) {
      const was = new Set((old ?? []) as string[]);
      const is = new Set((now ?? []) as string[]);
      const gained = [...is].some((x) => !was.has(x));
      const lost = [...was].some((x) => !is.has(x));
      const reversed = NARROWING_LISTS.has(field);
      if ((gained && !reversed) || (lost && reversed)) widens = true;
      if ((lost && !reversed) || (gained && reversed)) narrows = true;
    } else {
      widens = true;
      narrows = true;
    }
  }
  return { widens, narrows };
}

/** JSON with object keys sorted and lists of strings sorted (they are sets here), at every depth. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    return items.every((x) => typeof x === "string") ? [...(items as string[])].sort() : items;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}
