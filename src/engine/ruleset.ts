/**
 * `compile(orders)` turns approved orders into an immutable `Ruleset`: Maps from meeting and account
 * ids to the compiled orders that name them, built once so that `decide` only does lookups (the
 * shape of Hono's ip-restriction middleware). Time is not compiled in: windows are kept as numbers and
 * judged by `decide` against its `now`, so expiry needs no recompile (I3).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { blockProblem, normaliseBlocks } from "./jurisdiction.js";
import { effectiveStart } from "./orders.js";
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
  /** SHA-256 of the canonical JSON of `orders`: equal hashes mean equal enforcement. */
  readonly hash: string;
  readonly compiledAt: string;
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

export function compile(
  orders: readonly Order[],
  meta: { version: number; compiledAt: string; epoch?: string | undefined },
): Ruleset {
  const compiled: CompiledOrder[] = [];
  const excluded: { id: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const order of orders) {
    if (order.status !== "approved") continue;
    // Two orders under one id would make the hash depend on input order; the store never produces it.
    if (seen.has(order.id)) {
      excluded.push({ id: order.id, reason: "duplicate order id" });
      continue;
    }
    seen.add(order.id);
    const from = effectiveStart(order);
    if (from === undefined || Number.isNaN(from)) {
      excluded.push({ id: order.id, reason: "approved order without a start time" });
      continue;
    }
    const until = order.effectiveUntil ? Date.parse(order.effectiveUntil) : null;
    // NaN would serialise as null in the document: an order meant to end would come back open-ended.
    if (until !== null && Number.isNaN(until)) {
      excluded.push({ id: order.id, reason: "approved order with an unreadable end time" });
      continue;
    }
    // I1 again, by the table as it stands now: an order stored before it (a CN-HK block, say) is left out.
    const problems = order.jurisdictions.flatMap((j) => blockProblem(order.authority.jurisdiction, j) ?? []);
    if (problems.length > 0) {
      excluded.push({ id: order.id, reason: exclusionReason(problems) });
      continue;
    }
    compiled.push({
      id: order.id,
      mode: order.mode,
      action: order.action ?? "geoblock",
      exemptAccountIds: [...new Set(order.exemptAccountIds ?? [])].sort(),
      authority: order.authority.jurisdiction,
      // An order stored before normalisation (`FR-971`) is enforced as sources report the place (`GP`).
      jurisdictions: normaliseBlocks(order.jurisdictions).sort(),
      from,
      until,
      meetingIds: order.target.kind === "meeting" ? [...new Set(order.target.meetingIds)].sort() : [],
      accountIds: order.target.kind === "account" ? [...new Set(order.target.accountIds)].sort() : [],
    });
  }
  compiled.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return build(
    {
      version: meta.version,
      ...(meta.epoch === undefined ? {} : { epoch: meta.epoch }),
      compiledAt: meta.compiledAt,
      orders: compiled.map(documentOrder),
      hash: hashOrders(compiled),
    },
    excluded,
  );
}

/**
 * Rebuilds a ruleset from its document, checking the hash (a ruleset read from disk, Redis or KV).
 * The hash is unkeyed, so it catches corruption, not forgery: I1 and the windows are checked again
 * here, as `compile` would have, and a document that `compile` could not have produced is refused.
 */
export function fromDocument(doc: RulesetDocument): Ruleset {
  const hash = hashOrders(doc.orders.map(withDefaults));
  if (hash !== doc.hash)
    throw new Error(`ruleset v${doc.version}: hash mismatch (${doc.hash} stated, ${hash} computed)`);
  for (const order of doc.orders) {
    if (!Number.isFinite(order.from) || (order.until !== null && !Number.isFinite(order.until))) {
      throw new Error(`ruleset v${doc.version}: order ${order.id} has an unreadable window`);
    }
    const outside = outsideAuthority(order.authority, order.jurisdictions);
    if (outside.length > 0) {
      throw new Error(
        `ruleset v${doc.version}: order ${order.id} blocks outside its authority: ${outside.join(", ")}`,
      );
    }
  }
  return build(doc, []);
}

export function toDocument(ruleset: Ruleset): RulesetDocument {
  return {
    version: ruleset.version,
    ...(ruleset.epoch === undefined ? {} : { epoch: ruleset.epoch }),
    hash: ruleset.hash,
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

function withDefaults(order: CompiledOrderDocument): CompiledOrder {
  return { ...order, action: order.action ?? "geoblock", exemptAccountIds: order.exemptAccountIds ?? [] };
}

export function emptyRuleset(compiledAt: string): Ruleset {
  return compile([], { version: 0, compiledAt });
}

function hashOrders(orders: readonly CompiledOrder[]): string {
  // Key order is fixed by construction in `compile`, and arrays are sorted, so JSON is canonical. The
  // action and exemptions join an order's entry only when not the defaults: a ruleset without either
  // hashes as it did before they existed.
  const canonical = JSON.stringify(
    orders.map((o) => {
      const entry: unknown[] = [
        o.id,
        o.mode,
        o.authority,
        o.jurisdictions,
        o.from,
        o.until,
        o.meetingIds,
        o.accountIds,
      ];
      if (o.action !== "geoblock" || o.exemptAccountIds.length > 0) entry.push(o.action, o.exemptAccountIds);
      return entry;
    }),
  );
  return bytesToHex(sha256(utf8ToBytes(canonical)));
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
  // ruleset, or a caller's edit would change enforcement without changing the hash.
  const frozen = doc.orders.map((o) =>
    Object.freeze({
      ...o,
      action: o.action ?? "geoblock",
      exemptAccountIds: Object.freeze([...(o.exemptAccountIds ?? [])]),
      jurisdictions: Object.freeze([...o.jurisdictions]),
      meetingIds: Object.freeze([...o.meetingIds]),
      accountIds: Object.freeze([...o.accountIds]),
    }),
  );
  for (const order of frozen) {
    for (const id of order.meetingIds) push(meetings, id, order);
    for (const id of order.accountIds) push(accounts, id, order);
  }
  for (const list of meetings.values()) Object.freeze(list);
  for (const list of accounts.values()) Object.freeze(list);
  return Object.freeze({
    version: doc.version,
    ...(doc.epoch === undefined ? {} : { epoch: doc.epoch }),
    hash: doc.hash,
    compiledAt: doc.compiledAt,
    orders: Object.freeze(frozen),
    meetings,
    accounts,
    excluded: Object.freeze(excluded),
  });
}

function push(map: Map<string, CompiledOrder[]>, key: string, order: CompiledOrder): void {
  const list = map.get(key);
  if (list) list.push(order);
  else map.set(key, [order]);
}
