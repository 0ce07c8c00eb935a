/**
 * `CachedGeo`: the L1 cache of the geolocation path, an in-process LRU of answers in front of any Geo.
 * Owns the cache and its hit/miss accounting (OpenTelemetry counter `cordon.geo.cache` with
 * `result: hit|miss`, plus plain `stats()` for tests and /readyz).
 *
 * Keyed by the normalised address only, and cleared when the database underneath is replaced
 * (`ReloadingGeo`'s `onReload` calls `clear()` in the same tick as the swap, so no lookup can see a new
 * database through old entries). Keying by `dbVersion` instead was rejected: it only has day precision,
 * so a same-day rebuild would keep serving old answers, and stale entries would hold memory until evicted.
 * Lifetime: one per process (or isolate), as long-lived as the Geo it wraps.
 */

import { LRUCache } from "lru-cache";
import type { Geo, GeoAnswer, GeoInfo } from "./interface.js";
import { LookupTally } from "./lookup-tally.js";

export interface CachedGeoOptions {
  /** Most answers kept. An answer is ~100 bytes plus its key, and answers for one network share objects. */
  max: number;
  /**
   * Life of an answer, ms; none by default (an mmdb's answers change only on reload, which clears the
   * cache). Over the web service, set it to the L2 TTL so L1 never outlives what Redis may keep.
   */
  ttlMs?: number;
}

export interface CachedGeoStats {
  hits: number;
  misses: number;
  size: number;
}

// Allocated once: the attribute object is passed on every lookup.

/**
 * Generic over what it wraps, so an L1 over a synchronous source is itself synchronous to its callers'
 * types (the check's hot path awaits nothing), and an L1 over a remote source hands out promises.
 */
export class CachedGeo<Inner extends Geo = Geo> implements Geo {
  readonly #inner: Geo;
  readonly #cache: LRUCache<string, GeoAnswer>;
  readonly #tally: LookupTally;

  constructor(inner: Inner, options: CachedGeoOptions) {
    if (!Number.isInteger(options.max) || options.max < 1) {
      throw new RangeError(`CachedGeo max must be a positive integer, got ${options.max}`);
    }
    this.#inner = inner;
    this.#cache = new LRUCache<string, GeoAnswer>({
      max: options.max,
      ...(options.ttlMs ? { ttl: options.ttlMs } : {}),
    });
    this.#tally = new LookupTally(
      "cordon.geo.cache",
      "Geolocation L1 cache lookups, by result (hit or miss).",
    );
  }

  lookup(ip: string): ReturnType<Inner["lookup"]> {
    return this.#lookup(ip) as ReturnType<Inner["lookup"]>;
  }

  #lookup(ip: string): GeoAnswer | Promise<GeoAnswer> {
    const cached = this.#cache.get(ip);
    if (cached !== undefined) {
      this.#tally.hit();
      return cached;
    }
    this.#tally.miss();
    const answer = this.#inner.lookup(ip);
    if (answer instanceof Promise) return answer.then((a) => this.#keep(ip, a));
    return this.#keep(ip, answer);
  }

  #keep(ip: string, answer: GeoAnswer): GeoAnswer {
    // Only answers a database gave (found or not found) are kept. Answers without a dbVersion are
    // private addresses (cheaper to recompute than to cache) or failures, which must not be pinned.
    if (answer.dbVersion !== null) this.#cache.set(ip, answer);
    return answer;
  }

  info(): GeoInfo | null {
    return this.#inner.info();
  }

  /** Drops every answer; call when the database underneath changes. */
  clear(): void {
    this.#cache.clear();
  }

  stats(): CachedGeoStats {
    return { hits: this.#tally.hits, misses: this.#tally.misses, size: this.#cache.size };
  }
}
