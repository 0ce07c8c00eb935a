/**
 * Who is calling, as Cloudflare's edge knows it: `request.cf` (country, regionCode) for the location and
 * the `CF-Connecting-IP` header for the address. Used only for `/v1/check/self`, where the caller is the
 * participant's own browser (every other check names the participant's `ip`).
 *
 * The address goes into the decision record as prefix and keyed hash (I6), like a body `ip` would:
 * when the participant's browser calls the edge itself, `CF-Connecting-IP` is the participant's own
 * address (Cloudflare sets it and overwrites any value a client sends), so leaving it out would make
 * every such record anonymous and the report's distinct-participant count (by `ipHash`) undercount. It
 * is never used for location: `request.cf` already is Cloudflare's location of that same address.
 */
import { locationFromCf } from "../../geo/cloudflare-geo.js";
import type { Caller } from "../../geo/interface.js";
import { parseIp } from "../../geo/ip.js";

export function locateCaller(request: Request): Caller {
  // `cf` is a Workers extension of Request; absent on requests that did not come through the edge.
  const cf = (request as Request & { cf?: { country?: unknown; regionCode?: unknown } }).cf;
  const address = request.headers.get("cf-connecting-ip");
  return { geo: locationFromCf(cf), ip: address === null ? null : (parseIp(address)?.ip ?? null) };
}
