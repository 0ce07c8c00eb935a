/**
 * The workerd project: tests in `test/workers` run inside the Workers runtime (Miniflare, through
 * @cloudflare/vitest-pool-workers), against `src/entry/worker.ts` with the bindings of `wrangler.toml`
 * and these overrides: test secrets, a ruleset signing key pair made here for this run, and the Node
 * ingest route replaced by an in-process sink (`test/workers/ingest-sink.ts`) that the Worker's
 * outbound fetches reach.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { exportPrivateKey, exportPublicKey, generateSigningKey } from "./src/rulesets/signed.js";
import { EDGE_TEST_VARS, INGEST_TOKEN, RULESET_KEY_ID } from "./test/workers/constants.js";
import { ingestSink } from "./test/workers/ingest-sink.js";

export default defineConfig(async () => {
  const pair = await generateSigningKey();
  const sink = ingestSink({ token: INGEST_TOKEN });
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ...EDGE_TEST_VARS,
            RULESET_PUBLIC_KEYS: `${RULESET_KEY_ID}:${await exportPublicKey(pair.publicKey)}`,
            // Only the tests sign with it (as the Node publisher would); the Worker never sees a private key.
            TEST_RULESET_SIGNING_KEY: await exportPrivateKey(pair.privateKey),
          },
          outboundService: sink.outbound,
          serviceBindings: { INGEST_SINK: sink.control },
        },
      }),
    ],
    test: {
      include: ["test/workers/**/*.test.ts"],
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  };
});
