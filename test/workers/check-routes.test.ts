/**
 * The check-route contract in workerd: the same suite as on Node (`test/contract/check-routes.ts`),
 * against the Worker's fetch handler over KV, with its own decision Queue (see `edge-target.ts`).
 */
import { checkRoutesContract } from "../contract/check-routes.js";
import { openEdgeTarget } from "./edge-target.js";

checkRoutesContract("workerd (Cloudflare Worker)", () => openEdgeTarget());
