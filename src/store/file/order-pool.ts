/**
 * Orders held compactly. The embedded store keeps every order in memory, a million of them in a large
 * deployment, and every major garbage collection marks them all again: what costs is the number of
 * objects and strings per order more than their bytes. Most of an order's parts repeat across orders:
 * the authority, the block list, the request (usually the grant itself), the actors, the status. An
 * `OrderPool` replaces such parts of an order just read from disk by one shared, frozen equal, so a
 * million orders of a few authorities hold a few authority objects, not a million.
 *
 * Only values that are equal as JSON are shared, key order included, so an order serialises to the same
 * text before and after (the snapshot and the audit entries write it back). Orders are frozen: a shared
 * part cannot be changed through one order.
 */
import type { Order } from "../../engine/index.js";

/** Fields whose values repeat across orders (names of people and of states, not free text). */
const REPEATED_STRINGS = [
  "mode",
  "action",
  "status",
  "enforcement",
  "createdBy",
  "decidedBy",
  "withdrawnBy",
  "importedBy",
  "reasonCode",
  "accountType",
  "accountLocation",
] as const;

/** Past this many shared values a pool stops taking new ones: a store of unique values gains nothing. */
const MAX_SHARED = 100_000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class OrderPool {
  private readonly strings = new Map<string, string>();
  private readonly parts = new Map<string, unknown>();

  /**
   * `order`, freshly parsed and not yet frozen or handed out, with its repeated parts replaced by the
   * shared ones, then frozen whole. Returns the same object.
   */
  adopt(order: Order): Order {
    if (Object.isFrozen(order)) return order;
    const o = order as Mutable<Order>;
    const fields = order as unknown as Record<string, unknown>;
    for (const key of REPEATED_STRINGS) {
      const value = fields[key];
      if (typeof value === "string") fields[key] = this.string(value);
    }
    const { authority } = o;
    if (isPlainObject(authority))
      o.authority = this.part(
        authority,
        `${authority.name}\u0000${authority.jurisdiction}\u0000${authority.kind}`,
      );
    if (isStringArray(o.jurisdictions)) o.jurisdictions = this.list(o.jurisdictions);
    const requested = o.requested as Mutable<NonNullable<Order["requested"]>> | undefined;
    if (isPlainObject(requested)) {
      // The request is most often the grant itself: the same lists, shared with the order's own.
      if (sameJson(requested.jurisdictions, o.jurisdictions)) requested.jurisdictions = o.jurisdictions;
      else if (isStringArray(requested.jurisdictions))
        requested.jurisdictions = this.list(requested.jurisdictions);
      if (sameJson(requested.target, o.target)) requested.target = o.target;
    }
    return freeze(order);
  }

  private string(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    if (this.strings.size < MAX_SHARED) this.strings.set(value, value);
    return value;
  }

  private list(codes: string[]): string[] {
    return this.part(codes, `[\u0000${codes.join("\u0000")}`);
  }

  /**
   * The shared, frozen equal of a small JSON value (an authority, a list of codes), found by `key` (cheap
   * to compute, telling equal values apart in practice) and then compared whole: only an exact equal is
   * shared.
   */
  private part<T>(value: T, key: string): T {
    const known = this.parts.get(key);
    if (known !== undefined) return sameJson(known, value) ? (known as T) : value;
    if (this.parts.size < MAX_SHARED) this.parts.set(key, freeze(value));
    return value;
  }
}

/** `deepFreeze` (audit.ts) for JSON values, without an array of members per object. */
function freeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) for (const member of value) freeze(member);
  else for (const key in value) freeze((value as Record<string, unknown>)[key]);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

/** Equal as JSON text: the same values, and objects with the same keys in the same order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i]) return false;
    if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
