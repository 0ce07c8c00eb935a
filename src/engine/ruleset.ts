/**
 * `compile(orders)` turns approved orders into an immutable `Ruleset`: Maps from meeting and account
 * ids to the compiled orders that name them, built once so that `decide` only does lookups (the
 * shape of Hono's ip-restriction middleware). Time is not compiled in: windows are kept as numbers and
 * judged by `decide` against its `now`, so expiry needs no recompile (I3).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { EntryArena, hashCanonical } from "./canonical.js";
import { blockProblem, normaliseBlocks } from "./jurisdiction.js";
import { effectiveStart } from "./orders.js";
import { rankById } from "./rank-by-id.js";
import type { Order, OrderAction } from "./schemas.js";

export interface CompiledOrder {
  readonly id: string;
  readonly mode: "enforce" | "shadow";
  /**
   * `geoblock`: refuses participants (hosts included) located inside; `prevent_hosting`: refuses hosts
   * located inside only. A document leaves out the default (`geoblock`), so documents and hashes of
   * rulesets compiled before actions existed are unchanged.
   */
  readonly action: OrderAction;
  /** Accounts never refused under this order (EXEMPT), sorted; a document leaves out an empty list. */
  readonly exemptAccountIds: readonly string[];
  readonly authority: string;
  /** Block jurisdictions, each inside `authority` (re-checked here: I1). */
  readonly jurisdictions: readonly string[];
  /** Enforcement window `[from, until)` in epoch ms; `until` null means open-ended. */
  readonly from: number;
  readonly until: number | null;
  readonly meetingIds: readonly string[];
  readonly accountIds: readonly string[];
}

export interface Ruleset {
  /** Monotonically increasing: the store's sequence number of the last order change compiled in. */
  readonly version: number;
  /**
   * The order history the version counts in (Redis: a random token made with its first entry). Versions
   * of two epochs are not comparable; absent for a store with one history only (the embedded store).
   */
  readonly epoch?: string;
  /**
   * The SHA-256 of the compiled orders by `hashScheme` (see `HASH_SCHEME`): equal hashes mean equal
   * enforcement.
   */
  readonly hash: string;
  /** How `hash` is computed: `HASH_SCHEME`; absent: the whole sorted list (documents of earlier releases). */
  readonly hashScheme?: HashScheme;
  readonly compiledAt: string;
  /** Sorted by id. */
  readonly orders: readonly CompiledOrder[];
  readonly meetings: ReadonlyMap<string, readonly CompiledOrder[]>;
  readonly accounts: ReadonlyMap<string, readonly CompiledOrder[]>;
  /** Orders left out at compile time, with why (an I1 breach that slipped past entry, say). */
  readonly excluded: readonly { id: string; reason: string }[];
}

/**
 * A compiled order as a document carries it: `action` and `exemptAccountIds` only when they differ from
 * the defaults (`geoblock`, none).
 */
export type CompiledOrderDocument = Omit<CompiledOrder, "action" | "exemptAccountIds"> & {
  readonly action?: OrderAction;
  readonly exemptAccountIds?: readonly string[];
};

/** The portable form of a ruleset (what is stored, published and signed). */
export interface RulesetDocument {
  version: number;
  epoch?: string;
  hash: string;
  hashScheme?: HashScheme;
  compiledAt: string;
  orders: CompiledOrderDocument[];
}

/**
 * The shape of a ruleset document read from outside (a file, Redis, KV), checked before `fromDocument`,
 * which trusts the shape: a truncated or foreign document must be refused with a message, not fail
 * half-way through a rebuild.
 */
export const RulesetDocumentShape = z.strictObject({
  version: z.number().int().nonnegative(),
  epoch: z.string().min(1).optional(),
  hash: z.string(),
  hashScheme: z.literal("buckets-4096").optional(),
  compiledAt: z.string(),
  orders: z.array(
    z.strictObject({
      id: z.string(),
      mode: z.enum(["enforce", "shadow"]),
      action: z.enum(["geoblock", "prevent_hosting"]).optional(),
      exemptAccountIds: z.array(z.string()).optional(),
      authority: z.string(),
      jurisdictions: z.array(z.string()),
      from: z.number(),
      until: z.number().nullable(),
      meetingIds: z.array(z.string()),
      accountIds: z.array(z.string()),
    }),
  ),
});

/**
 * A streaming SHA-256, fed the canonical text in pieces. The engine's default is `@noble/hashes` (it runs
 * everywhere); a runtime may hand in its native one (`node:crypto`), which gives the same digest faster.
 */
export interface Sha256Stream {
  /** The next piece of the text, as a string or as its UTF-8 bytes (read before the call returns). */
  update(data: string | Uint8Array): void;
  hex(): string;
}

export interface CompileOptions {
  sha256?: () => Sha256Stream;
}

export interface CompileMeta {
  version: number;
  compiledAt: string;
  epoch?: string | undefined;
}

/**
 * A compile in steps: it yields after each slice of work (a few thousand orders), so a caller on an event
 * loop can answer requests between slices and the result is installed whole (`runSteps` runs it at once).
 */
export type CompileSteps = Generator<void, Ruleset, void>;

/** Orders (or map entries, or buckets' worth of orders) handled between two yields of a `CompileSteps`. */
const SLICE = 4096;

/**
 * The ruleset hash (`Ruleset.hash`), in two levels so that a change rehashes only what it touches: the
 * orders fall into `BUCKETS` buckets by their id (`bucketOf`); a bucket's digest is the SHA-256 (hex)
 * of the canonical JSON of its orders, sorted by id (the text the whole list had before, restricted to
 * the bucket: `[` entries `]`); the hash is the SHA-256 of, for each bucket holding orders in bucket
 * order, its number as 3 lower-case hex digits followed by its digest, all written one after the
 * other (no ruleset: the SHA-256 of nothing). Equal hashes still mean equal enforcement. Documents
 * without `hashScheme` carry the earlier definition (SHA-256 of the whole sorted list) and are
 * verified by it.
 */
export const HASH_SCHEME = "buckets-4096";
export type HashScheme = typeof HASH_SCHEME;
const BUCKETS = 4096;
/** The list of every empty bucket. */
const EMPTY_BUCKET: readonly CompiledOrder[] = Object.freeze([]);

/**
 * The bucket of an order id: FNV-1a over its UTF-16 code units, finished with murmur3's mixer (the low
 * bits well spread whatever the ids look like). Part of the hash's definition: never change it.
 */
export function bucketOf(id: string): number {
  return mixedFnv1a(id) & (BUCKETS - 1);
}

/**
 * FNV-1a (32 bits) over the UTF-16 code units of `text`, finished with murmur3's mixer: a cheap,
 * stable spread of ids. The ruleset's buckets and the edge's shards (`rulesets/sharded.ts`) are both
 * defined by it, so it never changes.
 */
export function mixedFnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * What a version keeps beside itself to build the next one in O(changed): its orders by bucket (each
 * sorted by id), the bucket digests, and which version it was built from with which order ids changed
 * (`changedOrderIds`). `token` names the version without keeping it alive.
 */
interface Buckets {
  readonly lists: readonly (readonly CompiledOrder[])[];
  readonly digests: readonly string[];
  readonly token: object;
  readonly from?: { readonly token: object; readonly ids: ReadonlySet<string> };
}

/** Per ruleset, its buckets (held weakly: a ruleset no one reads any more goes with them). */
const bucketsOf = new WeakMap<Ruleset, Buckets>();

export function compile(orders: readonly Order[], meta: CompileMeta, options: CompileOptions = {}): Ruleset {
  return runSteps(compileSteps(orders, meta, options));
}

/** Runs a compile to its end without yielding. */
export function runSteps<T = Ruleset>(steps: Generator<void, T, void>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

export function* compileSteps(
  orders: readonly Order[],
  meta: CompileMeta,
  options: CompileOptions = {},
): CompileSteps {
  // A million orders are far more memory than any cache: each pass below walks what it reads in the
  // order it was allocated (the input's, then the compiled orders'), and only the sort by id within a
  // bucket jumps about, over a few hundred orders at a time.
  // 1. Each approved order compiled, or why it is left out, in input order; `k` numbers the approved.
  const shared = new SharedParts();
  const ids: string[] = [];
  const results: (CompiledOrder | string)[] = [];
  const positions: number[] = [];
  const bucketAt = new Uint16Array(orders.length);
  for (let at = 0; at < orders.length; at++) {
    if ((at + 1) % SLICE === 0) yield;
    const order = orders[at] as Order;
    if (order.status !== "approved") continue;
    bucketAt[ids.length] = bucketOf(order.id);
    ids.push(order.id);
    results.push(compileOrder(order, shared));
    positions.push(at);
  }
  const count = ids.length;
  // 2. Grouped by bucket, input order kept within each (a counting sort).
  const starts = new Int32Array(BUCKETS + 1);
  for (let k = 0; k < count; k++) (starts[(bucketAt[k] as number) + 1] as number)++;
  for (let b = 0; b < BUCKETS; b++) starts[b + 1] = (starts[b + 1] as number) + (starts[b] as number);
  const ends = starts.slice(0, BUCKETS);
  const grouped = new Int32Array(count);
  for (let k = 0; k < count; k++) grouped[(ends[bucketAt[k] as number] as number)++] = k;
  yield;
  // 3. Each bucket sorted by id; of two approved orders under one id the first keeps it (a duplicate
  // would make the hash depend on input order; the store never produces one).
  const lists: (readonly CompiledOrder[])[] = new Array(BUCKETS).fill(EMPTY_BUCKET);
  const indexed = new Uint8Array(count);
  // Each bucket's orders (their `k`) in the bucket's order: `inBucket[starts[b]..starts[b] + size)`.
  const inBucket = new Int32Array(count);
  const excluded: { id: string; reason: string; at: number }[] = [];
  let n = 0;
  for (let b = 0; b < BUCKETS; b++) {
    const from = starts[b] as number;
    const size = (starts[b + 1] as number) - from;
    if (size === 0) continue;
    n += size;
    if (n >= SLICE) {
      n = 0;
      yield;
    }
    const keys: string[] = new Array(size);
    for (let j = 0; j < size; j++) keys[j] = ids[grouped[from + j] as number] as string;
    const rank = rankById(keys);
    const list: CompiledOrder[] = [];
    for (let j = 0; j < size; j++) {
      const r = rank[j] as number;
      const k = grouped[from + r] as number;
      const result = results[k] as CompiledOrder | string;
      if (j > 0 && keys[rank[j - 1] as number] === keys[r])
        excluded.push({ id: keys[r] as string, reason: "duplicate order id", at: positions[k] as number });
      else if (typeof result === "string")
        excluded.push({ id: keys[r] as string, reason: result, at: positions[k] as number });
      else {
        inBucket[from + list.length] = k;
        list.push(result);
        indexed[k] = 1;
      }
    }
    lists[b] = Object.freeze(list);
  }
  // 4. The meeting and account index, in input order; an entry naming several orders is put in id order.
  const meetings = new Map<string, CompiledOrder[]>();
  const accounts = new Map<string, CompiledOrder[]>();
  for (let k = 0; k < count; k++) {
    if ((k + 1) % SLICE === 0) yield;
    if (indexed[k] === 0) continue;
    const order = results[k] as CompiledOrder;
    for (const id of order.meetingIds) push(meetings, id, order);
    for (const id of order.accountIds) push(accounts, id, order);
  }
  sealIndex(meetings);
  sealIndex(accounts);
  yield;
  // 5. The bucket digests, from each order's entry of the hash text written in input order, a window of
  // buckets at a time (see `EntryArena`).
  const digests: string[] = new Array(BUCKETS).fill("");
  const sha256 = options.sha256 ?? nobleSha256;
  const arena = new EntryArena(count);
  const span = Math.ceil(BUCKETS / arena.windows);
  for (let first = 0; first < BUCKETS; first += span) {
    const last = Math.min(BUCKETS, first + span);
    arena.clear();
    for (let k = 0; k < count; k++) {
      if ((k + 1) % SLICE === 0) yield;
      const b = bucketAt[k] as number;
      if (b >= first && b < last && indexed[k] === 1) arena.add(k, results[k] as CompiledOrder);
    }
    for (let b = first; b < last; b++) {
      if (b % 64 === 63) yield;
      const from = starts[b] as number;
      const size = (lists[b] as readonly CompiledOrder[]).length;
      if (size > 0) digests[b] = arena.hash(inBucket, from, from + size, sha256());
    }
  }
  excluded.sort((a, b) => a.at - b.at);
  const buckets: Buckets = { lists, digests, token: {} };
  return sealBuckets(
    meta,
    buckets,
    options,
    meetings,
    accounts,
    excluded.map(({ id, reason }) => ({ id, reason })),
  );
}

/**
 * The ruleset `compile` gives for the orders `previous` was compiled from, with `changed` (each order's
 * state after the change; an order id given twice: the last wins) in place of their earlier states.
 * Only the changed orders are compiled, only their buckets rehashed and only their meetings' and
 * accounts' entries rebuilt; the rest is shared with `previous`, which stays intact for the checks still
 * reading it. `previous` must be of the same history (epoch) as `meta`.
 */
export function* recompileSteps(
  previous: Ruleset,
  changed: Iterable<Order>,
  meta: CompileMeta,
  options: CompileOptions = {},
): CompileSteps {
  const latest = new Map<string, Order>();
  for (const order of changed) latest.set(order.id, order);
  const shared = new SharedParts();
  const next = new Map<string, CompiledOrder | undefined>();
  const newExclusions: { id: string; reason: string }[] = [];
  let n = 0;
  for (const [id, order] of latest) {
    if (++n % SLICE === 0) yield;
    const one = order.status === "approved" ? compileOrder(order, shared) : undefined;
    if (typeof one === "string") newExclusions.push({ id, reason: one });
    next.set(id, typeof one === "string" ? undefined : one);
  }
  const excluded = previous.excluded.filter((e) => !latest.has(e.id)).concat(newExclusions);
  return yield* patchSteps(previous, next, excluded, meta, options);
}

/**
 * The version after `previous` with the orders of `changed` replaced: each id by its compiled order, or
 * taken out (undefined). Only their buckets are rehashed and only their meetings' and accounts' index
 * entries rebuilt; the rest is shared with `previous`, which stays intact for the checks still reading
 * it. The core of `recompileSteps` and `applyDelta`.
 */
function* patchSteps(
  previous: Ruleset,
  changed: ReadonlyMap<string, CompiledOrder | undefined>,
  excluded: { id: string; reason: string }[],
  meta: CompileMeta,
  options: CompileOptions,
): CompileSteps {
  const base = bucketsOf.get(previous) ?? (yield* bucketsFromList(previous, options));
  const added = new Map<number, CompiledOrder[]>();
  const touchedMeetings = new Set<string>();
  const touchedAccounts = new Set<string>();
  let n = 0;
  for (const [id, one] of changed) {
    if (++n % SLICE === 0) yield;
    const bucket = bucketOf(id);
    if (!added.has(bucket)) added.set(bucket, []);
    const before = findById(base.lists[bucket] as readonly CompiledOrder[], id);
    if (before) {
      for (const m of before.meetingIds) touchedMeetings.add(m);
      for (const a of before.accountIds) touchedAccounts.add(a);
    }
    if (one === undefined) continue;
    added.get(bucket)?.push(one);
    for (const m of one.meetingIds) touchedMeetings.add(m);
    for (const a of one.accountIds) touchedAccounts.add(a);
  }
  const lists = base.lists.slice();
  const digests = base.digests.slice();
  const fresh: CompiledOrder[] = [];
  for (const [bucket, orders] of added) {
    if (++n % 64 === 0) yield;
    orders.sort(byId);
    fresh.push(...orders);
    const kept = (lists[bucket] as readonly CompiledOrder[]).filter((o) => !changed.has(o.id));
    const list = Object.freeze(mergeById(kept, orders));
    lists[bucket] = list;
    digests[bucket] = bucketDigest(list, options);
  }
  fresh.sort(byId);
  const byMeeting = groupBy(fresh, (o) => o.meetingIds);
  const byAccount = groupBy(fresh, (o) => o.accountIds);
  const meetings = yield* reindex(previous.meetings, touchedMeetings, byMeeting, changed);
  const accounts = yield* reindex(previous.accounts, touchedAccounts, byAccount, changed);
  const buckets: Buckets = {
    lists,
    digests,
    token: {},
    from: { token: base.token, ids: new Set(changed.keys()) },
  };
  return sealBuckets(meta, buckets, options, meetings, accounts, excluded);
}

export function recompile(
  previous: Ruleset,
  changed: Iterable<Order>,
  meta: CompileMeta,
  options: CompileOptions = {},
): Ruleset {
  return runSteps(recompileSteps(previous, changed, meta, options));
}

/**
 * The ids of the orders that may differ between `previous` and `next`, when `next` was recompiled from
 * `previous` (what the enforcement events reconcile, instead of every order); undefined when it was
 * not (compiled afresh, read from a document): then any order may differ.
 */
export function changedOrderIds(next: Ruleset, previous: Ruleset): ReadonlySet<string> | undefined {
  const from = bucketsOf.get(next)?.from;
  const base = bucketsOf.get(previous);
  return from !== undefined && base !== undefined && from.token === base.token ? from.ids : undefined;
}

/**
 * What turns one version into the next where both hold the earlier one (a follower, another instance):
 * the changed orders only, and the hash the result must have. `base` names the version it applies to.
 */
export interface RulesetDelta {
  readonly base: { readonly version: number; readonly hash: string };
  readonly version: number;
  readonly epoch?: string;
  readonly hash: string;
  readonly compiledAt: string;
  /** The changed orders that `next` enforces, as a document carries them (sorted by id). */
  readonly upserts: readonly CompiledOrderDocument[];
  /** The changed order ids that `next` no longer holds (sorted). */
  readonly removed: readonly string[];
  /** `next`'s `excluded`, whole (short: orders that slipped past I1). */
  readonly excluded: readonly { id: string; reason: string }[];
}

/** The shape of a delta read from outside, checked before `applyDelta` (which trusts the shape). */
export const RulesetDeltaShape = z.strictObject({
  base: z.strictObject({ version: z.number().int().nonnegative(), hash: z.string() }),
  version: z.number().int().nonnegative(),
  epoch: z.string().min(1).optional(),
  hash: z.string(),
  compiledAt: z.string(),
  upserts: RulesetDocumentShape.shape.orders,
  removed: z.array(z.string()),
  excluded: z.array(z.strictObject({ id: z.string(), reason: z.string() })),
});

/**
 * The delta from `previous` to `next`, when `next` was recompiled from it (`changedOrderIds`), with the
 * bucketed hash; undefined otherwise (then only the whole document says what `next` is).
 */
export function rulesetDelta(next: Ruleset, previous: Ruleset): RulesetDelta | undefined {
  const ids = changedOrderIds(next, previous);
  if (ids === undefined || next.hashScheme !== HASH_SCHEME) return undefined;
  const upserts: CompiledOrderDocument[] = [];
  const removed: string[] = [];
  for (const id of [...ids].sort()) {
    const order = findOrder(next, id);
    if (order) upserts.push(documentOrder(order));
    else removed.push(id);
  }
  return {
    base: { version: previous.version, hash: previous.hash },
    version: next.version,
    ...(next.epoch === undefined ? {} : { epoch: next.epoch }),
    hash: next.hash,
    compiledAt: next.compiledAt,
    upserts,
    removed,
    excluded: next.excluded,
  };
}

/**
 * The version `delta` describes, built on `previous` as `recompile` builds one: O(changed), the rest
 * shared. Checked as `fromDocument` checks a document: `previous` must be the delta's base (version
 * and hash), each order's window must be readable and its blocks inside its authority (I1, by the
 * table as it stands), and the result's hash, recomputed over the touched buckets and the untouched
 * ones' digests (verified when `previous` was made), must be the one stated. Throws on any doubt.
 */
export function applyDelta(previous: Ruleset, delta: RulesetDelta, options: CompileOptions = {}): Ruleset {
  const fail = (why: string): never => {
    throw new Error(`ruleset delta to v${delta.version}: ${why}`);
  };
  if (delta.base.version !== previous.version || delta.base.hash !== previous.hash)
    fail(
      `its base is v${delta.base.version} (${delta.base.hash}), this ruleset is v${previous.version} (${previous.hash})`,
    );
  if (delta.epoch !== previous.epoch) fail("its history (epoch) is not this ruleset's");
  const changed = new Map<string, CompiledOrder | undefined>();
  for (const id of delta.removed) changed.set(id, undefined);
  for (const o of delta.upserts) {
    if (changed.has(o.id)) fail(`order ${o.id} is named twice`);
    if (!Number.isFinite(o.from) || (o.until !== null && !Number.isFinite(o.until)))
      fail(`order ${o.id} has an unreadable window`);
    const outside = outsideAuthority(o.authority, o.jurisdictions);
    if (outside.length > 0) fail(`order ${o.id} blocks outside its authority: ${outside.join(", ")}`);
    changed.set(o.id, fromOrderDocument(o, adopted(o.jurisdictions)));
  }
  const meta = {
    version: delta.version,
    compiledAt: delta.compiledAt,
    ...(delta.epoch === undefined ? {} : { epoch: delta.epoch }),
  };
  const excluded = delta.excluded.map(({ id, reason }) => ({ id, reason }));
  const next = runSteps(patchSteps(previous, changed, excluded, meta, options));
  if (next.hash !== delta.hash) fail(`hash mismatch (${delta.hash} stated, ${next.hash} computed)`);
  return next;
}

/**
 * Every compiled order of `ruleset`, in no set order: by bucket where it has them, so that a walk over
 * all orders does not make the sorted list (`orders`).
 */
export function* eachOrder(ruleset: Ruleset): Generator<CompiledOrder, void, void> {
  const buckets = bucketsOf.get(ruleset);
  if (buckets === undefined) yield* ruleset.orders;
  else for (const list of buckets.lists) yield* list;
}

/** The compiled order with this id in `ruleset`, if it enforces one (its bucket, then a binary search). */
export function findOrder(ruleset: Ruleset, id: string): CompiledOrder | undefined {
  const buckets = bucketsOf.get(ruleset);
  return findById(buckets ? (buckets.lists[bucketOf(id)] as readonly CompiledOrder[]) : ruleset.orders, id);
}

/**
 * The buckets of a ruleset that has none (read from a document of the earlier hash, or not made here):
 * the base of a recompile, kept for the next one. Hashes every order, once.
 */
function* bucketsFromList(ruleset: Ruleset, options: CompileOptions): Generator<void, Buckets, void> {
  const lists = groupIntoBuckets(ruleset.orders);
  const digests: string[] = new Array(BUCKETS);
  for (let b = 0; b < BUCKETS; b++) {
    if (b % 64 === 63) yield;
    digests[b] = bucketDigest(lists[b] as readonly CompiledOrder[], options);
  }
  const buckets: Buckets = { lists, digests, token: {} };
  bucketsOf.set(ruleset, buckets);
  return buckets;
}

/** Orders sorted by id, by bucket (each bucket sorted by id too). */
function groupIntoBuckets(orders: readonly CompiledOrder[]): (readonly CompiledOrder[])[] {
  const lists: (CompiledOrder[] | undefined)[] = new Array(BUCKETS);
  // biome-ignore lint/suspicious/noAssignInExpressions: a bucket's list is made when first needed
  for (const order of orders) (lists[bucketOf(order.id)] ??= []).push(order);
  const out: (readonly CompiledOrder[])[] = new Array(BUCKETS);
  for (let b = 0; b < BUCKETS; b++)
    out[b] = lists[b] ? Object.freeze(lists[b]?.sort(byId) ?? []) : EMPTY_BUCKET;
  return out;
}

/** The orders of all buckets, sorted by id: made when first read (a check never reads it). */
function fromBuckets(lists: readonly (readonly CompiledOrder[])[]): readonly CompiledOrder[] {
  let size = 0;
  for (const list of lists) size += list.length;
  const out: CompiledOrder[] = new Array(size);
  let i = 0;
  for (const list of lists) for (const order of list) out[i++] = order;
  // 4096 sorted runs: the merge sort finds them and merges.
  return out.sort(byId);
}

/**
 * Rebuilds a ruleset from its document, checking the hash by the document's scheme (a ruleset read from
 * disk, Redis or KV; a document of an earlier release carries none: the whole-list hash).
 * The hash is unkeyed, so it catches corruption, not forgery: I1 and the windows are checked again
 * here, as `compile` would have, and a document that `compile` could not have produced is refused.
 */
export function fromDocument(doc: RulesetDocument, options: CompileOptions = {}): Ruleset {
  const ruleset = build(doc, []);
  let hash: string;
  if (doc.hashScheme === HASH_SCHEME) {
    const lists = groupIntoBuckets(ruleset.orders);
    const digests = lists.map((list) => bucketDigest(list, options));
    hash = topDigest(digests, options);
    bucketsOf.set(ruleset, { lists, digests, token: {} });
  } else {
    hash = hashOrders(ruleset.orders, options);
  }
  if (hash !== doc.hash)
    throw new Error(`ruleset v${doc.version}: hash mismatch (${doc.hash} stated, ${hash} computed)`);
  // I1 once per block list (`build` shares one array among the orders with the same authority and blocks).
  const checked = new Map<readonly string[], string[]>();
  for (const order of ruleset.orders) {
    if (!Number.isFinite(order.from) || (order.until !== null && !Number.isFinite(order.until))) {
      throw new Error(`ruleset v${doc.version}: order ${order.id} has an unreadable window`);
    }
    let outside = checked.get(order.jurisdictions);
    if (outside === undefined) {
      outside = outsideAuthority(order.authority, order.jurisdictions);
      checked.set(order.jurisdictions, outside);
    }
    if (outside.length > 0) {
      throw new Error(
        `ruleset v${doc.version}: order ${order.id} blocks outside its authority: ${outside.join(", ")}`,
      );
    }
  }
  return ruleset;
}

/** One bucket of a ruleset as a snapshot keeps it: its number, digest and orders (sorted by id). */
export interface BucketDocument {
  readonly bucket: number;
  readonly digest: string;
  readonly orders: readonly CompiledOrderDocument[];
}

/**
 * The non-empty buckets of `ruleset` in bucket order, each with its digest: what a snapshot writes so
 * that `fromBucketDocuments` can rebuild the ruleset without hashing every order again. A ruleset that
 * has no buckets (read from a document of the earlier hash) gets them here, once. The orders are the
 * ruleset's own, frozen (a compiled order is a document with its defaults written out): a writer of a
 * million orders copies none of them.
 */
export function* bucketDocuments(
  ruleset: Ruleset,
  options: CompileOptions = {},
): Generator<BucketDocument, void, void> {
  const buckets = bucketsOf.get(ruleset) ?? runSteps(bucketsFromList(ruleset, options));
  for (let b = 0; b < BUCKETS; b++) {
    const list = buckets.lists[b] as readonly CompiledOrder[];
    if (list.length > 0) yield { bucket: b, digest: buckets.digests[b] as string, orders: list };
  }
}

/**
 * Rebuilds a ruleset from its buckets (`bucketDocuments`) and meta, as a snapshot on local disk holds
 * it; the result is the base of an incremental recompile like one `compile` made. Checked as
 * `fromDocument` checks (the windows, I1 by the table as it stands, the hash over the digests), and
 * every order in its own bucket, in id order, once. Each bucket's digest is taken as written, not
 * recomputed from its orders (that is most of a compile's cost): the caller vouches for the bytes (a
 * snapshot's checksum over them), as it would for any file it wrote itself; given `verify`, each is
 * recomputed from its orders with those options and must match (buckets read from elsewhere: Redis).
 * A list the documents hold frozen is taken as it is (nothing can change it: a reader that freezes the
 * lists it parsed saves a million copies); any other is copied.
 */
export function fromBucketDocuments(
  meta: CompileMeta & {
    readonly hash: string;
    /** The ruleset's `excluded`, carried beside its buckets. */
    readonly excluded?: readonly { id: string; reason: string }[];
  },
  documents: Iterable<BucketDocument>,
  verify?: CompileOptions,
): Ruleset {
  const lists: (readonly CompiledOrder[])[] = new Array(BUCKETS).fill(EMPTY_BUCKET);
  const digests: string[] = new Array(BUCKETS).fill("");
  const meetings = new Map<string, CompiledOrder[]>();
  const accounts = new Map<string, CompiledOrder[]>();
  const checked = new Map<string, readonly string[]>();
  const fail = (why: string): never => {
    throw new Error(`ruleset v${meta.version}: ${why}`);
  };
  let last = -1;
  for (const { bucket, digest, orders } of documents) {
    if (!Number.isInteger(bucket) || bucket <= last || bucket >= BUCKETS)
      fail(`bucket ${bucket} out of order`);
    if (orders.length === 0 || !/^[0-9a-f]{64}$/.test(digest))
      fail(`bucket ${bucket} is empty or has no digest`);
    last = bucket;
    const list: CompiledOrder[] = new Array(orders.length);
    for (let i = 0; i < orders.length; i++) {
      const o = orders[i] as CompiledOrderDocument;
      if (bucketOf(o.id) !== bucket) fail(`order ${o.id} is not in its bucket`);
      if (i > 0 && !((list[i - 1] as CompiledOrder).id < o.id)) fail(`bucket ${bucket} is not in id order`);
      if (!Number.isFinite(o.from) || (o.until !== null && !Number.isFinite(o.until)))
        fail(`order ${o.id} has an unreadable window`);
      // I1, once per authority and block list.
      const key = blockKey(o.authority, o.jurisdictions);
      let jurisdictions = checked.get(key);
      if (jurisdictions === undefined) {
        const outside = outsideAuthority(o.authority, o.jurisdictions);
        if (outside.length > 0) fail(`order ${o.id} blocks outside its authority: ${outside.join(", ")}`);
        jurisdictions = adopted(o.jurisdictions);
        checked.set(key, jurisdictions);
      }
      const order = fromOrderDocument(o, jurisdictions);
      list[i] = order;
      for (const id of order.meetingIds) push(meetings, id, order);
      for (const id of order.accountIds) push(accounts, id, order);
    }
    lists[bucket] = Object.freeze(list);
    if (verify !== undefined && bucketDigest(list, verify) !== digest)
      fail(`bucket ${bucket}: its digest is not that of its orders`);
    digests[bucket] = digest;
  }
  sealIndex(meetings);
  sealIndex(accounts);
  const hash = topDigest(digests, verify ?? {});
  if (hash !== meta.hash) fail(`hash mismatch (${meta.hash} stated, ${hash} over the bucket digests)`);
  const excluded = (meta.excluded ?? []).map(({ id, reason }) => ({ id, reason }));
  const buckets: Buckets = { lists, digests, token: {} };
  return seal(meta, hash, HASH_SCHEME, () => fromBuckets(lists), meetings, accounts, excluded, buckets);
}

export function toDocument(ruleset: Ruleset): RulesetDocument {
  return {
    version: ruleset.version,
    ...(ruleset.epoch === undefined ? {} : { epoch: ruleset.epoch }),
    hash: ruleset.hash,
    ...(ruleset.hashScheme === undefined ? {} : { hashScheme: ruleset.hashScheme }),
    compiledAt: ruleset.compiledAt,
    orders: ruleset.orders.map(documentOrder),
  };
}

/**
 * A compiled order without its default `action` and empty `exemptAccountIds` (see `CompiledOrder`),
 * frozen like the order it comes from (its arrays are the order's own frozen ones).
 */
function documentOrder(order: CompiledOrder): CompiledOrderDocument {
  const { action, exemptAccountIds, ...rest } = order;
  return Object.freeze({
    ...rest,
    ...(action === "geoblock" ? {} : { action }),
    ...(exemptAccountIds.length === 0 ? {} : { exemptAccountIds }),
  });
}

export function emptyRuleset(compiledAt: string): Ruleset {
  return compile([], { version: 0, compiledAt });
}

/**
 * The earlier ruleset hash (documents without `hashScheme`): SHA-256 of the canonical JSON of the
 * compiled orders, `JSON.stringify` of one array entry per order, in the order given (by id). Key order
 * is fixed by construction and arrays are sorted, so the text is canonical. The action and exemptions
 * join an order's entry only when not the defaults: a ruleset without either hashes as it did before
 * they existed. A bucket's digest is this over the bucket's orders.
 */
function hashOrders(orders: readonly CompiledOrder[], options: CompileOptions = {}): string {
  return hashCanonical(orders, (options.sha256 ?? nobleSha256)());
}

/** A bucket's digest; an empty bucket has none (""), and the ruleset hash leaves it out. */
function bucketDigest(orders: readonly CompiledOrder[], options: CompileOptions): string {
  return orders.length === 0 ? "" : hashOrders(orders, options);
}

/** The ruleset hash over the bucket digests: per bucket with orders, its number (3 hex digits) and digest. */
function topDigest(digests: readonly string[], options: CompileOptions): string {
  const hash = (options.sha256 ?? nobleSha256)();
  let text = "";
  for (let b = 0; b < digests.length; b++) {
    const digest = digests[b] as string;
    if (digest === "") continue;
    text += b.toString(16).padStart(3, "0") + digest;
    if (text.length >= 16_384) {
      hash.update(text);
      text = "";
    }
  }
  hash.update(text);
  return hash.hex();
}

function nobleSha256(): Sha256Stream {
  const hash = sha256.create();
  return {
    update: (data) => {
      hash.update(typeof data === "string" ? utf8ToBytes(data) : data);
    },
    hex: () => bytesToHex(hash.digest()),
  };
}

/** I1: the block jurisdictions that do not lie inside the authority's, by the reviewed table. */
function outsideAuthority(authority: string, jurisdictions: readonly string[]): string[] {
  return jurisdictions.filter((j) => blockProblem(authority, j) !== null);
}

/** Why an order is left out: the first words name the rule (read by people and by the tests). */
function exclusionReason(
  problems: readonly { code: string; jurisdiction: string; message: string }[],
): string {
  const outside = problems
    .filter((p) => p.code === "JURISDICTION_OUTSIDE_AUTHORITY")
    .map((p) => p.jurisdiction);
  const parts: string[] = [];
  if (outside.length > 0) parts.push(`jurisdictions outside the authority: ${outside.join(", ")}`);
  for (const p of problems) {
    if (p.code === "SEPARATE_LEGAL_ORDER") parts.push(`separate legal order: ${p.message}`);
    if (p.code === "UNLOCATABLE_JURISDICTION") parts.push(`unlocatable jurisdiction: ${p.message}`);
  }
  return parts.join("; ");
}

function build(doc: RulesetDocument, excluded: { id: string; reason: string }[]): Ruleset {
  const meetings = new Map<string, CompiledOrder[]>();
  const accounts = new Map<string, CompiledOrder[]>();
  // Copies, frozen to the arrays: the document (and what `toDocument` hands out) must not alias a live
  // ruleset, or a caller's edit would change enforcement without changing the hash. Orders of one
  // authority with the same blocks share one frozen block list, as a compile's do.
  const blocks = new Map<string, readonly string[]>();
  const frozen = doc.orders.map((o) => {
    const key = blockKey(o.authority, o.jurisdictions);
    let jurisdictions = blocks.get(key);
    if (jurisdictions === undefined) {
      jurisdictions = frozenCopy(o.jurisdictions);
      blocks.set(key, jurisdictions);
    }
    return Object.freeze({
      ...o,
      action: o.action ?? "geoblock",
      exemptAccountIds: frozenCopy(o.exemptAccountIds ?? EMPTY),
      jurisdictions,
      meetingIds: frozenCopy(o.meetingIds),
      accountIds: frozenCopy(o.accountIds),
    });
  });
  // The bucketed hash does not depend on the document's order; the ruleset's list is by id all the same.
  // (The whole-list hash is over the document's order, which its writer sorted.)
  if (doc.hashScheme === HASH_SCHEME) frozen.sort(byId);
  for (const order of frozen) {
    for (const id of order.meetingIds) push(meetings, id, order);
    for (const id of order.accountIds) push(accounts, id, order);
  }
  for (const list of meetings.values()) Object.freeze(list);
  for (const list of accounts.values()) Object.freeze(list);
  return seal(doc, doc.hash, doc.hashScheme, Object.freeze(frozen), meetings, accounts, excluded);
}

/** `seal` for a version made from buckets (compile, recompile): its hash and order list come from them. */
function sealBuckets(
  meta: CompileMeta,
  buckets: Buckets,
  options: CompileOptions,
  meetings: ReadonlyMap<string, readonly CompiledOrder[]>,
  accounts: ReadonlyMap<string, readonly CompiledOrder[]>,
  excluded: { id: string; reason: string }[],
): Ruleset {
  const { lists, digests } = buckets;
  return seal(
    meta,
    topDigest(digests, options),
    HASH_SCHEME,
    () => fromBuckets(lists),
    meetings,
    accounts,
    excluded,
    buckets,
  );
}

function seal(
  meta: CompileMeta,
  hash: string,
  hashScheme: HashScheme | undefined,
  orders: readonly CompiledOrder[] | (() => readonly CompiledOrder[]),
  meetings: ReadonlyMap<string, readonly CompiledOrder[]>,
  accounts: ReadonlyMap<string, readonly CompiledOrder[]>,
  excluded: { id: string; reason: string }[],
  buckets?: Buckets,
): Ruleset {
  // A version made from buckets lists its orders only when asked (a document, a listing): making the
  // sorted list of a million orders for every change would be O(n) per version.
  let list = typeof orders === "function" ? undefined : orders;
  const make = typeof orders === "function" ? orders : undefined;
  const ruleset: Ruleset = Object.freeze({
    version: meta.version,
    ...(meta.epoch === undefined ? {} : { epoch: meta.epoch }),
    hash,
    ...(hashScheme === undefined ? {} : { hashScheme }),
    compiledAt: meta.compiledAt,
    get orders(): readonly CompiledOrder[] {
      list ??= Object.freeze((make as () => readonly CompiledOrder[])());
      return list;
    },
    meetings,
    accounts,
    excluded: Object.freeze(excluded),
  });
  if (buckets) bucketsOf.set(ruleset, buckets);
  return ruleset;
}

/** Freezes an index filled by `push`: an entry naming several orders (of several buckets) in id order. */
function sealIndex(map: Map<string, CompiledOrder[]>): void {
  for (const list of map.values()) Object.freeze(list.length > 1 ? list.sort(byId) : list);
}

function push(map: Map<string, CompiledOrder[]>, key: string, order: CompiledOrder): void {
  const list = map.get(key);
  if (list) list.push(order);
  else map.set(key, [order]);
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * A compiled order from its document form (defaults filled in), its lists taken as they are when frozen
 * and copied otherwise (`adopted`), with `jurisdictions` as the caller checked and shares it.
 */
function fromOrderDocument(o: CompiledOrderDocument, jurisdictions: readonly string[]): CompiledOrder {
  return Object.freeze({
    id: o.id,
    mode: o.mode,
    action: o.action ?? "geoblock",
    exemptAccountIds: adopted(o.exemptAccountIds ?? EMPTY),
    authority: o.authority,
    jurisdictions,
    from: o.from,
    until: o.until,
    meetingIds: adopted(o.meetingIds),
    accountIds: adopted(o.accountIds),
  });
}

/** The list itself when frozen (no one can change it), else a frozen copy. */
function adopted(list: readonly string[]): readonly string[] {
  return Object.isFrozen(list) ? list : frozenCopy(list);
}

function frozenCopy(list: readonly string[]): readonly string[] {
  return list.length === 0 ? EMPTY : Object.freeze([...list]);
}

/**
 * The list sorted, without repeats, frozen. A frozen list already so is taken as it is (the stores hold
 * their orders deep-frozen): nothing can change it, and a million orders need no million copies.
 */
function sortedUnique(list: readonly string[]): readonly string[] {
  if (list.length === 0) return EMPTY;
  if (Object.isFrozen(list) && isSortedUnique(list)) return list;
  if (list.length === 1) return Object.freeze([list[0] as string]);
  return Object.freeze([...new Set(list)].sort());
}

function isSortedUnique(list: readonly string[]): boolean {
  for (let i = 1; i < list.length; i++) if (!((list[i - 1] as string) < (list[i] as string))) return false;
  return true;
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Names an authority and its block list: orders with the same one share one checked, frozen list. */
function blockKey(authority: string, jurisdictions: readonly string[]): string {
  return `${authority}\u0000${jurisdictions.join("\u0000")}`;
}

/**
 * What many orders of one compile have in common, computed once: the checked, normalised block list of
 * an authority and its jurisdictions (most orders share a handful), held as one frozen array.
 */
class SharedParts {
  private readonly blocks = new Map<string, readonly string[] | string>();

  /** The normalised, sorted blocks, or why the order is left out (I1, re-checked by the table now). */
  checkedBlocks(authority: string, jurisdictions: readonly string[]): readonly string[] | string {
    const key = blockKey(authority, jurisdictions);
    let found = this.blocks.get(key);
    if (found === undefined) {
      const problems = jurisdictions.flatMap((j) => blockProblem(authority, j) ?? []);
      // An order stored before normalisation (`FR-971`) is enforced as sources report the place (`GP`).
      found =
        problems.length > 0
          ? exclusionReason(problems)
          : Object.freeze(normaliseBlocks(jurisdictions).sort());
      this.blocks.set(key, found);
    }
    return found;
  }
}

/** One approved order compiled, or why it is left out. */
function compileOrder(order: Order, shared: SharedParts): CompiledOrder | string {
  const from = effectiveStart(order);
  if (from === undefined || Number.isNaN(from)) return "approved order without a start time";
  const until = order.effectiveUntil ? Date.parse(order.effectiveUntil) : null;
  // NaN would serialise as null in the document: an order meant to end would come back open-ended.
  if (until !== null && Number.isNaN(until)) return "approved order with an unreadable end time";
  // I1 again, by the table as it stands now: an order stored before it (a CN-HK block, say) is left out.
  const jurisdictions = shared.checkedBlocks(order.authority.jurisdiction, order.jurisdictions);
  if (typeof jurisdictions === "string") return jurisdictions;
  return Object.freeze({
    id: order.id,
    mode: order.mode,
    action: order.action ?? "geoblock",
    exemptAccountIds: sortedUnique(order.exemptAccountIds ?? EMPTY),
    authority: order.authority.jurisdiction,
    jurisdictions,
    from,
    until,
    meetingIds: order.target.kind === "meeting" ? sortedUnique(order.target.meetingIds) : EMPTY,
    accountIds: order.target.kind === "account" ? sortedUnique(order.target.accountIds) : EMPTY,
  });
}

/** The compiled order with this id in a list sorted by id (binary search). */
function findById(orders: readonly CompiledOrder[], id: string): CompiledOrder | undefined {
  let lo = 0;
  let hi = orders.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const order = orders[mid] as CompiledOrder;
    if (order.id === id) return order;
    if (order.id < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

function groupBy(
  orders: readonly CompiledOrder[],
  keys: (order: CompiledOrder) => readonly string[],
): Map<string, CompiledOrder[]> {
  const out = new Map<string, CompiledOrder[]>();
  for (const order of orders) for (const key of keys(order)) push(out, key, order);
  return out;
}

/** Two lists sorted by id, merged. */
function mergeById(a: readonly CompiledOrder[], b: readonly CompiledOrder[]): CompiledOrder[] {
  const out: CompiledOrder[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length)
    out.push(
      byId(a[i] as CompiledOrder, b[j] as CompiledOrder) <= 0
        ? (a[i++] as CompiledOrder)
        : (b[j++] as CompiledOrder),
    );
  while (i < a.length) out.push(a[i++] as CompiledOrder);
  while (j < b.length) out.push(b[j++] as CompiledOrder);
  return out;
}

type OrderIndex = ReadonlyMap<string, readonly CompiledOrder[]>;

/** Marks a key of the base map that the newer version no longer has. */
const GONE: readonly CompiledOrder[] = Object.freeze([]);

/** Entries changed since the base map was built; past this many the next version gets a fresh base. */
const LAYER_LIMIT = 8192;

/**
 * A meeting (or account) index as an unchanged base map shared by successive versions and a small map of
 * the entries changed since, so a version costs its changes, not a copy of a million entries. Immutable:
 * a new version gets a new top map.
 */
class LayeredIndex implements OrderIndex {
  constructor(
    readonly base: OrderIndex,
    readonly top: OrderIndex,
    readonly size: number,
  ) {}

  get(key: string): readonly CompiledOrder[] | undefined {
    const changed = this.top.get(key);
    if (changed === undefined) return this.base.get(key);
    return changed === GONE ? undefined : changed;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  forEach(fn: (value: readonly CompiledOrder[], key: string, map: OrderIndex) => void): void {
    for (const [key, value] of this.flat()) fn(value, key, this);
  }

  entries() {
    return this.flat().entries();
  }

  keys() {
    return this.flat().keys();
  }

  values() {
    return this.flat().values();
  }

  [Symbol.iterator]() {
    return this.flat().entries();
  }

  /** The merged entries as a map of its own (iteration is rare: counts and listings, not checks). */
  private flat(): Map<string, readonly CompiledOrder[]> {
    const out = new Map<string, readonly CompiledOrder[]>();
    for (const [key, value] of this.base) if (!this.top.has(key)) out.set(key, value);
    for (const [key, value] of this.top) if (value !== GONE) out.set(key, value);
    return out;
  }
}

/**
 * The index of a new version: `previous` with the entries of the touched keys rebuilt (the orders in
 * `changed` taken out, those in `added` put in, by id). Flattened in slices once the changes pile up.
 */
function* reindex(
  previous: OrderIndex,
  touched: ReadonlySet<string>,
  added: ReadonlyMap<string, readonly CompiledOrder[]>,
  changed: ReadonlyMap<string, unknown>,
): Generator<void, OrderIndex, void> {
  const base = previous instanceof LayeredIndex ? previous.base : previous;
  const top = new Map(previous instanceof LayeredIndex ? previous.top : []);
  let size = previous.size;
  for (const key of touched) {
    const before = previous.get(key);
    const kept = before ? before.filter((o) => !changed.has(o.id)) : [];
    const fresh = added.get(key);
    const list = fresh ? mergeById(kept, fresh) : kept;
    if (before !== undefined) size--;
    if (list.length > 0) size++;
    if (list.length > 0) top.set(key, Object.freeze(list));
    else if (base.has(key)) top.set(key, GONE);
    else top.delete(key);
  }
  if (top.size === 0) return base;
  if (top.size <= LAYER_LIMIT) return new LayeredIndex(base, top, size);
  const flat = new Map<string, readonly CompiledOrder[]>();
  let n = 0;
  for (const [key, value] of base) {
    if (++n % (SLICE * 4) === 0) yield;
    if (!top.has(key)) flat.set(key, value);
  }
  for (const [key, value] of top) if (value !== GONE) flat.set(key, value);
  return flat;
}
