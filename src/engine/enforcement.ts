/**
 * Enforcement events, the pure part: which orders deny at `now` and with what scope (`enforcedState`),
 * the events that move a published state to that one (`reconcile`), and the next instant at which the
 * answer changes by time alone (`nextBoundary`). The stores publish the events atomically with the
 * state; nothing here reads a clock (I8).
 */
import type { CompiledOrder, Ruleset } from "./ruleset.js";

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
  for (const order of ruleset.orders) {
    if (order.mode !== "enforce") continue;
    if (!(order.from <= now && (order.until === null || now < order.until))) continue;
    state.set(order.id, scopeKey(order));
  }
  return state;
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
  const ids = [...new Set([...published.keys(), ...desired.keys()])].sort();
  const changes: StateChange[] = [];
  const events: EnforcementChange[] = [];
  for (const orderId of ids) {
    const before = published.get(orderId) ?? null;
    const after = desired.get(orderId) ?? null;
    if (before === after) continue;
    changes.push({ orderId, before, after });
    const { widens, narrows } = direction(before, after);
    if (narrows && before !== null) events.push(eventOf("block-lifted", orderId, before));
    if (widens && after !== null) events.push(eventOf("block-effective", orderId, after));
  }
  return { changes, events };
}

/**
 * The first instant after `now` at which an enforce-mode order's window opens or closes: when the
 * enforced state changes with no order change. Null when none lies ahead.
 */
export function nextBoundary(ruleset: Ruleset, now: number): number | null {
  let next: number | null = null;
  for (const order of ruleset.orders) {
    if (order.mode !== "enforce") continue;
    for (const t of [order.from, order.until]) {
      if (t !== null && t > now && (next === null || t < next)) next = t;
    }
  }
  return next;
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
