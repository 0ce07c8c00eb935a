/**
 * The sharded form of a signed ruleset in Workers KV: a signed manifest naming the shards by their
 * SHA-256, and the shards, each the compiled orders that name a meeting or account hashed into it.
 * Owns the shard assignment, the manifest and shard formats, their verification, and the partial
 * ruleset a Worker enforces from the shards it loaded (`ShardedRuleset`). The rules and why: the
 * README, "At the edge", and `edge-loader.ts`.
 *
 * Runtime-free: WebCrypto's SHA-256, JSON, zod.
 */
import { z } from "zod";
import {
  blockProblem,
  type CompiledOrder,
  type CompiledOrderDocument,
  mixedFnv1a,
  type Ruleset,
  RulesetDocumentShape,
  toDocument,
} from "../engine/index.js";
import {
  RulesetRejectedError,
  type SigningKey,
  signPayload,
  type VerifyingKey,
  verifyPayload,
} from "./signed.js";

/** The manifest's KV key: the one value a Worker reads on every refresh. */
export const RULESET_MANIFEST_KV_KEY = "ruleset/manifest";
/** Shards are content-addressed: `ruleset/shards/<sha256 hex of the value>`. */
export const RULESET_SHARD_KV_PREFIX = "ruleset/shards/";

export const SHARD_FORMAT = 1;
/** At most this many shards (a power of two): 65,536 shards of 1 MiB hold far more than any ruleset. */
export const MAX_SHARDS = 65_536;
/** KV's limit is 25 MiB a value; a shard past this is refused at publish rather than near the limit. */
export const SHARD_HARD_LIMIT_BYTES = 16 * 1024 * 1024;

export type IdKind = "meeting" | "account";

/**
 * The shard of a meeting or account id among `count` (a power of two): FNV-1a over `m:<id>` or
 * `a:<id>` (UTF-16 code units), finished with murmur3's mixer so that the low bits are well spread.
 * Stable across releases: the Node publisher and every Worker must agree on it.
 */
export function shardOf(kind: IdKind, id: string, count: number): number {
  return mixedFnv1a(`${kind === "meeting" ? "m" : "a"}:${id}`) & (count - 1);
}

/** The shards a compiled order lands in: one for each meeting and account it names. */
export function shardsOfOrder(
  order: Pick<CompiledOrder, "meetingIds" | "accountIds">,
  count: number,
): number[] {
  const out = new Set<number>();
  for (const id of order.meetingIds) out.add(shardOf("meeting", id, count));
  for (const id of order.accountIds) out.add(shardOf("account", id, count));
  return [...out].sort((a, b) => a - b);
}

const ShardEntry = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  orders: z.number().int().nonnegative(),
});
export type ShardEntry = z.infer<typeof ShardEntry>;

/** The manifest's payload: what the signature covers. */
export const RulesetManifest = z.strictObject({
  format: z.literal("cordon-ruleset-manifest/1"),
  version: z.number().int().nonnegative(),
  epoch: z.string().min(1).optional(),
  /** The whole ruleset's hash (as `compile` computes it): equal hashes mean equal enforcement. */
  hash: z.string(),
  compiledAt: z.string(),
  /** Compiled orders in the whole ruleset. */
  orders: z.number().int().nonnegative(),
  /** A power of two; entry i is shard i, null when no order lands in it (nothing to read). */
  shards: z
    .array(ShardEntry.nullable())
    .min(1)
    .max(MAX_SHARDS)
    .refine((s) => (s.length & (s.length - 1)) === 0, "the shard count must be a power of two"),
  /**
   * Shards earlier manifests named and this one does not, with when they were retired: kept in KV
   * until `at` is old enough that no Worker can still be enforcing a manifest naming them.
   */
  retired: z.array(z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), at: z.string() })),
});
export type RulesetManifest = z.infer<typeof RulesetManifest>;

const ShardValue = z.strictObject({
  format: z.literal(SHARD_FORMAT),
  index: z.number().int().nonnegative(),
  count: z.number().int().positive(),
  orders: RulesetDocumentShape.shape.orders,
});

export const shardKey = (sha256: string) => `${RULESET_SHARD_KV_PREFIX}${sha256}`;

export interface ShardedValues {
  /** The manifest's payload, without `retired` (the publisher adds what KV still holds). */
  manifest: Omit<RulesetManifest, "retired">;
  /** The shard values to write, by index; null where the manifest's entry is null. */
  shards: ({ sha256: string; text: string } | null)[];
}

/**
 * Splits a ruleset into shards, as few as keep each under `maxShardBytes` (and at least `minShards`,
 * which the publisher sets to the shard count in KV, so the count only grows and shards are rewritten
 * only when orders change). An order naming several meetings is in each of their shards.
 */
export async function shardRuleset(
  ruleset: Ruleset,
  opts: { maxShardBytes: number; minShards?: number },
): Promise<ShardedValues> {
  const orders = toDocument(ruleset).orders;
  const total = orders.reduce((n, o) => n + JSON.stringify(o).length, 0);
  let count = powerOfTwoAtLeast(Math.max(opts.minShards ?? 1, Math.ceil(total / opts.maxShardBytes)));
  for (;;) {
    const split = splitOrders(orders, count);
    const largest = Math.max(...split.map((s) => (s === null ? 0 : utf8Length(s.text))));
    if (largest > opts.maxShardBytes && count < MAX_SHARDS) {
      count *= 2;
      continue;
    }
    if (largest > SHARD_HARD_LIMIT_BYTES) {
      throw new Error(`ruleset v${ruleset.version}: a shard of ${largest} bytes even split ${count} ways`);
    }
    const shards = await Promise.all(
      split.map(async (s) => (s === null ? null : { ...s, sha256: await sha256Hex(s.text) })),
    );
    return {
      manifest: {
        format: "cordon-ruleset-manifest/1",
        version: ruleset.version,
        ...(ruleset.epoch === undefined ? {} : { epoch: ruleset.epoch }),
        hash: ruleset.hash,
        compiledAt: ruleset.compiledAt,
        orders: orders.length,
        shards: shards.map((s) =>
          s === null ? null : { sha256: s.sha256, bytes: utf8Length(s.text), orders: s.orders },
        ),
      },
      shards: shards.map((s) => (s === null ? null : { sha256: s.sha256, text: s.text })),
    };
  }
}

function splitOrders(
  orders: readonly CompiledOrderDocument[],
  count: number,
): ({ text: string; orders: number } | null)[] {
  const buckets: CompiledOrderDocument[][] = Array.from({ length: count }, () => []);
  for (const order of orders) for (const i of shardsOfOrder(order, count)) buckets[i]?.push(order);
  return buckets.map((b, index) =>
    b.length === 0
      ? null
      : { text: JSON.stringify({ format: SHARD_FORMAT, index, count, orders: b }), orders: b.length },
  );
}

export async function signManifest(manifest: RulesetManifest, key: SigningKey): Promise<string> {
  return signPayload(JSON.stringify(manifest), key);
}

/** The manifest in a KV value once its signature verifies; throws `RulesetRejectedError` otherwise. */
export async function verifySignedManifest(
  text: string,
  publicKeys: readonly VerifyingKey[],
): Promise<RulesetManifest> {
  const payload = await verifyPayload(text, publicKeys);
  try {
    return RulesetManifest.parse(JSON.parse(payload));
  } catch (err) {
    throw new RulesetRejectedError(
      "invalid-document",
      `signed payload is no ruleset manifest: ${message(err)}`,
    );
  }
}

/** One shard as a Worker holds it: the orders of the meetings and accounts it owns, nothing else. */
export interface Shard {
  readonly index: number;
  readonly orders: readonly CompiledOrder[];
  readonly meetings: ReadonlyMap<string, readonly CompiledOrder[]>;
  readonly accounts: ReadonlyMap<string, readonly CompiledOrder[]>;
}

/**
 * Shard `index` of `manifest`, read from KV as `text`: its SHA-256 must be the one the signed manifest
 * names (the signature covers the shards through it), and its orders must be ones `compile` could have
 * made (windows, I1) and belong in it. Throws `RulesetRejectedError("bad-shard")` otherwise.
 */
export async function verifyShard(text: string, manifest: RulesetManifest, index: number): Promise<Shard> {
  const entry = manifest.shards[index];
  const where = `shard ${index} of v${manifest.version}`;
  if (!entry) return emptyShard(index);
  const digest = await sha256Hex(text);
  if (digest !== entry.sha256) {
    throw new RulesetRejectedError(
      "bad-shard",
      `${where}: SHA-256 ${digest}, the manifest names ${entry.sha256}`,
    );
  }
  // The digest matched, so the bytes are the signer's: what follows guards against a signer bug.
  let value: z.infer<typeof ShardValue>;
  try {
    value = ShardValue.parse(JSON.parse(text));
  } catch (err) {
    throw new RulesetRejectedError("bad-shard", `${where}: not a shard: ${message(err)}`);
  }
  const count = manifest.shards.length;
  if (value.index !== index || value.count !== count) {
    throw new RulesetRejectedError("bad-shard", `${where}: holds shard ${value.index} of ${value.count}`);
  }
  return buildShard(index, count, value.orders, where);
}

function emptyShard(index: number): Shard {
  return Object.freeze({ index, orders: Object.freeze([]), meetings: new Map(), accounts: new Map() });
}

/**
 * The engine's `fromDocument` checks a whole ruleset against its hash; a shard is part of one, vouched
 * for by the manifest's digest instead, so its orders are rebuilt here (frozen, defaults filled in) with
 * the same checks of windows and I1, keeping only the ids this shard owns in its indexes.
 */
function buildShard(
  index: number,
  count: number,
  documents: readonly z.infer<typeof ShardValue>["orders"][number][],
  where: string,
): Shard {
  const orders: CompiledOrder[] = [];
  const meetings = new Map<string, CompiledOrder[]>();
  const accounts = new Map<string, CompiledOrder[]>();
  for (const doc of documents) {
    if (!Number.isFinite(doc.from) || (doc.until !== null && !Number.isFinite(doc.until))) {
      throw new RulesetRejectedError("bad-shard", `${where}: order ${doc.id} has an unreadable window`);
    }
    const outside = doc.jurisdictions.filter((j) => blockProblem(doc.authority, j) !== null);
    if (outside.length > 0) {
      throw new RulesetRejectedError(
        "bad-shard",
        `${where}: order ${doc.id} blocks outside its authority: ${outside.join(", ")}`,
      );
    }
    if (!shardsOfOrder(doc, count).includes(index)) {
      throw new RulesetRejectedError("bad-shard", `${where}: order ${doc.id} names nothing in this shard`);
    }
    const order: CompiledOrder = Object.freeze({
      ...doc,
      action: doc.action ?? "geoblock",
      exemptAccountIds: Object.freeze([...(doc.exemptAccountIds ?? [])]),
      jurisdictions: Object.freeze([...doc.jurisdictions]),
      meetingIds: Object.freeze([...doc.meetingIds]),
      accountIds: Object.freeze([...doc.accountIds]),
    });
    orders.push(order);
    for (const id of order.meetingIds) if (shardOf("meeting", id, count) === index) push(meetings, id, order);
    for (const id of order.accountIds) if (shardOf("account", id, count) === index) push(accounts, id, order);
  }
  return Object.freeze({ index, orders: Object.freeze(orders), meetings, accounts });
}

/** A lookup of an id whose shard is not loaded: a check must never be decided without it. */
export class ShardNotLoadedError extends Error {
  override readonly name = "ShardNotLoadedError";
}

/**
 * One of a `ShardedRuleset`'s indexes: a lookup goes to the id's shard, and one whose shard is not
 * loaded throws rather than answer "no order" (fail closed: the Worker loads a check's shards before
 * the check, so this only fires on a bug).
 */
class ShardedIndex implements ReadonlyMap<string, readonly CompiledOrder[]> {
  constructor(
    private readonly kind: IdKind,
    private readonly shards: readonly (Shard | undefined)[],
    private readonly version: number,
  ) {}

  private shardFor(id: string): ReadonlyMap<string, readonly CompiledOrder[]> {
    const index = shardOf(this.kind, id, this.shards.length);
    const shard = this.shards[index];
    if (!shard)
      throw new ShardNotLoadedError(`${this.kind} ${id}: shard ${index} of v${this.version} not loaded`);
    return this.kind === "meeting" ? shard.meetings : shard.accounts;
  }
  get(id: string) {
    return this.shardFor(id).get(id);
  }
  has(id: string) {
    return this.shardFor(id).has(id);
  }
  get size() {
    let n = 0;
    for (const s of this.loaded()) n += s.size;
    return n;
  }
  private loaded(): ReadonlyMap<string, readonly CompiledOrder[]>[] {
    return this.shards.flatMap((s) => (s ? [this.kind === "meeting" ? s.meetings : s.accounts] : []));
  }
  *entries(): MapIterator<[string, readonly CompiledOrder[]]> {
    for (const m of this.loaded()) yield* m.entries();
  }
  *keys(): MapIterator<string> {
    for (const m of this.loaded()) yield* m.keys();
  }
  *values(): MapIterator<readonly CompiledOrder[]> {
    for (const m of this.loaded()) yield* m.values();
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  forEach(
    fn: (
      value: readonly CompiledOrder[],
      key: string,
      map: ReadonlyMap<string, readonly CompiledOrder[]>,
    ) => void,
  ) {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

/**
 * The ruleset a Worker enforces from a manifest: version, epoch, hash and compile time are the
 * manifest's (the whole ruleset's), the orders those of the shards loaded so far. Shards are only ever
 * added, and only of this manifest, so a check sees one version; a lookup outside the loaded shards
 * throws (`ShardedIndex`). `orders` lists the loaded shards' orders only.
 */
export class ShardedRuleset implements Ruleset {
  readonly version: number;
  readonly epoch?: string;
  readonly hash: string;
  readonly compiledAt: string;
  readonly excluded: readonly { id: string; reason: string }[] = Object.freeze([]);
  readonly meetings: ReadonlyMap<string, readonly CompiledOrder[]>;
  readonly accounts: ReadonlyMap<string, readonly CompiledOrder[]>;
  private readonly shards: (Shard | undefined)[];
  /** Shards not loaded yet (the check path asks on every request). */
  private missing: number;
  private ordersCache: readonly CompiledOrder[] | undefined;

  constructor(readonly manifest: RulesetManifest) {
    this.version = manifest.version;
    if (manifest.epoch !== undefined) this.epoch = manifest.epoch;
    this.hash = manifest.hash;
    this.compiledAt = manifest.compiledAt;
    // An empty shard needs no read: it is loaded from the start.
    this.shards = manifest.shards.map((entry, i) => (entry === null ? emptyShard(i) : undefined));
    this.missing = manifest.shards.filter((entry) => entry !== null).length;
    this.meetings = new ShardedIndex("meeting", this.shards, this.version);
    this.accounts = new ShardedIndex("account", this.shards, this.version);
  }

  get shardCount(): number {
    return this.shards.length;
  }

  /** Every shard is loaded: a lookup never fails. */
  get complete(): boolean {
    return this.missing === 0;
  }

  isLoaded(index: number): boolean {
    return this.shards[index] !== undefined;
  }

  loadedIndexes(): number[] {
    return this.shards.flatMap((s, i) => (s && this.manifest.shards[i] !== null ? [i] : []));
  }

  /** Adds a verified shard of this manifest (see `verifyShard`). */
  add(shard: Shard): void {
    if (this.shards[shard.index] !== undefined) return;
    this.shards[shard.index] = shard;
    this.missing -= 1;
    this.ordersCache = undefined;
  }

  get orders(): readonly CompiledOrder[] {
    if (this.ordersCache === undefined) {
      const byId = new Map<string, CompiledOrder>();
      for (const s of this.shards) for (const o of s?.orders ?? []) if (!byId.has(o.id)) byId.set(o.id, o);
      this.ordersCache = Object.freeze(
        [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      );
    }
    return this.ordersCache;
  }
}

/**
 * The shards of a manifest with `count` shards that hold every id shards `loaded` of a manifest with
 * `from` shards held (both powers of two: an id's shard modulo the smaller count is the same in both).
 */
export function carryOver(loaded: Iterable<number>, from: number, count: number): number[] {
  const m = Math.min(from, count);
  const residues = new Set<number>();
  for (const i of loaded) residues.add(i & (m - 1));
  const out: number[] = [];
  for (let j = 0; j < count; j++) if (residues.has(j & (m - 1))) out.push(j);
  return out;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n && p < MAX_SHARDS) p *= 2;
  return p;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

function push(map: Map<string, CompiledOrder[]>, key: string, order: CompiledOrder): void {
  const list = map.get(key);
  if (list) list.push(order);
  else map.set(key, [order]);
}

function message(err: unknown): string {
  if (err instanceof z.ZodError)
    return err.issues.map((i) => `${i.path.join(".") || "(value)"}: ${i.message}`).join("; ");
  return err instanceof Error ? err.message : String(err);
}
