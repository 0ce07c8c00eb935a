/**
 * `locationFromCf`: the location Cloudflare already resolved for the connecting client (`request.cf`'s
 * `country` and `regionCode`), for edge checks whose body names no address (a participant's browser
 * calling the edge directly). Owns the mapping from those two fields to a `GeoLocation`.
 *
 * Not a `Geo`: it locates the caller, not an address, so it has no `lookup(ip)`. Pure: it reads the
 * fields as untrusted input; the Worker adapter hands in `request.cf`, so nothing here imports a runtime.
 */
import { isCountry, isJurisdiction } from "../engine/index.js";
import type { GeoAnswer } from "./interface.js";

/** The fields of `request.cf` read here; anything else on it is ignored. */
export interface CfLocationFields {
  country?: unknown;
  regionCode?: unknown;
}

/** No `request.cf` at all (a request that did not come through Cloudflare's edge): unknown (I2). */
const NO_CF: GeoAnswer = Object.freeze({ location: null, source: "none", dbVersion: null });
/** Cloudflare answered but named no usable country (`XX` unknown, `T1` Tor): unknown (I2). */
const CF_UNKNOWN: GeoAnswer = Object.freeze({ location: null, source: "cf", dbVersion: null });

/**
 * `country` must be an ISO 3166-1 alpha-2 code (Cloudflare's `XX` and `T1` are not); `regionCode` counts
 * only when `${country}-${regionCode}` is a known ISO 3166-2 code. A region we cannot vouch for is left
 * out rather than guessed: a country-only location fails open on subdivision orders (I2), while a wrong
 * subdivision could deny someone outside an order (I1).
 */
export function locationFromCf(cf: CfLocationFields | null | undefined): GeoAnswer {
  if (cf === null || typeof cf !== "object") return NO_CF;
  const { country, regionCode } = cf;
  if (typeof country !== "string" || !isCountry(country)) return CF_UNKNOWN;
  const subdivision = typeof regionCode === "string" && regionCode !== "" ? `${country}-${regionCode}` : null;
  const subdivisions = subdivision !== null && isJurisdiction(subdivision) ? [subdivision] : [];
  return Object.freeze({
    location: Object.freeze({ country, subdivisions: Object.freeze(subdivisions) }),
    source: "cf",
    dbVersion: null,
  });
}
