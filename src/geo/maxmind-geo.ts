/**
 * `MaxmindGeo`: one MaxMind-format database (`.mmdb`) held in memory, answering lookups synchronously.
 * Owns the mapping from the database's record shapes to a `GeoLocation`: GeoIP2/GeoLite2 City and
 * Enterprise (country and ISO 3166-2 subdivisions), GeoIP2/GeoLite2 Country, and any other database
 * whose records carry `country_code` (ip-location-db, the bundled default) or `country.iso_code`
 * (DB-IP and other GeoIP2-compatible databases).
 *
 * Built from bytes, not a path, so the Worker (bundled mmdb) and Node (file, see
 * `platform/node/geo-file.ts`) share it. Lifetime: one instance per loaded database; a reload builds a
 * new instance and swaps the reference, never mutating this one.
 *
 * Reads raw records through `maxmind`'s Reader rather than `@maxmind/geoip2-node`'s ReaderModel. Same
 * bytes, same decoder, but the model re-validates the address with a regex, builds a network string
 * and a camel-cased model object on every call, and reports "not found" by throwing. Measured on
 * 2 vCPU (1M random IPv4 lookups; City fixture, half the addresses not found): ReaderModel.city()
 * ~60k/s, raw get ~220k/s, raw get with a decoded-record cache ~1.6M/s. `@maxmind/geoip2-node` stays the
 * reference the tests compare our reading against.
 */

import { LRUCache } from "lru-cache";
import { Reader, type Response } from "maxmind";
import type { GeoLocation } from "../engine/index.js";
import { geoip2Location } from "./geoip2.js";
import { type GeoAnswer, type GeoInfo, GeoLookupError, type SyncGeo } from "./interface.js";
import { isPublicIp } from "./ip.js";

/** How records are shaped, from the metadata's `database_type`. */
type DatabaseKind = "city" | "country" | "generic";

export interface MaxmindGeoOptions {
  /**
   * Decoded records kept by data-section offset. Many addresses share one record (a City record covers
   * a whole network), and decoding a City record with its names in eight languages costs ~4 µs, so this
   * cache is what makes a cold lookup cheap. A decoded City record is a few KB. Default 4096.
   */
  recordCacheSize?: number;
}

/** Not a lookup: private, reserved, or not an address (I2 allows). */
const NO_LOOKUP: GeoAnswer = Object.freeze({ location: null, source: "none", dbVersion: null });

/** Field shapes we read; anything else in a record is ignored. */
interface RawRecord {
  country_code?: unknown;
  country?: { iso_code?: unknown };
  subdivisions?: { iso_code?: unknown }[];
}

export class MaxmindGeo implements SyncGeo {
  readonly dbVersion: string;
  readonly #reader: Reader<Response>;
  readonly #kind: DatabaseKind;
  readonly #info: GeoInfo;
  /** The answer for "the database has no location for this address". */
  readonly #notFound: GeoAnswer;
  /**
   * Answers memoised per decoded record object. The record cache hands back the same object for the
   * same record, so repeat hits allocate nothing; a WeakMap lets evicted records take their answers
   * with them. Answers are frozen because callers (and CachedGeo) share them.
   */
  readonly #answers = new WeakMap<object, GeoAnswer>();

  private constructor(reader: Reader<Response>, source: string) {
    const { databaseType, buildEpoch, ipVersion } = reader.metadata;
    this.#reader = reader;
    this.#kind = kindOf(databaseType);
    const buildDate = buildEpoch.toISOString();
    this.#info = Object.freeze({
      databaseType,
      buildDate,
      subdivisions: this.#kind === "city",
      ipVersion: ipVersion === 4 ? 4 : 6,
      source,
    });
    // An identifier that travels in decision records and logs: no spaces (ip-location-db's type is
    // `country ipvAll`). The day is enough to tell builds apart for an audit; caches are cleared on
    // reload rather than keyed by it (see CachedGeo).
    this.dbVersion = `${databaseType.trim().replace(/\s+/g, "-")}@${buildDate.slice(0, 10)}`;
    this.#notFound = Object.freeze({ location: null, source: "mmdb", dbVersion: this.dbVersion });
  }

  /**
   * Opens a database from its bytes. Throws a GeoLookupError when the bytes are not a usable database:
   * unreadable metadata, a MaxMind type that carries no location (ASN, ISP, Anonymous-IP...), or a tree
   * or data section that fails on a probe lookup. Callers opening a replacement keep the old one then.
   */
  static fromBuffer(bytes: Uint8Array, source: string, options: MaxmindGeoOptions = {}): MaxmindGeo {
    const buffer = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let reader: Reader<Response>;
    try {
      const cache = new LRUCache<number, object>({ max: options.recordCacheSize ?? 4096 });
      reader = new Reader<Response>(buffer, { cache });
    } catch (error) {
      throw new GeoLookupError(`${source}: not a MaxMind database: ${messageOf(error)}`, { cause: error });
    }
    const { databaseType, ipVersion, nodeCount, searchTreeSize } = reader.metadata;
    if ((ipVersion !== 4 && ipVersion !== 6) || nodeCount <= 0 || searchTreeSize >= buffer.length) {
      throw new GeoLookupError(`${source}: inconsistent metadata (${databaseType}, ip_version ${ipVersion})`);
    }
    if (isMaxmindType(databaseType) && kindOf(databaseType) === "generic") {
      throw new GeoLookupError(
        `${source}: ${databaseType} carries no location; use a City or Country database`,
      );
    }
    const geo = new MaxmindGeo(reader, source);
    geo.#probe();
    return geo;
  }

  lookup(ip: string): GeoAnswer {
    // I2: private and reserved addresses have no location; the database is not asked. This also
    // rejects anything that is not a normalised address, so the reader never sees garbage.
    if (!isPublicIp(ip)) return NO_LOOKUP;
    // An IPv4 tree read with a 128-bit address would walk nonsense rather than fail.
    if (this.#info.ipVersion === 4 && ip.includes(":")) return this.#notFound;
    try {
      // The file is input, not a contract: read the fields we need as unknowns.
      const record = this.#reader.get(ip) as RawRecord | null;
      if (record === null || typeof record !== "object") return this.#notFound;
      let answer = this.#answers.get(record);
      if (answer === undefined) {
        const location = this.#locationOf(record);
        answer =
          location === null
            ? this.#notFound
            : Object.freeze({ location: Object.freeze(location), source: "mmdb", dbVersion: this.dbVersion });
        this.#answers.set(record, answer);
      }
      return answer;
    } catch {
      // A damaged record is an unknown location, never a failure of the check (I2).
      return this.#notFound;
    }
  }

  info(): GeoInfo {
    return this.#info;
  }

  #locationOf(record: RawRecord): GeoLocation | null {
    if (this.#kind === "generic") {
      // Generic databases are read for their country only: their subdivision fields, if any, follow no
      // convention we can vouch for, and a wrong subdivision would deny someone outside an order (I1).
      return geoip2Location(record.country_code ?? record.country?.iso_code);
    }
    return geoip2Location(record.country?.iso_code, this.#kind === "city" ? record.subdivisions : undefined);
  }

  /** Walks the tree and decodes what it finds for a few addresses, so a damaged file fails to open. */
  #probe(): void {
    const probes =
      this.#info.ipVersion === 4 ? ["1.1.1.1", "8.8.8.8"] : ["1.1.1.1", "8.8.8.8", "2001:4860::1"];
    try {
      for (const ip of probes) this.#reader.get(ip);
    } catch (error) {
      throw new GeoLookupError(`${this.#info.source}: damaged database: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
}

/** MaxMind's own product names; other vendors' types (`DBIP-City-Lite`, `country ipvAll`) are generic. */
function isMaxmindType(databaseType: string): boolean {
  return /^Geo(IP2?|Lite2)-/.test(databaseType);
}

function kindOf(databaseType: string): DatabaseKind {
  if (!isMaxmindType(databaseType)) return "generic";
  if (/City|Enterprise/.test(databaseType)) return "city";
  if (/Country/.test(databaseType)) return "country";
  return "generic";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
