/**
 * Where Cordon's check spends its CPU: runs Cordon under `node --cpu-prof` with the orders seeded, loads
 * POST /v1/check with wrk (the same script as the HTTP benchmark; autocannon when wrk is missing), stops it, and summarises the V8 CPU
 * profile: self time by function and by module (package, node internals, Cordon's own files), and the
 * inclusive time of the busiest functions. `(idle)` samples are left out, so percentages are of busy CPU
 * (startup and order seeding are included, but are a few percent of a loaded run).
 *
 * With `--redis`, the same Cordon in Redis mode (REDIS_URL on a redis-server started for the run, as
 * `cordon-redis` in http.ts), so the two profiles can be compared function by function.
 *
 * With `--batch`, `POST /v1/check/batch` instead, 100 checks a request (the same participants, through
 * bench/wrk/lines.lua, as check-speed.ts sends them): where goal 2's cost per check in a batch goes. It
 * needs wrk. Per-check figures are then per check, not per request.
 *
 * Run: `npx tsx bench/profile.ts [--seconds=10] [--top=25] [--redis] [--batch]`. Writes
 * bench/results/profile.json (profile-redis.json with --redis, profile-batch.json with --batch).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { table, writeJson } from "./lib.js";
import { startBenchRedis } from "./redis-mode.js";
import {
  type BuildResult,
  batchBodies,
  buildCordon,
  checkBodies,
  hasWrk,
  ROOT,
  runAutocannon,
  runWrk,
  secret,
  seedOrders,
  startCordon,
} from "./servers.js";

const RESULTS = fileURLToPath(new URL("./results/profile.json", import.meta.url));
const RESULTS_REDIS = fileURLToPath(new URL("./results/profile-redis.json", import.meta.url));
const RESULTS_BATCH = fileURLToPath(new URL("./results/profile-batch.json", import.meta.url));
/** Checks in one request with `--batch` (check-speed.ts's batch). */
const BATCH = 100;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileReport {
  date: string;
  mode: "embedded" | "redis";
  /** `POST /v1/check/batch`, `BATCH` checks a request; `requests` and `rps` count checks. */
  batch?: boolean;
  seconds: number;
  requests: number;
  rps: number;
  busyMs: number;
  idleMs: number;
  selfByFunction: ProfileEntry[];
  selfByModule: ProfileEntry[];
  inclusiveByFunction: ProfileEntry[];
}

const SPECIAL = new Set(["(root)", "(program)", "(idle)", "(garbage collector)"]);

/** A readable place for a script URL: a package name, a node: module, or a Cordon source file. */
export function moduleOf(url: string, functionName: string): string {
  if (url === "") return SPECIAL.has(functionName) ? functionName : "(native)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm !== -1) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return (rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]) ?? url;
  }
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  const root = `file://${ROOT}`;
  if (url.startsWith(root))
    return url
      .slice(root.length)
      .replace(/^dist\//, "")
      .replace(/\.js$/, ".ts");
  return url;
}

export function summarise(profile: CpuProfile, top: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n: ProfileNode) => {
    const where = moduleOf(n.callFrame.url, n.callFrame.functionName);
    const name = n.callFrame.functionName || "(anonymous)";
    return {
      key: `${name}\u0000${where}:${n.callFrame.lineNumber + 1}`,
      name,
      where,
      line: n.callFrame.lineNumber + 1,
    };
  };
  // Each sample's time is the delta to the next sample (the last one gets the mean interval).
  const n = profile.samples.length;
  const total = profile.endTime - profile.startTime;
  const mean = n > 0 ? total / n : 0;
  const self = new Map<string, number>();
  const selfModule = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const ancestors = new Map<number, string[]>();
  const ancestorKeys = (id: number): string[] => {
    const known = ancestors.get(id);
    if (known) return known;
    const keys = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node && !SPECIAL.has(node.callFrame.functionName)) keys.add(keyOf(node).key);
    }
    const list = [...keys];
    ancestors.set(id, list);
    return list;
  };
  const labels = new Map<string, { name: string; where: string }>();
  let idle = 0;
  let busy = 0;
  for (let i = 0; i < n; i++) {
    const id = profile.samples[i] as number;
    const dt = (i + 1 < n ? (profile.timeDeltas[i + 1] as number) : mean) / 1000;
    const node = byId.get(id);
    if (!node) continue;
    if (node.callFrame.functionName === "(idle)") {
      idle += dt;
      continue;
    }
    busy += dt;
    const k = keyOf(node);
    labels.set(k.key, { name: k.name, where: `${k.where}:${k.line}` });
    self.set(k.key, (self.get(k.key) ?? 0) + dt);
    selfModule.set(k.where, (selfModule.get(k.where) ?? 0) + dt);
    for (const a of ancestorKeys(id)) {
      inclusive.set(a, (inclusive.get(a) ?? 0) + dt);
      if (!labels.has(a)) {
        const [name = "", where = ""] = a.split("\u0000");
        labels.set(a, { name, where });
      }
    }
  }
  const entries = (map: Map<string, number>, label: (k: string) => { name: string; where: string }) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => ({ ...label(k), ms, percent: (ms / busy) * 100 }));
  const fn = (k: string) => labels.get(k) ?? { name: k, where: "" };
  return {
    busyMs: busy,
    idleMs: idle,
    selfByFunction: entries(self, fn),
    selfByModule: entries(selfModule, (k) => ({ name: k, where: "" })),
    inclusiveByFunction: entries(inclusive, fn),
  };
}

export async function runProfile(opts: {
  seconds: number;
  top: number;
  build?: BuildResult;
  redis?: boolean;
  batch?: boolean;
}): Promise<ProfileReport> {
  // Without wrk, autocannon (a devDependency) loads it in this process: the profile is Cordon's alone.
  const wrk = hasWrk();
  if (opts.batch && !wrk) throw new Error("profile --batch needs wrk");
  const build = opts.build ?? (await buildCordon());
  const dir = mkdtempSync(join(tmpdir(), "cordon-prof-"));
  const redis = opts.redis ? await startBenchRedis() : undefined;
  const cordon = await startCordon(
    build,
    ["--cpu-prof", `--cpu-prof-dir=${dir}`],
    redis ? { name: "cordon-redis", env: { REDIS_URL: redis.server.url } } : {},
  );
  let requests = 0;
  let rps = 0;
  try {
    await seedOrders(cordon);
    console.log(`profile: cordon pid ${cordon.pid} under --cpu-prof, loading ${opts.seconds}s...`);
    const load = { url: cordon.url, seconds: opts.seconds, connections: 32, threads: 1 };
    const result = opts.batch
      ? await runWrk({
          ...load,
          script: "bench/wrk/lines.lua",
          env: { CORDON_TOKEN: secret("checker"), WRK_PATH: "/v1/check/batch", WRK_LINES: batchLines(dir) },
        })
      : wrk
        ? await runWrk({
            ...load,
            script: "bench/wrk/check.lua",
            env: { CORDON_TOKEN: secret("checker"), WRK_PATH: "/v1/check" },
          })
        : await runAutocannon({ ...load, bodies: checkBodies(4096), token: secret("checker") });
    const perRequest = opts.batch ? BATCH : 1;
    requests = result.requests * perRequest;
    rps = result.rps * perRequest;
  } finally {
    await cordon.stop(); // SIGTERM: Cordon exits through process.exit, which writes the profile
    rmSync(cordon.dataDir, { recursive: true, force: true });
    await redis?.close();
  }
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`profile: no .cpuprofile written in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  rmSync(dir, { recursive: true, force: true });
  const summary = summarise(profile, opts.top);
  const report: ProfileReport = {
    date: new Date().toISOString(),
    mode: redis ? "redis" : "embedded",
    ...(opts.batch ? { batch: true } : {}),
    seconds: opts.seconds,
    requests,
    rps,
    ...summary,
  };
  printProfile(report);
  const out = opts.batch ? RESULTS_BATCH : redis ? RESULTS_REDIS : RESULTS;
  writeJson(out, report);
  console.log(`profile: wrote ${out}`);
  return report;
}

/** check-speed.ts's batch bodies, `BATCH` of `checkBodies` a line, written into `dir`. */
function batchLines(dir: string): string {
  const file = join(dir, "batches.jsonl");
  writeFileSync(file, `${batchBodies(checkBodies(4096), BATCH).join("\n")}\n`);
  return file;
}

function printProfile(r: ProfileReport): void {
  const rows = (title: string, list: ProfileEntry[], withWhere: boolean) => [
    withWhere ? [title, "where", "ms", "%"] : [title, "ms", "%"],
    ...list.map((e) =>
      withWhere
        ? [e.name, e.where, e.ms.toFixed(0), e.percent.toFixed(1)]
        : [e.name, e.ms.toFixed(0), e.percent.toFixed(1)],
    ),
  ];
  console.log(
    `\nprofile: ${r.requests} checks (${r.rps.toFixed(0)}/s), busy ${(r.busyMs / 1000).toFixed(2)} s, idle ${(r.idleMs / 1000).toFixed(2)} s, ${((r.busyMs * 1000) / Math.max(r.requests, 1)).toFixed(0)} µs busy CPU per check (main thread, profiler on)\n`,
  );
  console.log(`${table(rows("self time by module", r.selfByModule, false))}\n`);
  console.log(`${table(rows("self time by function", r.selfByFunction, true))}\n`);
  console.log(`${table(rows("inclusive time by function", r.inclusiveByFunction, true))}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const num = (name: string, fallback: number) => {
    const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
    return arg ? Number(arg.split("=")[1]) : fallback;
  };
  await runProfile({
    seconds: num("seconds", 10),
    top: num("top", 25),
    redis: process.argv.includes("--redis"),
    batch: process.argv.includes("--batch"),
  });
}
