/**
 * The check-route contract in workerd: the same suite as on Node (`test/contract/check-routes.ts`),
 * against the Worker's fetch handler over KV, with its own decision Queue (see `edge-target.ts`); once
 * with the ruleset as one signed value, once sharded (a manifest and eight shards, read per check).
 */
import { checkRoutesContract } from "../contract/check-routes.js";
import { openEdgeTarget } from "./edge-target.js";

checkRoutesContract("workerd (Cloudflare Worker)", () => openEdgeTarget());
checkRoutesContract("workerd (Cloudflare Worker), sharded ruleset", () => openEdgeTarget({ shards: 8 }));
