/**
 * `RedisGeoCache`: the L2 of the geolocation path (L1 `CachedGeo` → L2 Redis → source), answers kept in
 * Redis with a TTL and shared by every instance. Owns the cache entry format, the read budget, the
 * coalescing of concurrent misses, and its accounting (OpenTelemetry counter `cordon.geo.l2` with
 * `result: hit|miss|error`, plus `stats()`).
 *
 * Worth it only in front of a slow or billed source, i.e. the MaxMind web service, where a hit saves a
 * paid request and tens of milliseconds. In front of a local mmdb it is a loss: a Redis round trip costs
 * far more than the ~2 µs lookup it would save (bench/geo-l2.ts, bench/README.md "GeoIP L2 in Redis").
 *
 * Keys are `keys.geo(source.dbVersion, hashIp(ip))`: the database version makes a new database (or a new
 * web-service generation) miss instead of serving old answers, and the keyed hash keeps raw addresses
 * out of Redis (I6). That hash is the inner one (CORDON_IP_HASH_KEY alone), not the per-period sealed
 * hash of decision records: it must be the same across half-years, and entries expire within days, so
 * no key outlives a finalized period here. Values hold the location only: never the address, the
 * network or anything else the source sent.
 *
 * Fails to the source, never to an error: Redis down, slow or answering garbage means asking the source
 * directly. For the web service that costs one billed request per L1 miss while Redis is away; that is
 * accepted, because the alternative (no location) would turn every check into GEO_UNKNOWN (I2) and
 * silently lift every order. In-flight coalescing here and in `WebServiceGeo` still holds the cost to one
 * request per address at a time.
 *
 * Built over a small structural client (`get`, `set ... EX`), so this folder imports no ioredis; pass a
 * client from `createRedis` (platform/node/redis.ts). Lifetime: as long-lived as the source it wraps.
 */

import type { GeoLocation, GeoSource } from "../../engine/index.js";
import type { Geo, GeoAnswer, GeoInfo } from "../../geo/interface.js";
import { isPublicIp } from "../../geo/ip.js";
import { LookupTally } from "../../geo/lookup-tally.js";
import type { RedisKeys } from "./keys.js";

/** What the L2 needs of a Redis client; ioredis's `Redis` fits. */
export interface GeoCacheRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: "EX", seconds: number): Promise<unknown>;
}

/** A source that names the data it answers from; read on every lookup, since a reload may change it. */
export interface VersionedGeo extends Geo {
  readonly dbVersion: string;
}

export interface RedisGeoCacheOptions {
  redis: GeoCacheRedis;
  keys: Pick<RedisKeys, "geo">;
  /** The keyed hash of a normalised address (HMAC-SHA-256, `ipHasher`): I6. */
  hashIp: (ip: string) => string;
  /**
   * Life of an entry, s. Default 7 days: MaxMind's data for an address rarely changes within a week, and
   * each day kept saves a billed request per address. Bump the source's generation to drop all at once.
   */
  ttlSeconds?: number;
  /**
   * Budget of the GET, ms, whatever the client's own command timeout. Default 50: a LAN round trip is
   * well under 1 ms, and past this the source is asked instead; a stalled Redis must not add seconds to
   * every join.
   */
  timeoutMs?: number;
}

export interface RedisGeoCacheStats {
  hits: number;
  misses: number;
  /** GETs that failed or ran out of time (the source answered instead). */
  errors: number;
  /** SETs that failed; the answer was still returned. */
  writeErrors: number;
}

type CachedSource = Exclude<GeoSource, "none">;

/** The stored form: short keys, since millions of entries may live for a week. `c: null` is "not found". */
interface Entry {
  g: CachedSource;
  c: string | null;
  s?: string[];
}

const SOURCES: ReadonlySet<string> = new Set<CachedSource>(["mmdb", "webservice", "cf"]);
const COUNTRY_CODE = /^[A-Z]{2}$/;
const SUBDIVISION_CODE = /^[A-Z]{2}-[A-Z0-9]{1,3}$/;
/** Only if the source broke its promise never to throw. */
const FAILED: GeoAnswer = Object.freeze({ location: null, source: "none", dbVersion: null });

export class RedisGeoCache<Inner extends VersionedGeo = VersionedGeo> implements Geo {
  readonly #inner: Inner;
  readonly #redis: GeoCacheRedis;
  readonly #keys: Pick<RedisKeys, "geo">;
  readonly #hashIp: (ip: string) => string;
  readonly #ttlSeconds: number;
  readonly #timeoutMs: number;
  readonly #tally: LookupTally;
  /** One GET (and at most one source lookup) per key at a time, across every caller in this process. */
  readonly #inflight = new Map<string, Promise<GeoAnswer>>();
  #writeErrors = 0;

  constructor(inner: Inner, options: RedisGeoCacheOptions) {
    const ttlSeconds = options.ttlSeconds ?? 7 * 24 * 3600;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`RedisGeoCache ttlSeconds must be a positive integer, got ${ttlSeconds}`);
    }
    const timeoutMs = options.timeoutMs ?? 50;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`RedisGeoCache timeoutMs must be positive, got ${timeoutMs}`);
    }
    this.#inner = inner;
    this.#redis = options.redis;
    this.#keys = options.keys;
    this.#hashIp = options.hashIp;
    this.#ttlSeconds = ttlSeconds;
    this.#timeoutMs = timeoutMs;
    this.#tally = new LookupTally(
      "cordon.geo.l2",
      "Geolocation L2 (Redis) lookups, by result (hit, miss, or error: Redis unavailable).",
    );
  }

  /** The source's version: an L2 is transparent to whatever keys on it. */
  get dbVersion(): string {
    return this.#inner.dbVersion;
  }

  /** Never rejects: Redis failures go to the source, and the source never rejects. */
  lookup(ip: string): GeoAnswer | Promise<GeoAnswer> {
    // Private and reserved addresses: the source answers them without I/O, and there is nothing to
    // keep. Sparing them the hash and the round trip also keeps junk out of Redis.
    if (!isPublicIp(ip)) return this.#inner.lookup(ip);
    const dbVersion = this.#inner.dbVersion;
    const key = this.#keys.geo(dbVersion, this.#hashIp(ip));
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      pending = this.#resolve(ip, key, dbVersion).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  info(): GeoInfo | null {
    return this.#inner.info();
  }

  stats(): RedisGeoCacheStats {
    const { hits, misses, errors } = this.#tally;
    return { hits, misses, errors, writeErrors: this.#writeErrors };
  }

  async #resolve(ip: string, key: string, dbVersion: string): Promise<GeoAnswer> {
    let reachable = true;
    try {
      const stored = await withTimeout(this.#redis.get(key), this.#timeoutMs);
      const cached = stored === null ? null : decode(stored, dbVersion);
      if (cached !== null) {
        this.#tally.hit();
        return cached;
      }
      // Absent, or not ours to trust (another writer, a corrupted value): ask, and overwrite it.
      this.#tally.miss();
    } catch {
      reachable = false;
      this.#tally.error();
    }
    let answer: GeoAnswer;
    try {
      answer = await this.#inner.lookup(ip);
    } catch {
      return FAILED;
    }
    // Only answers of the version in the key: failures carry no dbVersion (they must be retried, not
    // pinned for a week), and a source reloaded mid-lookup must not file a new answer under the old
    // version. Skipped when the GET just failed: the SET would fail too, and pile up behind it.
    if (reachable && answer.dbVersion === dbVersion && answer.source !== "none") this.#store(key, answer);
    return answer;
  }

  #store(key: string, answer: GeoAnswer): void {
    const entry: Entry =
      answer.location === null
        ? { g: answer.source as CachedSource, c: null }
        : {
            g: answer.source as CachedSource,
            c: answer.location.country,
            s: [...answer.location.subdivisions],
          };
    // Not awaited: the join has its answer; a lost write costs one more lookup later, nothing else.
    this.#redis.set(key, JSON.stringify(entry), "EX", this.#ttlSeconds).catch(() => {
      this.#writeErrors++;
    });
  }
}

/** The entry as an answer, or null when it is not a well-formed entry (Redis is input, not a contract). */
function decode(stored: string, dbVersion: string): GeoAnswer | null {
  let entry: Partial<Entry>;
  try {
    entry = JSON.parse(stored) as Partial<Entry>;
  } catch {
    return null;
  }
  if (entry === null || typeof entry !== "object" || typeof entry.g !== "string" || !SOURCES.has(entry.g)) {
    return null;
  }
  const source = entry.g as CachedSource;
  if (entry.c === null) return Object.freeze({ location: null, source, dbVersion });
  const country = entry.c;
  if (typeof country !== "string" || !COUNTRY_CODE.test(country)) return null;
  const subdivisions = entry.s ?? [];
  if (!Array.isArray(subdivisions)) return null;
  for (const code of subdivisions) {
    // A subdivision outside the country would deny someone outside an order (I1).
    if (typeof code !== "string" || !SUBDIVISION_CODE.test(code) || !code.startsWith(`${country}-`))
      return null;
  }
  const location: GeoLocation = Object.freeze({ country, subdivisions: Object.freeze([...subdivisions]) });
  return Object.freeze({ location, source, dbVersion });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis GET timed out after ${ms} ms`)), ms);
  });
  // A reply after the deadline is dropped; race() has already attached a handler to it.
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
