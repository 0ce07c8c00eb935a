#!/usr/bin/env node
// `npm test [-- filters]`: the Node suite, then the Redis Cluster tests, then the Worker suite inside
// workerd, with the same filters for each. A filter that matches files in only one of them must not
// fail the others.
//
// The cluster tests (`cluster-*.test.ts`, one six-node Redis Cluster per file) run in a phase of their
// own: on a two-core machine their twelve redis-servers beside the rest of the suite would starve its
// timing-sensitive tests (durability, the shipper, the browser pages), and failovers on a starved
// machine take longer than the tests allow.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const filtered = args.some((a) => !a.startsWith("-"));
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const CLUSTER_FILES = ["test/**/cluster-*.test.ts", "test/redis-cluster-support.test.ts"];

// With filters, one Node run takes whatever they match, cluster files included.
const phases = filtered
  ? [[], ["-c", "vitest.workers.config.ts"]]
  : [
      CLUSTER_FILES.flatMap((glob) => ["--exclude", glob]),
      // Vitest's positional filters match file paths by substring: this one matches exactly CLUSTER_FILES.
      ["cluster-"],
      ["-c", "vitest.workers.config.ts"],
    ];
for (const phase of phases) {
  const run = spawnSync(
    "npx",
    ["vitest", "run", ...phase, ...args, ...(filtered ? ["--passWithNoTests"] : [])],
    { stdio: "inherit", env },
  );
  if (run.status !== 0) process.exit(run.status ?? 1);
}
