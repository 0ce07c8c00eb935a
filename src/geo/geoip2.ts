/**
 * Reading a location out of a GeoIP2-shaped answer (an mmdb City record, or the MaxMind web service's
 * JSON): the same rules wherever the answer came from, because I1 and I2 rest on them. Pure.
 */
import type { GeoLocation } from "../engine/index.js";

/** ISO 3166-1 alpha-2, as GeoIP2 writes `country.iso_code`. */
export const COUNTRY_CODE = /^[A-Z]{2}$/;
/** The part of an ISO 3166-2 code after the dash, as GeoIP2 writes `subdivisions[].iso_code`. */
export const SUBDIVISION_CODE = /^[A-Z0-9]{1,3}$/;

/**
 * Only `country` (where the address is), never `registered_country` or `represented_country`: an order
 * binds people located in its jurisdiction (I1). `subdivisions` is read largest first, as GeoIP2 orders
 * them; a level without a usable code ends the list, since a smaller level without its parent would claim
 * more precision than the data has. Pass no subdivisions for sources that must be read for the country
 * only. Null when there is no usable country.
 */
export function geoip2Location(country: unknown, subdivisions?: unknown): GeoLocation | null {
  if (typeof country !== "string" || !COUNTRY_CODE.test(country)) return null;
  const codes: string[] = [];
  if (Array.isArray(subdivisions)) {
    for (const subdivision of subdivisions as { iso_code?: unknown }[]) {
      const code = subdivision?.iso_code;
      if (typeof code !== "string" || !SUBDIVISION_CODE.test(code)) break;
      codes.push(`${country}-${code}`);
    }
  }
  return Object.freeze({ country, subdivisions: Object.freeze(codes) });
}
