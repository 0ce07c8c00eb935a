/**
 * Geolocation: an IP address in, a location (or "unknown") out. Implementations: `MaxmindGeo`
 * (an mmdb in memory: GeoIP2/GeoLite2 Country or City, or the bundled ip-location-db country database),
 * `CachedGeo` (an in-process LRU in front of any Geo), `WebServiceGeo` (the MaxMind web service),
 * `RedisGeoCache` (the L2 in Redis), and at the edge the location Cloudflare puts on the request.
 */
import type { GeoLocation, GeoPrecision, GeoSource } from "../engine/index.js";

export interface GeoAnswer {
  /** null: unknown (private or reserved address, not in the database, lookup error): I2 allows. */
  location: GeoLocation | null;
  source: GeoSource;
  /** Identifies the database answering, e.g. `GeoLite2-City@2026-11-24`; null when none answered. */
  dbVersion: string | null;
}

export interface GeoInfo {
  /** The database type from its metadata (`GeoIP2-City`, `GeoLite2-Country`, `geolite2-country`...). */
  databaseType: string;
  /** Build date (UTC, ISO) from the metadata's build epoch. */
  buildDate: string;
  /** Whether this database carries subdivisions (City) or countries only. */
  subdivisions: boolean;
  ipVersion: 4 | 6;
  source: string;
}

export interface Geo {
  /**
   * `ip` is already validated and normalised (see `parseIp`). Never throws or rejects: errors are
   * unknown (I2). Sources in memory (an mmdb, the L1 cache) answer synchronously, so the check's hot
   * path awaits nothing; remote sources (Redis L2, the MaxMind web service) answer with a promise.
   */
  lookup(ip: string): GeoAnswer | Promise<GeoAnswer>;
  /** What is loaded, for /readyz; null before a database is loaded. */
  info(): GeoInfo | null;
}

/** A source that answers from memory: an mmdb, or an L1 over one. */
export interface SyncGeo extends Geo {
  lookup(ip: string): GeoAnswer;
}

export class GeoLookupError extends Error {
  override readonly name = "GeoLookupError";
}

/**
 * What the runtime knows of the connecting client, for a check whose body names no address: at the
 * edge, the participant's browser itself (`request.cf` and `CF-Connecting-IP`).
 */
export interface Caller {
  /** The client's location as the runtime resolved it; unknown (I2) when it resolved none. */
  geo: GeoAnswer;
  /** The client's normalised address, kept in the record only as prefix and keyed hash (I6); null if none. */
  ip: string | null;
}

/**
 * How precisely a source places people, from what it says of itself: a City database (or the web
 * service's city endpoint) gives subdivisions, a Country one only countries; null before one is loaded.
 * Read per request, so a reload to another database changes the order warnings at once.
 */
export function geoPrecision(geo: Pick<Geo, "info">): GeoPrecision | null {
  const info = geo.info();
  if (info === null) return null;
  return info.subdivisions ? "subdivision" : "country";
}
