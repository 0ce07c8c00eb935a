/** Values the workerd project's config (Node) and its tests (workerd) share. */
import { CONTRACT_PRINCIPALS, secretOf } from "../contract/principals.js";

export const INGEST_TOKEN = "test-ingest-token-0123456789abcdef";
export const RULESET_KEY_ID = "test";

/** The Worker's vars and secrets for the tests (wrangler.toml's `[vars]` hold the dev defaults). */
export const EDGE_TEST_VARS = {
  CORDON_TOKENS: Object.entries(CONTRACT_PRINCIPALS)
    .map(([who, role]) => `${who}:${role}:${secretOf(who as keyof typeof CONTRACT_PRINCIPALS)}`)
    .join(","),
  CORDON_IP_HASH_KEY: "workerd-test-ip-hash-key-0123456789abcdef",
  CORDON_INGEST_URL: "http://ingest.test",
  CORDON_INGEST_TOKEN: INGEST_TOKEN,
  // Every request looks at KV (under waitUntil once loaded), so a test sees a new ruleset at once.
  CORDON_RULESET_REFRESH_MS: "0",
  CORDON_LOG_LEVEL: "silent",
} as const;
