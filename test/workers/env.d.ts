/** The bindings the workerd tests see (`import { env } from "cloudflare:workers"`): wrangler.toml's plus the config's. */
declare namespace Cloudflare {
  interface Env {
    RULESETS: KVNamespace;
    /** Parked decision records (src/platform/cloudflare/parked-decisions.ts). */
    PARKED_DECISIONS: KVNamespace;
    DECISIONS: Queue<unknown>;
    CORDON_TOKENS: string;
    CORDON_IP_HASH_KEY: string;
    RULESET_PUBLIC_KEYS: string;
    CORDON_RULESET_REFRESH_MS: string;
    CORDON_LOG_LEVEL: string;
    CORDON_INGEST_URL: string;
    CORDON_EDGE_TOKEN: string;
    CORDON_TICKET_KEY: string;
    /** PKCS#8 of the key RULESET_PUBLIC_KEYS trusts; made per run by vitest.workers.config.ts. */
    TEST_RULESET_SIGNING_KEY: string;
    /** Control of the ingest sink (test/workers/ingest-sink.ts). */
    INGEST_SINK: Fetcher;
  }

  /** The Worker's own handlers (its default export), reached as the runtime reaches them. */
  interface Exports {
    default: Fetcher;
  }
}
