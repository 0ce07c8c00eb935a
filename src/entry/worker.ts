/**
 * The Worker entry (wrangler.toml `main`): the edge app (`createEdgeApp`), wired by
 * `createWorker` (src/runtime/worker.ts) with the database bundled here, and the delivery of decision
 * records beyond the main queue around it (`withEdgeDelivery`). workerd takes every named export of
 * this module for a handler, so it exports only the default: fetch (the check routes, the ruleset
 * summary, health, the replay of parked records), queue (decision records to Node's ingest route, from
 * the main and the dead-letter queue) and scheduled (the cron replay of parked records).
 */
// The GeoLite2 country database the npm package ships (IPv4 and IPv6), bundled as a Data module.
import bundledMmdb from "@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb";
import { parseConsumerConfig, parseReplayConfig } from "../config/worker.js";
import { withEdgeDelivery } from "../platform/cloudflare/edge-delivery.js";
import { workerLogger } from "../platform/cloudflare/logger.js";
import { createWorker } from "../runtime/worker.js";

export default withEdgeDelivery(
  createWorker({ mmdb: { bytes: bundledMmdb, source: "bundled:geolite2-country" } }),
  {
    delivery(env) {
      const config = parseConsumerConfig(env);
      return {
        url: config.CORDON_INGEST_URL,
        token: config.CORDON_EDGE_TOKEN.secret,
        logger: workerLogger(config.CORDON_LOG_LEVEL),
      };
    },
    tokens: (env) => parseReplayConfig(env).CORDON_TOKENS,
  },
);
