/**
 * Does a Redis L2 help in front of the local mmdb? Compares, in one process, on the bundled GeoLite2
 * country database and over 8192 random public addresses (half IPv4, half IPv6; private ones excluded,
 * since they never reach the L2):
 * - (a) `MaxmindGeo.lookup` directly: what an L1 miss costs today (synchronous, record cache on);
 * - (b) an L2 hit: `RedisGeoCache` GET of an entry written before the timing;
 * - (c) an L2 miss: GET that finds nothing, the mmdb lookup, then the SET;
 * (b) and (c) one lookup at a time (latency-bound, as one join sees it) and 32 in flight (as a loaded
 * instance sees it; ioredis pipelines them on its one connection). Reported as cost ratios against (a),
 * paired per round as in lib.ts.
 *
 * Uses its own redis-server on a free loopback port with persistence off, as a cache would run. The
 * test helper's server fsyncs its AOF on every write, which would charge each miss's SET with a disk
 * flush that a geo cache never needs.
 *
 * Run: `npx tsx bench/geo-l2.ts [--quick]`. Writes bench/results/geo-l2.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import type { GeoAnswer, GeoInfo } from "../src/geo/interface.js";
import { isPublicIp, parseIp } from "../src/geo/ip.js";
import { MaxmindGeo } from "../src/geo/maxmind-geo.js";
import { defaultDatabasePath } from "../src/platform/node/geo-file.js";
import type { RedisClient } from "../src/platform/node/redis.js";
import { createRedis } from "../src/platform/node/redis.js";
import { ipHasher } from "../src/runtime/node/secrets.js";
import { RedisGeoCache, type VersionedGeo } from "../src/store/redis/geo-cache.js";
import { redisKeys } from "../src/store/redis/keys.js";
import { prng } from "../test/support/prng.js";
import { freePort } from "../test/support/redis.js";
import {
  consume,
  costRatio,
  machineNote,
  median,
  resultRows,
  type TaskResult,
  table,
  writeJson,
} from "./lib.js";

const RESULTS = fileURLToPath(new URL("./results/geo-l2.json", import.meta.url));
const POOL = 8192;
const MASK = POOL - 1;
const IN_FLIGHT = 32;

interface Options {
  warmupMs: number;
  rounds: number;
  roundMs: number;
}

/** One benchmark task: synchronous (the mmdb) or asynchronous (anything through Redis). */
type BenchTask =
  | { name: string; kind: "sync"; fn: (i: number) => unknown }
  | { name: string; kind: "async"; inFlight: number; fn: (i: number) => Promise<unknown> | unknown };

// ---------- addresses (as bench/micro.ts draws them) ----------

const V6_PREFIXES = [
  0x2400, 0x2401, 0x2404, 0x2405, 0x2600, 0x2601, 0x2604, 0x2800, 0x2a00, 0x2a01, 0x2a02, 0x2c0f,
];

function publicAddresses(count: number, rand: () => number): string[] {
  const out: string[] = [];
  const u16 = () => Math.floor(rand() * 0x10000);
  while (out.length < count) {
    let text: string;
    if (out.length % 2 === 0) {
      const n = Math.floor(rand() * 2 ** 32);
      text = `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
    } else {
      const p = V6_PREFIXES[Math.floor(rand() * V6_PREFIXES.length)] as number;
      text = [p, u16() & 0x0fff, u16(), u16(), u16(), u16(), u16(), u16()]
        .map((g) => g.toString(16))
        .join(":");
    }
    const parsed = parseIp(text);
    if (parsed && isPublicIp(parsed.ip) && !out.includes(parsed.ip)) out.push(parsed.ip);
  }
  return out;
}

// ---------- redis-server ----------

interface BenchRedis {
  url: string;
  version: string;
  stop(): Promise<void>;
}

async function startCacheRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
    ],
    { stdio: "ignore" },
  );
  const probe = createRedis(`redis://127.0.0.1:${port}`, { name: "bench-probe" });
  probe.on("error", () => {});
  const deadline = Date.now() + 10_000;
  while (probe.status !== "ready") {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("redis-server did not start in 10 s");
    await new Promise((r) => setTimeout(r, 25));
  }
  const info = await probe.info("server");
  probe.disconnect();
  return {
    url: `redis://127.0.0.1:${port}`,
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown",
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}

// ---------- timing ----------

interface Round {
  ops: number;
  /** This process's CPU (user + system, all threads) per op, µs: what the lookup takes from Cordon. */
  cpuUs: number;
  next: number;
}

/** Runs `task` for about `ms`; returns ops/s, CPU per op and the next input index. */
async function round(task: BenchTask, start: number, ms: number): Promise<Round> {
  let i = start;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const cpuPerOp = () => {
    const used = process.cpuUsage(cpu0);
    return (used.user + used.system) / Math.max(1, i - start);
  };
  if (task.kind === "sync") {
    let last: unknown;
    let elapsed = 0;
    do {
      const end = i + 1000;
      for (; i < end; i++) last = task.fn(i);
      elapsed = performance.now() - t0;
    } while (elapsed < ms);
    consume(last);
    return { ops: ((i - start) / elapsed) * 1000, cpuUs: cpuPerOp(), next: i };
  }
  // `inFlight` workers share one counter: each takes the next input as soon as its lookup answers.
  const deadline = t0 + ms;
  const worker = async () => {
    while (performance.now() < deadline) consume(await task.fn(i++));
  };
  await Promise.all(Array.from({ length: task.inFlight }, worker));
  const elapsed = performance.now() - t0;
  return { ops: ((i - start) / elapsed) * 1000, cpuUs: cpuPerOp(), next: i };
}

/** Warm-up, then rounds interleaved across tasks, as lib.ts's runSuite does for synchronous tasks. */
async function runTasks(
  tasks: readonly BenchTask[],
  options: Options,
): Promise<(TaskResult & { cpuUsPerOp: number })[]> {
  const state = [];
  for (const task of tasks) {
    const warm = await round(task, 0, options.warmupMs);
    state.push({ task, next: warm.next, samples: [] as number[], cpu: [] as number[] });
  }
  for (let r = 0; r < options.rounds; r++) {
    for (const s of state) {
      const run = await round(s.task, s.next, options.roundMs);
      s.next = run.next;
      s.samples.push(run.ops);
      s.cpu.push(run.cpuUs);
    }
  }
  return state.map((s) => {
    const ops = median(s.samples);
    return {
      name: s.task.name,
      opsPerSec: ops,
      nsPerOp: 1e9 / ops,
      spread: (Math.max(...s.samples) - Math.min(...s.samples)) / ops,
      rounds: s.samples,
      cpuUsPerOp: median(s.cpu),
    };
  });
}

// ---------- main ----------

/** The mmdb under a version that changes every pass over the pool, so every L2 lookup misses. */
class MissingEverywhere implements VersionedGeo {
  pass = 0;
  constructor(readonly mmdb: MaxmindGeo) {}
  get dbVersion(): string {
    return `bench-miss-${this.pass}`;
  }
  lookup(ip: string): GeoAnswer {
    const answer = this.mmdb.lookup(ip);
    // Re-labelled so the L2 files it (it only stores answers of the version in the key).
    return { ...answer, dbVersion: this.dbVersion };
  }
  info(): GeoInfo {
    return this.mmdb.info();
  }
}

export interface GeoL2Report {
  date: string;
  node: string;
  cpu: string;
  redis: string;
  machine: string;
  options: Options;
  addresses: number;
  found: number;
  inFlight: number;
  results: (TaskResult & { cpuUsPerOp: number })[];
  /**
   * Cost ratios against the mmdb direct lookup, above 1 is slower: time per op (paired per round), and
   * this process's CPU per op (medians).
   */
  ratios: Record<string, number>;
  verdict: string;
}

export async function runGeoL2(options: Options): Promise<GeoL2Report> {
  const dbPath = defaultDatabasePath();
  const mmdb = MaxmindGeo.fromBuffer(readFileSync(dbPath), dbPath);
  const addresses = publicAddresses(POOL, prng(0x9e0));
  const found = addresses.filter((ip) => mmdb.lookup(ip).location !== null).length;
  const server = await startCacheRedis();
  const clients: RedisClient[] = [];
  const client = (name: string) => {
    const redis = createRedis(server.url, { name });
    redis.on("error", () => {});
    clients.push(redis);
    return redis;
  };
  try {
    const keys = redisKeys("bench");
    const hashIp = ipHasher(Buffer.from("bench-key-bench-key-bench-key-32"));
    const hitCache = new RedisGeoCache(mmdb, { redis: client("geo-hit"), keys, hashIp, timeoutMs: 1000 });
    const missing = new MissingEverywhere(mmdb);
    const missCache = new RedisGeoCache(missing, {
      redis: client("geo-miss"),
      keys,
      hashIp,
      ttlSeconds: 300,
      timeoutMs: 1000,
    });
    await Promise.all(clients.map((c) => once(c, "ready")));

    // Fill the hit cache, then check that it answers exactly what the mmdb does, from Redis.
    for (const ip of addresses) await hitCache.lookup(ip);
    const admin = client("bench-admin");
    await once(admin, "ready");
    while ((await admin.dbsize()) < POOL) await new Promise((r) => setTimeout(r, 10));
    for (const ip of addresses) {
      const [direct, cached] = [mmdb.lookup(ip), await hitCache.lookup(ip)];
      if (JSON.stringify(direct) !== JSON.stringify(cached)) throw new Error(`L2 answer differs for ${ip}`);
    }
    const filled = hitCache.stats();
    console.log(`geo-l2: ${POOL} addresses (${found} located), Redis ${server.version} at ${server.url}`);

    const hit = (i: number) => hitCache.lookup(addresses[i & MASK] as string);
    // Its own counter rather than `i`: both miss tasks (and their warm-ups) start `i` at 0, and a
    // (pass, address) pair seen before would be a hit.
    let missCount = 0;
    const miss = () => {
      const n = missCount++;
      missing.pass = Math.floor(n / POOL);
      return missCache.lookup(addresses[n & MASK] as string);
    };
    const tasks: BenchTask[] = [
      {
        name: "(a) mmdb direct (L1 miss path)",
        kind: "sync",
        fn: (i) => mmdb.lookup(addresses[i & MASK] as string),
      },
      { name: "(b) L2 hit, 1 in flight", kind: "async", inFlight: 1, fn: hit },
      { name: `(b) L2 hit, ${IN_FLIGHT} in flight`, kind: "async", inFlight: IN_FLIGHT, fn: hit },
      { name: "(c) L2 miss: GET + mmdb + SET, 1 in flight", kind: "async", inFlight: 1, fn: miss },
      { name: `(c) L2 miss, ${IN_FLIGHT} in flight`, kind: "async", inFlight: IN_FLIGHT, fn: miss },
    ];
    const results = await runTasks(tasks, options);

    // Every timed L2 lookup must have been what its task claims.
    const hits = hitCache.stats();
    const misses = missCache.stats();
    if (hits.misses !== filled.misses || hits.errors !== 0)
      throw new Error(`hit task missed: ${JSON.stringify(hits)}`);
    if (misses.hits !== 0 || misses.errors !== 0) throw new Error(`miss task hit: ${JSON.stringify(misses)}`);

    const base = "(a) mmdb direct (L1 miss path)";
    const ratios: Record<string, number> = {};
    const baseCpu = results[0]?.cpuUsPerOp ?? Number.NaN;
    for (const r of results.slice(1)) {
      ratios[`${r.name} ÷ (a)`] = costRatio(results, r.name, base);
      // The same comparison in this process's CPU: what an L2 takes from the check's budget.
      ratios[`${r.name} ÷ (a), Cordon CPU`] = r.cpuUsPerOp / baseCpu;
    }
    const hit1 = ratios["(b) L2 hit, 1 in flight ÷ (a)"] as number;
    const hitN = ratios[`(b) L2 hit, ${IN_FLIGHT} in flight ÷ (a)`] as number;
    const verdict =
      hitN > 1
        ? `An L2 hit costs ${hitN.toFixed(0)}x a direct mmdb lookup at ${IN_FLIGHT} in flight (${hit1.toFixed(0)}x one at a time): off by default for the mmdb, on for the web service.`
        : "An L2 hit is cheaper than the mmdb here: reconsider the default.";

    const rows = resultRows(results).map((row, k) =>
      k === 0 ? [...row, "Cordon CPU/op"] : [...row, `${(results[k - 1]?.cpuUsPerOp ?? 0).toFixed(2)} µs`],
    );
    console.log(`\n${table(rows)}\n`);
    console.log(
      table([
        ["cost ratio (time/op ÷ mmdb direct)", "value"],
        ...Object.entries(ratios).map(([k, v]) => [k, `${v.toFixed(1)}x`]),
      ]),
    );
    console.log(`\n${verdict}`);

    const report: GeoL2Report = {
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
      redis: server.version,
      machine: `${machineNote()} redis-server shares the same two vCPUs.`,
      options,
      addresses: POOL,
      found,
      inFlight: IN_FLIGHT,
      results,
      ratios,
      verdict,
    };
    writeJson(RESULTS, report);
    console.log(`geo-l2: wrote ${RESULTS}`);
    return report;
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes("--quick");
  await runGeoL2(
    quick ? { warmupMs: 100, rounds: 2, roundMs: 100 } : { warmupMs: 500, rounds: 7, roundMs: 500 },
  );
}
