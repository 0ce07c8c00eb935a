/**
 * Where enforcement events are published, exactly once, with the state they were reconciled to: the
 * embedded journal (file/event-journal.ts) and the Redis stream (redis/enforcement-events.ts). Any
 * instance may reconcile at any time; the store's compare-and-set (`rev`) and the staleness rule
 * (`staleness`) make two instances publish one change once and keep an older ruleset from publishing.
 */
import type { EnforcementChange, ScopeKey, StateChange } from "../engine/index.js";

export interface EnforcementEvent extends EnforcementChange {
  /** The store's id: a stream id on Redis (`1733551234567-0`), a sequence number embedded (`42`). */
  id: string;
  /** ISO instant of the reconcile that published it. */
  at: string;
  /** The ruleset version it was reconciled from. */
  rulesetVersion: number;
}

/** What was published last: per order the scope announced, and the ruleset and time it came from. */
export interface PublishedEnforcement {
  /** Bumped by every publish (by one): the compare-and-set token of the next one. */
  rev: number;
  epoch: string | null;
  version: number;
  /** Epoch ms of the reconcile that published last. */
  at: number;
  /** Each order's published scope: a map of the reader's own (`published()` makes a new one each time). */
  orders: Map<string, ScopeKey>;
}

export type PublishedRevision = Omit<PublishedEnforcement, "orders">;

/**
 * What was published after a revision: enough for a reconciler that keeps its own copy of the orders
 * (in step with its publishes) to follow another instance's publishes without reading every order.
 */
export interface PublishedSince {
  /** The revision now; `orders` takes the reader's copy from its revision to this one. */
  revision: PublishedRevision;
  /** Each order a publish since named, with its published scope now (null: none published). */
  orders: Map<string, ScopeKey | null>;
}

/**
 * How much of the publishes' history a store keeps for `changesSince`: the orders named by the last
 * `publishes` publishes, and no more than `orders` of them (two runs of the reconciler's largest
 * publish). Past that, reading what changed would cost about as much as reading every order.
 */
export const KEPT_CHANGES = { publishes: 1024, orders: 20_000 } as const;

export interface PublishBatch {
  /** The `rev` the batch was computed from: a publish in between makes it a conflict. */
  rev: number;
  epoch: string | undefined;
  version: number;
  at: number;
  changes: StateChange[];
  events: Omit<EnforcementEvent, "id">[];
}

export type PublishResult =
  | { kind: "published"; ids: string[] }
  /** Another reconcile published first: read again and reconcile against what it published. */
  | { kind: "conflict" }
  /** This instance's ruleset or clock is behind what is published; `retryAt`: when its clock catches up. */
  | { kind: "stale"; reason: string; retryAt?: number };

export interface EventPage {
  events: EnforcementEvent[];
  /** Events after the cursor were trimmed (older than the retention): the reader missed some. */
  lost: boolean;
}

/** One order's events, for the console's order page. */
export interface OrderEvents {
  /** Its events still kept, newest first, at most the limit asked for. */
  events: EnforcementEvent[];
  /** More of its events are kept than the limit. */
  more: boolean;
  /** The store has dropped events past the retention (any order's): older ones of this order may be gone. */
  trimmed: boolean;
}

export interface EnforcementEventStore {
  /** How long events are kept, ms (CORDON_EVENTS_RETENTION_HOURS). */
  readonly retentionMs: number;
  published(): Promise<PublishedEnforcement>;
  /**
   * What a reconciler that keeps its own copy of the orders (in step with its publishes) reads instead of
   * `published()`: the orders published after `since` (a revision this store handed out), with their
   * scopes now, read at one revision; `orders` is empty when nothing was published since. Undefined when
   * the store no longer keeps every publish since (`KEPT_CHANGES`) or `since` is not in its history (an
   * emptied store): the reader reads every order.
   */
  changesSince(since: PublishedRevision): Promise<PublishedSince | undefined>;
  publish(batch: PublishBatch): Promise<PublishResult>;
  /** Whether `raw` is a cursor of this store (an event id, or `0` for the beginning). */
  isCursor(raw: string): boolean;
  /** Orders two cursors of this store: negative when `a` comes before `b`. */
  compare(a: string, b: string): number;
  /** The id of the last event, or `0` when there is none: where a subscriber without a cursor starts. */
  latest(): Promise<string>;
  /** Events after `cursor`, oldest first, at most `limit`. */
  read(cursor: string, limit: number): Promise<EventPage>;
  /**
   * One order's events still kept, newest first, at most `limit`. Read-only; it scans what is kept,
   * which stays small (an event per order change or window boundary, for the retention).
   */
  eventsFor(orderId: string, limit: number): Promise<OrderEvents>;
  /**
   * Calls `listener` whenever events may have been added (on Redis: by any instance), and with `true`
   * once when the store closes (the event streams end then).
   */
  listen(listener: (closing?: boolean) => void): () => void;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * Why a batch must not be published over `published`, or null. Within one epoch an older ruleset never
 * publishes (it would undo newer events), and neither does a reconcile dated before the last one (a clock
 * behind another instance's would lift a block that instance saw start). A ruleset of another epoch (a
 * restored history) starts over; the Redis store also asks that it be the epoch Redis holds.
 */
export function staleness(
  published: Pick<PublishedEnforcement, "epoch" | "version" | "at">,
  batch: Pick<PublishBatch, "epoch" | "version" | "at">,
): { reason: string; retryAt?: number } | null {
  if ((batch.epoch ?? null) !== published.epoch) return null;
  if (batch.version < published.version) {
    return { reason: `ruleset v${batch.version} is older than the published v${published.version}` };
  }
  if (batch.at < published.at) {
    return { reason: "this clock is behind the last publish", retryAt: published.at + 1 };
  }
  return null;
}

/** Whether two revisions are one: the same `rev` of the same history, from the same ruleset and instant. */
export function sameRevision(a: PublishedRevision, b: PublishedRevision): boolean {
  return a.rev === b.rev && a.epoch === b.epoch && a.version === b.version && a.at === b.at;
}
