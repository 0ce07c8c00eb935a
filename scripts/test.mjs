#!/usr/bin/env node
// `npm test [-- filters]`: the Node suite, then the Worker suite inside workerd, with the same
// filters for both. A filter that matches files in only one of them must not fail the other run.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const filtered = args.some((a) => !a.startsWith("-"));
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
for (const config of [[], ["-c", "vitest.workers.config.ts"]]) {
  const run = spawnSync(
    "npx",
    ["vitest", "run", ...config, ...args, ...(filtered ? ["--passWithNoTests"] : [])],
    {
      stdio: "inherit",
      env,
    },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
}
