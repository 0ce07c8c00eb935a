/**
 * The Worker entry (wrangler.toml `main`): the edge app (`createEdgeApp`), wired by
 * `createWorker` (src/runtime/worker.ts) with the database bundled here. workerd takes
 * every named export of this module for a handler, so it exports only the default: fetch (the check
 * routes, the ruleset summary, health) and queue (decision records to Node's ingest route).
 */
// The GeoLite2 country database the npm package ships (IPv4 and IPv6), bundled as a Data module.
import bundledMmdb from "@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb";
import { createWorker } from "../runtime/worker.js";

export default createWorker({ mmdb: { bytes: bundledMmdb, source: "bundled:geolite2-country" } });
