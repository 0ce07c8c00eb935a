/** Values the workerd project's config (Node) and its tests (workerd) share. */
import { CONTRACT_PRINCIPALS, secretOf } from "../contract/principals.js";

/** The secret of the Worker's `edge` token: what the ingest sink expects as the bearer. */
export const INGEST_TOKEN = "test-ingest-token-0123456789abcdef";
/** The meeting service's join-ticket key, as the Worker and the tests that sign tickets know it. */
export const TICKET_KEY = "workerd-test-join-ticket-key-0123456789abcdef";
export const RULESET_KEY_ID = "test";

/** The Worker's vars and secrets for the tests (wrangler.toml's `[vars]` hold the dev defaults). */
export const EDGE_TEST_VARS = {
  CORDON_TOKENS: Object.entries(CONTRACT_PRINCIPALS)
    .map(([who, role]) => `${who}:${role}:${secretOf(who as keyof typeof CONTRACT_PRINCIPALS)}`)
    .join(","),
  CORDON_IP_HASH_KEY: "workerd-test-ip-hash-key-0123456789abcdef",
  CORDON_INGEST_URL: "http://ingest.test",
  CORDON_EDGE_TOKEN: `edge-delivery:edge:${INGEST_TOKEN}`,
  CORDON_TICKET_KEY: TICKET_KEY,
  // Every request looks at KV (under waitUntil once loaded), so a test sees a new ruleset at once.
  CORDON_RULESET_REFRESH_MS: "0",
  CORDON_LOG_LEVEL: "silent",
} as const;
