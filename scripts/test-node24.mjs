#!/usr/bin/env node
/**
 * `npm run test:node24 [-- filters]`: the Node phase of the suite (scripts/test.mjs: vitest without the
 * Redis Cluster files) under Node 24, the current LTS, beside the machine's Node that `npm test` uses.
 * Without filters it leaves out the browser page tests (`test/pages`) too: what they add to the HTTP
 * tests is Chromium's rendering of the console, which does not depend on the server's Node, and on two
 * cores they were about half of this phase's time (CI ran over 20 minutes with them twice). The server
 * routes they drive run under Node 24 in the HTTP tests; a filter naming a page test still runs it here.
 * Node 24 comes from the npm registry (scripts/node-from-registry.mjs) and goes first on PATH, so the
 * servers and CLIs the tests spawn run on it too. With filters, only the files they match.
 *
 * The same node_modules serves both: the native addons installed (rolldown, lightningcss) are N-API,
 * which does not depend on the Node version.
 */
import { spawnSync } from "node:child_process";
import { dirname } from "node:path";
import { nodeBinary } from "./node-from-registry.mjs";

/** The Node 24 release the registry's `node` package installs; raise it with the LTS. */
const NODE24 = "24.21.0";

const args = process.argv.slice(2);
const filtered = args.some((a) => !a.startsWith("-"));
const CLUSTER_FILES = ["test/**/cluster-*.test.ts", "test/redis-cluster-support.test.ts"];
const PAGE_FILES = ["test/pages/**"];

const node = nodeBinary(NODE24);
const env = {
  ...process.env,
  PATH: `${dirname(node)}:${process.env.PATH}`,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};
console.log(`test:node24: ${node} (${NODE24})`);
const run = spawnSync(
  node,
  [
    "node_modules/vitest/vitest.mjs",
    "run",
    ...(filtered
      ? ["--passWithNoTests"]
      : [...CLUSTER_FILES, ...PAGE_FILES].flatMap((glob) => ["--exclude", glob])),
    ...args,
  ],
  { stdio: "inherit", env },
);
process.exit(run.status ?? 1);
