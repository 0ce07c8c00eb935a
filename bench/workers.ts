/**
 * CORDON_WORKERS=2 against one worker, on the embedded store and on Redis (issue 14 goal 5): POST
 * /v1/check under wrk (bench/wrk/check.lua, as bench/http.ts drives it), the same servers in every round,
 * rounds interleaved (embedded-1, embedded-2, redis-1, redis-2, then again), the ratio 2 ÷ 1 taken per
 * round and its median reported. The load generator runs on the same cores as the servers: besides the
 * answers per second, each run reports the CPU the server's processes used (primary and workers, from
 * /proc), the CPU the whole machine was busy (from /proc/stat: wrk and everyone else included), and the
 * load average, so a ratio can be read against what the cores could give.
 *
 * Run: `npx tsx bench/workers.ts [--seconds=10] [--rounds=3] [--connections=64] [--threads=1] [--no-redis]`.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { hasRedisServer, startBenchRedis } from "./redis-mode.js";
import {
  buildCordon,
  type CordonServer,
  cpuSeconds,
  type LoadResult,
  parseWrk,
  secret,
  seedOrders,
  sleep,
  startCordon,
} from "./servers.js";

const SCRIPT = "bench/wrk/check.lua";

const argv = process.argv.slice(2);
const num = (name: string, fallback: number) => {
  const arg = argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.split("=")[1]) : fallback;
};
const seconds = num("seconds", 10);
const rounds = num("rounds", 3);
const connections = num("connections", 64);
const threads = num("threads", 1);
const withRedis = !argv.includes("--no-redis") && hasRedisServer();

/** The server's process and its children (node:cluster's workers), by pid. */
function tree(pid: number): number[] {
  const out = [pid];
  for (const task of [pid]) {
    let children = "";
    try {
      children = readFileSync(`/proc/${task}/task/${task}/children`, "utf8");
    } catch {
      continue;
    }
    for (const child of children.trim().split(/\s+/).filter(Boolean)) out.push(...tree(Number(child)));
  }
  return out;
}

function treeCpu(pid: number): number {
  let total = 0;
  for (const p of tree(pid)) {
    try {
      total += cpuSeconds(p).total;
    } catch {
      // exited in between
    }
  }
  return total;
}

/** Busy and total jiffies of the whole machine (all cores), from the first line of /proc/stat. */
function machine(): { busy: number; total: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string)
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** wrk under /usr/bin/time: its answers, and the CPU seconds wrk itself used (the generator's share). */
function runWrkTimed(url: string, secs: number): Promise<{ result: LoadResult; cpu: number }> {
  const args = [`-t${threads}`, `-c${connections}`, `-d${secs}s`, "--latency", "-s", SCRIPT, url];
  return new Promise((done, fail) => {
    execFile(
      "/usr/bin/time",
      ["-f", "wrk-cpu %U %S", "wrk", ...args],
      {
        env: { ...process.env, CORDON_TOKEN: secret("checker"), WRK_PATH: "/v1/check" },
        timeout: (secs + 30) * 1000,
      },
      (error, stdout, stderr) => {
        if (error) return fail(new Error(`wrk failed: ${error.message}\n${stdout}${stderr}`));
        const time = /wrk-cpu ([\d.]+) ([\d.]+)/.exec(stderr);
        done({ result: parseWrk(stdout), cpu: time ? Number(time[1]) + Number(time[2]) : Number.NaN });
      },
    );
  });
}

interface Run {
  rps: number;
  non2xx: number;
  errors: number;
  p99: number;
  /** Cores the server's processes used on average during the run. */
  serverCores: number;
  /** Cores the machine was busy (everything: server, wrk, others). */
  machineCores: number;
  serverUsPerRequest: number;
  /** wrk's own CPU per answer. */
  wrkUsPerRequest: number;
  load1: number;
}

async function measure(server: CordonServer, secs: number): Promise<Run> {
  const cpu0 = treeCpu(server.pid);
  const m0 = machine();
  const started = performance.now();
  const { result, cpu: wrkCpu } = await runWrkTimed(server.url, secs);
  const wall = (performance.now() - started) / 1000;
  const cpu = treeCpu(server.pid) - cpu0;
  const m1 = machine();
  const cores = (m1.total - m0.total) / wall / 100; // jiffies of all cores per second / USER_HZ
  const machineCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * cores;
  return {
    rps: result.rps,
    non2xx: result.non2xx,
    errors: result.socketErrors,
    p99: result.latencyMs.p99,
    serverCores: cpu / wall,
    machineCores,
    serverUsPerRequest: (cpu / Math.max(1, result.requests)) * 1e6,
    wrkUsPerRequest: (wrkCpu / Math.max(1, result.requests)) * 1e6,
    load1: loadavg()[0] ?? 0,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function main(): Promise<void> {
  const build = await buildCordon();
  console.log(
    `workers: cordon ${build.mode} (${build.note}); load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const redis = withRedis ? await startBenchRedis() : undefined;
  const configs: { name: string; env: Record<string, string> }[] = [
    { name: "embedded-1", env: { CORDON_WORKERS: "1" } },
    { name: "embedded-2", env: { CORDON_WORKERS: "2" } },
    ...(redis
      ? [
          {
            name: "redis-1",
            env: { CORDON_WORKERS: "1", REDIS_URL: redis.server.url, CORDON_REDIS_PREFIX: "w1" },
          },
          {
            name: "redis-2",
            env: { CORDON_WORKERS: "2", REDIS_URL: redis.server.url, CORDON_REDIS_PREFIX: "w2" },
          },
        ]
      : []),
  ];
  const servers = new Map<string, CordonServer>();
  const runs = new Map<string, Run[]>();
  try {
    for (const c of configs) {
      const server = await startCordon(build, [], { name: c.name, env: c.env });
      servers.set(c.name, server);
      await sleep(2000); // every worker listening (the log is at warn: nothing says so)
      await seedOrders(server);
      await measure(server, 3); // warm-up: JIT, caches, the GeoIP L1
      runs.set(c.name, []);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const c of configs) {
        const run = await measure(servers.get(c.name) as CordonServer, seconds);
        runs.get(c.name)?.push(run);
        console.log(
          `round ${round} ${c.name.padEnd(11)} ${run.rps.toFixed(0).padStart(6)} req/s  p99 ${run.p99.toFixed(1)} ms  ` +
            `server ${run.serverCores.toFixed(2)} cores (${run.serverUsPerRequest.toFixed(0)} µs/req)  ` +
            `wrk ${run.wrkUsPerRequest.toFixed(0)} µs/req  ` +
            `machine ${run.machineCores.toFixed(2)} cores  non2xx ${run.non2xx} errors ${run.errors}  load ${run.load1.toFixed(2)}`,
        );
      }
    }
  } finally {
    for (const s of servers.values()) await s.stop().catch(() => undefined);
    await redis?.close().catch(() => undefined);
  }
  const ratio = (two: string, one: string, pick: (r: Run) => number) =>
    median((runs.get(two) ?? []).map((r, i) => pick(r) / pick((runs.get(one) ?? [])[i] as Run)));
  console.log("\nmedians over rounds:");
  for (const c of configs) {
    const rs = runs.get(c.name) ?? [];
    console.log(
      `  ${c.name.padEnd(11)} ${median(rs.map((r) => r.rps))
        .toFixed(0)
        .padStart(6)} req/s  server ${median(rs.map((r) => r.serverCores)).toFixed(2)} cores  ` +
        `${median(rs.map((r) => r.serverUsPerRequest)).toFixed(0)} µs/req  machine ${median(rs.map((r) => r.machineCores)).toFixed(2)} cores`,
    );
  }
  for (const store of ["embedded", ...(redis ? ["redis"] : [])]) {
    // What two free cores could give: one worker is bound by its one core (S1 µs per answer); two
    // workers and wrk share both cores, each answer costing S2 (the workers) + W (wrk) of CPU.
    const m = (name: string, pick: (r: Run) => number) => median((runs.get(name) ?? []).map(pick));
    const s1 = m(`${store}-1`, (r) => r.serverUsPerRequest);
    const s2 = m(`${store}-2`, (r) => r.serverUsPerRequest);
    const w = m(`${store}-2`, (r) => r.wrkUsPerRequest);
    console.log(
      `  ${store}: 2 workers ÷ 1 = ${ratio(`${store}-2`, `${store}-1`, (r) => r.rps).toFixed(2)}x req/s, ` +
        `${ratio(`${store}-2`, `${store}-1`, (r) => r.serverCores).toFixed(2)}x server CPU; ` +
        `ceiling on 2 free cores shared with wrk = 2·S1/(S2+W) = 2·${s1.toFixed(0)}/(${s2.toFixed(0)}+${w.toFixed(0)}) = ${((2 * s1) / (s2 + w)).toFixed(2)}x`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
