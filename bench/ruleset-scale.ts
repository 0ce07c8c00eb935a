/**
 * Issue 14, goals 3 and 4: the ruleset at a million orders. In one run:
 * - compile from scratch at 10k / 100k / 1M orders: time and heap bytes kept per order; one incremental
 *   recompile (one order changed); `decide` on the 1M ruleset against a 10-order one, on the same hot
 *   working set (a child process per size: `ruleset-scale-compile.ts`);
 * - ready to serve: a data directory with a 1M-order journal, the server started until `/readyz` answers
 *   200, without a snapshot (full replay) and with the one the first start wrote;
 * - check p99 under a fixed arrival rate (autocannon, in process) on that 1M-order server, with no order
 *   changes and with 10 changes a second (orders created and approved over the API), interleaved.
 *
 * `npx tsx bench/ruleset-scale.ts [--sizes=10000,100000,1000000] [--history=1000000] [--rate=1000]
 * [--seconds=15] [--rounds=2] [--skip-full-replay] [--trace-gc] [--workers=2]`. Ratios are per round,
 * within this run. `--sizes=` (empty) skips the compile measurements; `--workers=2` runs the server with
 * `CORDON_WORKERS=2` (a change is answered once the follower has the new ruleset).
 * `--trace-gc` runs the servers with V8's `--trace-gc` and writes what it prints to
 * `bench/results/ruleset-scale-gc-<n>.log`, one per server start, to tell a collection's pause from an
 * order change's.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JOURNAL_FILE } from "../src/store/file/order-journal.js";
import { iso, NOON } from "../test/support/fixtures.js";
import { approve, pending } from "../test/support/rulesets.js";
import { arg, median } from "./lib.js";
import {
  api,
  type buildCordon,
  type CordonServer,
  ROOT,
  sleep,
  spawnServer,
  TOKENS,
  writeApprovalJournal,
} from "./servers.js";

const SIZES = arg("sizes", "10000,100000,1000000")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const HISTORY = Number(arg("history", "1000000"));
const RATE = Number(arg("rate", "1000"));
const SECONDS = Number(arg("seconds", "15"));
const ROUNDS = Number(arg("rounds", "2"));
const SKIP_FULL = process.argv.includes("--skip-full-replay");
const TRACE_GC = process.argv.includes("--trace-gc");
/** `CORDON_WORKERS` of the server: with 2, every order change reaches a follower before it is answered. */
const WORKERS = Number(arg("workers", "1"));
const SERVER_NODE_ARGS = [
  "--max-old-space-size=12000",
  "--max-semi-space-size=64",
  ...(TRACE_GC ? ["--trace-gc"] : []),
];
let starts = 0;

function compileRuns() {
  const out: Record<string, unknown>[] = [];
  for (const size of SIZES) {
    const run = spawnSync(
      process.execPath,
      [
        "--expose-gc",
        "--max-old-space-size=12000",
        "--import",
        "tsx",
        "bench/ruleset-scale-compile.ts",
        String(size),
      ],
      { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 20 },
    );
    if (run.status !== 0) throw new Error(`compile ${size}: ${run.stderr}`);
    const line = JSON.parse(run.stdout.trim().split("\n").pop() as string);
    console.log(JSON.stringify(line));
    out.push(line);
  }
  return out;
}

/**
 * A data directory whose journal holds `n` approved orders, one entry each, chained as the store chains
 * them. Enforcing, one meeting each (the enforcement-events reconciler publishes a block for each at the
 * first start, then works per change); the orders the load checks are `m-0` .. `m-1023`.
 */
async function history(n: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cordon-scale-"));
  const template = approve(
    pending("t", {
      jurisdictions: ["RU"],
      authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" },
    }),
  );
  await writeApprovalJournal(join(dir, JOURNAL_FILE), n, (i, id) => ({
    order: { ...template, id, target: { kind: "meeting", meetingIds: [`m-${i}`] } },
    at: iso(NOON - 3_600_000),
  }));
  return dir;
}

async function startOn(
  dataDir: string,
  build: Awaited<ReturnType<typeof buildCordon>>,
): Promise<{ server: CordonServer; readyMs: number }> {
  const t = performance.now();
  const args =
    build.mode === "dist"
      ? [...SERVER_NODE_ARGS, "--enable-source-maps", join(ROOT, "dist/src/entry/node.js")]
      : [...SERVER_NODE_ARGS, "--import", "tsx", "src/entry/node.ts"];
  const server = await spawnServer({
    name: "cordon-1m",
    args,
    env: {
      CORDON_DATA_DIR: dataDir,
      CORDON_TOKENS: Object.values(TOKENS).join(","),
      CORDON_IP_HASH_KEY: "bench-ip-hash-key-0123456789abcdef0123456789",
      CORDON_LOG_LEVEL: "warn",
      ...(WORKERS > 1 ? { CORDON_WORKERS: String(WORKERS) } : {}),
    },
    readyPath: "/readyz",
    readyStatus: 200,
    timeoutMs: 600_000,
    ...(TRACE_GC ? { stdoutPath: join(ROOT, `bench/results/ruleset-scale-gc-${++starts}.log`) } : {}),
  });
  return { server: { ...server, dataDir }, readyMs: performance.now() - t };
}

/** `SECONDS` of checks at `RATE`/s over 16 connections; the p99 and p50 in ms, and whether all were 200. */
async function load(
  url: string,
): Promise<{ p50: number; p99: number; p999: number; requests: number; non2xx: number }> {
  const requests = Array.from({ length: 16 }, (_, i) => ({
    method: "POST" as const,
    path: "/v1/check",
    headers: { authorization: `Bearer ${TOKENS.checker.split(":")[2]}`, "content-type": "application/json" },
    body: JSON.stringify({ meetingId: `m-${(i * 61) % 1024}`, ip: i % 2 === 0 ? "5.8.10.20" : "8.8.8.8" }),
  }));
  // A variable specifier: autocannon ships no types (as in servers.ts).
  const specifier: string = "autocannon";
  const { default: autocannon } = (await import(specifier)) as {
    default: (opts: Record<string, unknown>) => Promise<{
      latency: { p50: number; p99: number; p99_9: number };
      requests: { total: number };
      non2xx: number;
    }>;
  };
  const result = await autocannon({ url, connections: 16, duration: SECONDS, overallRate: RATE, requests });
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    requests: result.requests.total,
    non2xx: result.non2xx,
  };
}

/** 10 order changes a second (5 orders created, 5 approved) until `stop`; the change latencies in ms. */
async function changes(
  url: string,
  stop: () => boolean,
): Promise<{ count: number; p50: number; max: number }> {
  const latencies: number[] = [];
  let n = 0;
  while (!stop()) {
    const t = performance.now();
    const created = await api({ url }, "POST", "/v1/orders", "responder", {
      reference: `bench/${n++}`,
      authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" },
      jurisdictions: ["RU"],
      target: { kind: "meeting", meetingIds: [`m-change-${n}`] },
      receivedAt: new Date(Date.now() - 60_000).toISOString(),
    });
    const t2 = performance.now();
    latencies.push(t2 - t);
    const approved = await api({ url }, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
    latencies.push(performance.now() - t2);
    if (created.status !== 201 || approved.status !== 200)
      throw new Error(`change failed: ${created.status} ${approved.status}`);
    const wait = 200 - (performance.now() - t);
    if (wait > 0) await sleep(wait);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return { count: latencies.length, p50: median(sorted), max: sorted[sorted.length - 1] ?? 0 };
}

async function main() {
  console.log("## compile");
  const compiles = compileRuns();
  console.log(`## history of ${HISTORY} orders`);
  const t = performance.now();
  const dataDir = await history(HISTORY);
  console.log(`journal written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const build = await import("./servers.js").then((m) => m.buildCordon());
  const ready: Record<string, number> = {};
  if (!SKIP_FULL) {
    const first = await startOn(dataDir, build);
    ready.fullReplayMs = first.readyMs;
    console.log(`ready without a snapshot: ${(first.readyMs / 1000).toFixed(1)} s`);
    await first.server.stop(); // waits for the snapshot the open started
  } else {
    // The snapshot a first start would write, written by opening the journal once here.
    const { OrderJournal } = await import("../src/store/file/order-journal.js");
    const journal = await OrderJournal.open(dataDir, { snapshotEvery: 1 });
    await journal.close();
  }
  const second = await startOn(dataDir, build);
  ready.snapshotMs = second.readyMs;
  console.log(`ready from the snapshot: ${(second.readyMs / 1000).toFixed(1)} s`);
  const server = second.server;
  // Warm-up until checks are answered at the rate: a new deployment's first reconcile publishes a
  // `block-effective` event for every enforcing order (a million, once), and a round measured during it
  // answers nothing.
  for (let w = 0; w < 20; w++) {
    const warm = await load(server.url);
    console.log(`warm-up: ${warm.requests} checks answered, p99 ${warm.p99} ms`);
    if (warm.requests >= 0.9 * RATE * SECONDS) break;
  }
  const rounds: {
    quiet: Awaited<ReturnType<typeof load>>;
    changing: Awaited<ReturnType<typeof load>>;
    changes: unknown;
  }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const quiet = await load(server.url);
    let done = false;
    const changer = changes(server.url, () => done);
    const changing = await load(server.url);
    done = true;
    const changeStats = await changer;
    rounds.push({ quiet, changing, changes: changeStats });
    console.log(
      JSON.stringify({
        round: r + 1,
        quiet,
        changing,
        changes: changeStats,
        p99Ratio: changing.p99 / quiet.p99,
      }),
    );
  }
  await server.stop();
  console.log(
    JSON.stringify({ compiles, ready, p99Ratios: rounds.map((r) => r.changing.p99 / r.quiet.p99) }, null, 1),
  );
}

await main();
