/**
 * Instructions per check, counted with `valgrind --tool=callgrind`: a figure that does not move with
 * the machine's load, where wall-clock CPU on this shared machine moves 2-5x. Each server runs under
 * callgrind (the serving process only, `--trace-children=no`); the load comes over real HTTP from this
 * process, outside valgrind. A run is: start, seed (Cordon), a warm-up of `--warmup` requests, then
 * `--pairs` pairs of measured regions, of N and of 2N requests, each between `callgrind_control -z` (counters zeroed) and
 * `callgrind_control -d` (a dump), and each including (Redis mode) the wait until the shipper has put
 * every record of the region in the streams. Start-up and warm-up are in neither count, and whatever a
 * region costs once (the drain wait's idle timers, a last group commit) cancels in the difference:
 * (I(2N) − I(N)) / N is the cost of one request in the steady state, its share of group commits,
 * garbage collection and (Redis mode) shipping included. Only user-space instructions are counted: the
 * kernel's share (socket and file system calls) is not, so wall-clock CPU ratios are also needed.
 * Each pair gives a figure; the median pair's is reported (a one-off task in one region, such as a
 * snapshot, spoils one pair, not the figure), and every pair's is printed.
 *
 *   echo   bench/hello-server.ts post: Hono's JSON POST echo on @hono/node-server (issue 14, goal 1's floor)
 *   check  Cordon embedded (dist), `POST /v1/check`, decision log on
 *   redis  the same Cordon with REDIS_URL on a redis-server of its own (AOF, fsync always), records shipped
 *          from the outbox to the decision streams inside the measured region (issue 12: within 1.1x of `check`)
 *   redis-burst  the same, the redis-server paused while the measured checks run: shipped in full pages
 *          (see `redisTarget` for why both)
 *   batch  Cordon embedded, `POST /v1/check/batch`, `--batch` checks a request (per check: ÷ N × batch)
 *   nginx  nginx + geoip2 + map, one GET per check (issue 14, goal 2's reference; skipped when nginx or its
 *          geoip2 module is missing: `npx tsx bench/check-speed.ts` installs them)
 * All get the same participants (`checkBodies`, the mix of bench/wrk/check.lua), `--connections` at once.
 *
 * Run: `npx tsx bench/instructions.ts [--n=4096] [--warmup=4096] [--pairs=3] [--connections=32] [--batch=100]
 *   [--batch-n=100] [--only=echo,check,redis,redis-burst,batch,nginx] [--parallel=2] [--keep] [--top=30] [--entry=<node.js>]`:
 * `--entry` runs another build of Cordon (a copy of dist/ under this tree, e.g. from an earlier commit). Needs valgrind (and
 * redis-server for `redis`). Writes bench/results/instructions.json; with `--keep` the callgrind files
 * stay in the printed directory, and `--top` prints the functions whose instructions grew most from N
 * to 2N (native code and V8 builtins by name; JIT-compiled JavaScript is `???`, see `bench/profile.ts`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { Agent, request } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { machineNote, NGINX_GEOIP2_MODULE, table, writeJson, writeNginxConf } from "./lib.js";
import {
  type BenchRedis,
  DecisionLineCounter,
  hasRedisServer,
  startBenchRedis,
  waitShipped,
} from "./redis-mode.js";
import {
  buildCordon,
  checkBodies,
  DIST_ENTRY,
  freePort,
  ROOT,
  secret,
  seedOrders,
  sleep,
  TOKENS,
} from "./servers.js";

const RESULTS = fileURLToPath(new URL("./results/instructions.json", import.meta.url));

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const num = (name: string, fallback: number) => Number(arg(name) ?? fallback);
const NAMES = ["echo", "check", "redis", "redis-burst", "batch", "nginx"] as const;
type Name = (typeof NAMES)[number];
const options = {
  n: num("n", 4096),
  warmup: num("warmup", 4096),
  /** Seconds of the idle region (no requests) that prices each server's background per second. */
  idleSeconds: num("idle-seconds", 10),
  connections: num("connections", 32),
  batch: num("batch", 100),
  /** N for the batch route, in requests (each of `--batch` checks); its warm-up is `--warmup` checks. */
  batchN: num("batch-n", 100),
  parallel: num("parallel", 2),
  /**
   * Region pairs (N, then 2N) per server, after one start-up and warm-up; each pair gives a figure, and the
   * median is reported, so that a one-off task of the server (a snapshot, a segment rotation) falling into
   * one region cannot make the figure.
   */
  pairs: num("pairs", 3),
  top: num("top", 0),
  keep: process.argv.includes("--keep"),
  /** Cordon's entry: another build (e.g. a copy of dist/ from another commit, inside this tree). */
  entry: arg("entry"),
  only: (arg("only")?.split(",") ?? [...NAMES]) as Name[],
};

interface Request {
  method: "POST" | "GET";
  path: string;
  body?: string;
}

interface Launched {
  child: ChildProcess;
  url: string;
  /** Where callgrind writes its counts when the process exits. */
  outFile: string;
  /** The server's stderr (valgrind's and its own). */
  log: string[];
  /** After the warm-up, before the measured requests. */
  beforeMeasure?: () => Promise<void>;
  /** After the measured requests: wait for whatever the target still does for them (shipping). */
  settle?: () => Promise<string>;
  cleanup(): Promise<void>;
}

interface Target {
  name: Name;
  checksPerRequest: number;
  requests: Request[];
  launch(outFile: string): Promise<Launched>;
}

interface Count {
  name: Name;
  requests: number;
  instructions: number;
  /** Which region pair (0-based); the idle region has none. */
  pair?: number;
  /** Wall seconds from zeroing the counters to the dump. */
  seconds: number;
  note: string;
  outFile: string;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

const VALGRIND = ["--tool=callgrind", "--trace-children=no"];

/**
 * The HOST each server under callgrind was started with, by pid. Valgrind's gdbserver names its FIFOs
 * `/tmp/vgdb-pipe-...-<pid>-by-<USER>-on-<HOST>` from its environment, and `callgrind_control` finds
 * them by its own: the servers take their bind address from HOST, so `control` hands the same one on.
 */
const hostOf = new Map<number, string | undefined>();

function underCallgrind(outFile: string, command: string, args: string[], env: Record<string, string>) {
  const child = spawn("valgrind", [...VALGRIND, `--callgrind-out-file=${outFile}`, command, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (child.pid !== undefined) hostOf.set(child.pid, env.HOST);
  return child;
}

/** Polls until `url` answers `status` (any status when undefined); under valgrind start-up takes a while. */
async function ready(child: ChildProcess, url: string, status: number | undefined, log: string[]) {
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${log.join("")}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      if (status === undefined || res.status === status) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready:\n${log.join("")}`);
    await sleep(500);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
  await exited;
  clearTimeout(timer);
}

async function launchNode(
  outFile: string,
  args: string[],
  env: Record<string, string>,
  readyPath: string,
  readyStatus?: number,
): Promise<{ child: ChildProcess; url: string; log: string[] }> {
  const port = await freePort();
  const log: string[] = [];
  const child = underCallgrind(outFile, process.execPath, args, {
    ...env,
    PORT: String(port),
    HOST: "127.0.0.1",
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => log.push(d));
  const url = `http://127.0.0.1:${port}`;
  await ready(child, url + readyPath, readyStatus, log);
  return { child, url, log };
}

const cordonEnv = (dataDir: string): Record<string, string> => ({
  CORDON_DATA_DIR: dataDir,
  CORDON_TOKENS: Object.values(TOKENS).join(","),
  CORDON_IP_HASH_KEY: "bench-ip-hash-key-0123456789abcdef0123456789",
  CORDON_LOG_LEVEL: "warn",
});

async function launchCordon(outFile: string, redis?: BenchRedis): Promise<Launched & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "cordon-instr-"));
  const env = { ...cordonEnv(dataDir), ...(redis ? { REDIS_URL: redis.server.url } : {}) };
  const { child, url, log } = await launchNode(
    outFile,
    ["--enable-source-maps", options.entry ?? DIST_ENTRY],
    env,
    "/readyz",
    200,
  );
  await seedOrders({ url });
  return {
    child,
    url,
    outFile,
    log,
    dataDir,
    async cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sends `count` requests, `connections` at a time on keep-alive connections; every answer must be 200. */
async function drive(url: string, requests: readonly Request[], from: number, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const token = secret("checker");
  let next = from;
  const end = from + count;
  let retried = 0;
  const one = (r: Request) =>
    new Promise<void>((done, fail) => {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (r.body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = String(Buffer.byteLength(r.body));
      }
      const req = request(`${url}${r.path}`, { method: r.method, agent, headers }, (res) => {
        res.on("error", fail);
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? done() : fail(new Error(`${r.method} ${r.path}: ${res.statusCode}`)),
        );
      });
      req.on("error", fail);
      req.end(r.body);
    });
  const worker = async () => {
    while (next < end) {
      const i = next++;
      // A keep-alive connection the server closed as idle (its 5 s timer runs on valgrind's slow clock)
      // as the request went out on it: sent again on a new connection. A retried check may have been
      // answered and recorded once already: one check in a region of thousands.
      for (let attempt = 1; ; attempt++) {
        try {
          await one(requests[i % requests.length] as Request);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (attempt >= 3 || (code !== "ECONNRESET" && code !== "EPIPE")) throw err;
          retried++;
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, worker));
  } finally {
    agent.destroy();
  }
  if (retried > 0) console.log(`  (${retried} requests sent again after a connection reset)`);
}

/** callgrind's total of instructions executed (Ir) from its out file. */
function totalOf(outFile: string): number {
  const text = readFileSync(outFile, "utf8");
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
  if (!m) throw new Error(`${outFile}: no summary line`);
  return Number(m[1]);
}

/** `callgrind_control` on the running server: `-z` zeroes its counters, `-d` writes them to a new dump. */
function control(pid: number, flag: "-z" | "-d"): void {
  const { HOST: _ours, USER: _user, LOGNAME: _logname, ...env } = process.env;
  const host = hostOf.get(pid);
  execFileSync("callgrind_control", [flag, String(pid)], {
    stdio: "ignore",
    timeout: 600_000,
    // As the server's: no USER or LOGNAME (it has neither), its HOST.
    env: host === undefined ? env : { ...env, HOST: host },
  });
}

/**
 * `callgrind_control -d`, then the dump moved to `to`. Callgrind names a dump after its out file, with or
 * without a counter (`<out>`, `<out>.1`, ...) depending on its version and options: the newest of those
 * written since the request is the one. Callgrind acts on the request only when the process runs: a
 * server idle in epoll (the echo has no timers) writes nothing until something wakes it, so while no
 * dump has appeared, `wake` (one small request) is called every 2 s. Both regions get their wake-ups
 * alike, and they are a few hundred instructions against a region's hundreds of millions.
 */
async function dumpRegion(
  pid: number,
  outFile: string,
  to: string,
  wake: () => Promise<void>,
): Promise<string> {
  const since = Date.now() - 1000;
  control(pid, "-d");
  const dir = dirname(outFile);
  const base = basename(outFile);
  const newest = () =>
    readdirSync(dir)
      .filter((f) => f === base || (f.startsWith(`${base}.`) && /^\d+$/.test(f.slice(base.length + 1))))
      .map((f) => ({
        path: join(dir, f),
        mtime: statSync(join(dir, f)).mtimeMs,
        size: statSync(join(dir, f)).size,
      }))
      .filter((f) => f.mtime >= since && f.size > 0)
      .sort((a, b) => b.mtime - a.mtime)[0];
  const deadline = Date.now() + 300_000;
  let woken = Date.now();
  for (let written = newest(); ; written = newest()) {
    if (written !== undefined) {
      // Let callgrind finish the file (it writes the totals last).
      await new Promise((r) => setTimeout(r, 500));
      renameSync(written.path, to);
      return to;
    }
    if (Date.now() > deadline) throw new Error(`no callgrind dump of ${outFile} after callgrind_control -d`);
    if (Date.now() - woken > 2000) {
      woken = Date.now();
      await wake().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * One server under callgrind: warm-up, then for n = N and n = 2N a region of its own (counters zeroed,
 * n requests, whatever the target still does for them, a dump). Both regions run in one process, after
 * one start-up and warm-up, so neither is in either count.
 */
async function countTarget(target: Target, dir: string): Promise<Count[]> {
  const outFile = join(dir, `${target.name}.callgrind`);
  const started = performance.now();
  const launched = await target.launch(outFile);
  const pid = launched.child.pid as number;
  const counts: Count[] = [];
  const [warmup, N] =
    target.checksPerRequest === 1
      ? [options.warmup, options.n]
      : [Math.ceil(options.warmup / target.checksPerRequest), options.batchN];
  try {
    await drive(launched.url, target.requests, 0, warmup);
    let from = warmup;
    // What the server does with no request at all (timers: the Redis sync's poll, the shipper's, the
    // reconciler's), per second: a region of 2N requests lasts longer than one of N, so without this the
    // difference would charge that background to the checks.
    if (launched.settle) await launched.settle();
    control(pid, "-z");
    const idleFrom = performance.now();
    await new Promise((r) => setTimeout(r, options.idleSeconds * 1000));
    const idleDump = await dumpRegion(pid, outFile, `${outFile}.idle`, () =>
      drive(launched.url, target.requests, from++, 1),
    );
    const idle = { instructions: totalOf(idleDump), seconds: (performance.now() - idleFrom) / 1000 };
    console.log(
      `  ${target.name} idle: ${idle.instructions.toLocaleString("en")} instructions in ${idle.seconds.toFixed(1)} s`,
    );
    counts.push({
      name: target.name,
      requests: 0,
      instructions: idle.instructions,
      seconds: idle.seconds,
      note: "idle",
      outFile: idleDump,
    });
    for (let pair = 0; pair < options.pairs; pair++)
      for (const n of [N, N * 2]) {
        await launched.beforeMeasure?.();
        control(pid, "-z");
        const regionFrom = performance.now();
        await drive(launched.url, target.requests, from, n);
        from += n;
        const note = launched.settle ? await launched.settle() : "";
        const dump = await dumpRegion(pid, outFile, `${outFile}.pair-${pair}.region-${n}`, () =>
          drive(launched.url, target.requests, from, 1),
        );
        const instructions = totalOf(dump);
        const regionSeconds = (performance.now() - regionFrom) / 1000;
        const seconds = ((performance.now() - started) / 1000).toFixed(0);
        console.log(
          `  ${target.name} pair ${pair + 1}, n=${n}: ${instructions.toLocaleString("en")} instructions (${(instructions / n / target.checksPerRequest).toFixed(0)} a check; at ${seconds} s)${note ? `; ${note}` : ""}`,
        );
        counts.push({
          name: target.name,
          requests: n,
          pair,
          instructions,
          seconds: regionSeconds,
          note,
          outFile: dump,
        });
      }
  } catch (err) {
    const exited = launched.child.exitCode ?? launched.child.signalCode;
    throw new Error(
      `${target.name}: ${(err as Error).message}${exited === null ? "" : ` (the server exited: ${exited})`}\n${launched.log.join("").slice(-3000)}`,
    );
  } finally {
    await stop(launched.child);
    await launched.cleanup();
  }
  return counts;
}

/** Per-function instructions (inclusive of nothing: self cost) from `callgrind_annotate`. */
function selfCosts(outFile: string): Map<string, number> {
  const out = execFileSync("callgrind_annotate", ["--threshold=100", "--inclusive=no", outFile], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  const costs = new Map<string, number>();
  for (const line of out.split("\n")) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.+)$/.exec(line);
    if (!m || !(m[2] as string).includes(":")) continue;
    const name = (m[2] as string).replace(/\s+\[.*\]$/, "").trim();
    costs.set(name, (costs.get(name) ?? 0) + Number((m[1] as string).replaceAll(",", "")));
  }
  return costs;
}

function topGrowth(a: Count, b: Count, checks: number, top: number): string[][] {
  const before = selfCosts(a.outFile);
  const after = selfCosts(b.outFile);
  const rows: [string, number][] = [];
  for (const [name, cost] of after) rows.push([name, (cost - (before.get(name) ?? 0)) / checks]);
  rows.sort((x, y) => y[1] - x[1]);
  return rows.slice(0, top).map(([name, perCheck]) => [perCheck.toFixed(0), name.slice(0, 140)]);
}

function targets(dir: string): Target[] {
  const bodies = checkBodies(4096);
  const checks: Request[] = bodies.map((body) => ({ method: "POST", path: "/v1/check", body }));
  const batches: Request[] = [];
  for (let i = 0; i + options.batch <= bodies.length; i += options.batch)
    batches.push({
      method: "POST",
      path: "/v1/check/batch",
      body: `{"checks":[${bodies.slice(i, i + options.batch).join(",")}]}`,
    });
  const cordonTarget = (name: "check" | "batch", requests: Request[], checksPerRequest: number): Target => ({
    name,
    checksPerRequest,
    requests,
    launch: (outFile) => launchCordon(outFile),
  });
  return [
    {
      name: "echo",
      checksPerRequest: 1,
      requests: bodies.map((body) => ({ method: "POST", path: "/", body })),
      async launch(outFile) {
        const { child, url, log } = await launchNode(
          outFile,
          ["--import", "tsx", "bench/hello-server.ts", "post"],
          {},
          "/",
        );
        return { child, url, outFile, log, cleanup: async () => {} };
      },
    },
    cordonTarget("check", checks, 1),
    redisTarget("redis", checks, false),
    redisTarget("redis-burst", checks, true),
    cordonTarget("batch", batches, options.batch),
    {
      name: "nginx",
      checksPerRequest: 1,
      requests: bodies
        .map((b) => JSON.parse(b) as { meetingId: string; ip: string })
        .map((b) => ({ method: "GET", path: `/check?meeting=${b.meetingId}&ip=${b.ip}` })),
      async launch(outFile) {
        const nginxDir = join(dir, `nginx-${Math.random().toString(36).slice(2)}`);
        const port = await freePort();
        const conf = writeNginxConf(nginxDir, port);
        const log: string[] = [];
        const child = underCallgrind(outFile, "/usr/sbin/nginx", ["-p", nginxDir, "-c", conf], {});
        child.stderr?.setEncoding("utf8").on("data", (d: string) => log.push(d));
        const url = `http://127.0.0.1:${port}`;
        await ready(child, `${url}/check?meeting=1&ip=1.1.1.1`, 200, log);
        return {
          child,
          url,
          outFile,
          log,
          cleanup: async () => rmSync(nginxDir, { recursive: true, force: true }),
        };
      },
    },
  ];
}

/**
 * Cordon on Redis. The measured region includes the shipping of its records: the streams must hold every
 * one before the process stops. The warm-up's records are shipped before it starts, so that the scripts
 * counted (INFO commandstats) are the measured records' own.
 *
 * How many records a script carries sets the shipper's cost per record, and it depends on time: after a
 * page that reached the outbox's end the shipper waits `coalesceMs` (25 ms) of wall time, in which
 * valgrind's process (tens of times slower) answers only a few checks. So `redis` measures small
 * scripts, the shipper's worst case; `redis-burst` stops the redis-server (SIGSTOP) while the measured
 * checks are answered and resumes it after, so that they ship in full pages (2000 records): its best
 * case, as when it catches up. On a single redis-server a page is one script, for all its partitions
 * (shipper/README.md); before 2026-12-07 it was one script per partition.
 */
function redisTarget(name: "redis" | "redis-burst", requests: Request[], burst: boolean): Target {
  return {
    name,
    checksPerRequest: 1,
    requests,
    async launch(outFile) {
      const redis = await startBenchRedis();
      try {
        const cordon = await launchCordon(outFile, redis);
        const outbox = new DecisionLineCounter(join(cordon.dataDir, "outbox"));
        let scriptsBefore = 0;
        let recordsBefore = 0;
        const scripts = async () => {
          const stats = await redis.commandStats();
          return (stats.evalsha?.calls ?? 0) + (stats.eval?.calls ?? 0);
        };
        const shipped = async () => {
          const result = await waitShipped(redis, outbox, 600_000);
          if (!result.drained)
            throw new Error(`not shipped: ${result.streamEntries} of ${result.records} records`);
          return result;
        };
        return {
          ...cordon,
          async beforeMeasure() {
            recordsBefore = (await shipped()).records;
            scriptsBefore = await scripts();
            if (burst) redis.server.pause();
          },
          async settle() {
            if (burst) redis.server.resume();
            const result = await shipped();
            const ran = (await scripts()) - scriptsBefore;
            const measured = result.records - recordsBefore;
            return `${result.records} records shipped, the ${measured} measured in ${ran} scripts (${(measured / ran).toFixed(1)} a script)`;
          },
          async cleanup() {
            await cordon.cleanup();
            await redis.close();
          },
        };
      } catch (err) {
        await redis.close();
        throw err;
      }
    },
  };
}

/** Runs `jobs` with at most `limit` at once. */
async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  // allSettled, not all: when one job fails the others still run to their end (and stop their servers),
  // instead of the script exiting with a server of theirs left running under valgrind.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.max(1, limit) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await (jobs[i] as () => Promise<T>)();
      }
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return results;
}

async function main(): Promise<void> {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  const loadAverageStart = load();
  if (options.entry === undefined) {
    const build = await buildCordon();
    if (build.mode !== "dist") throw new Error(`build failed: ${build.note}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "cordon-instructions-"));
  mkdirSync(dir, { recursive: true });
  const skipped: string[] = [];
  const chosen = targets(dir).filter((t) => {
    if (!options.only.includes(t.name)) return false;
    if (t.name.startsWith("redis") && !hasRedisServer()) skipped.push(`${t.name}: no redis-server`);
    else if (t.name === "nginx" && !(existsSync("/usr/sbin/nginx") && existsSync(NGINX_GEOIP2_MODULE)))
      skipped.push("nginx: nginx or its geoip2 module is missing");
    else return true;
    return false;
  });
  for (const s of skipped) console.log(`skipped ${s}`);
  console.log(
    `callgrind: N=${options.n}, 2N=${options.n * 2} requests after ${options.warmup} of warm-up, ${options.connections} connections; load average ${loadAverageStart}`,
  );
  const counts = (
    await pool(
      chosen.map((t) => () => countTarget(t, dir)),
      options.parallel,
    )
  ).flat();

  const perCheck: Partial<Record<Name, number>> = {};
  /** Per check, as `perCheck`, with each region's idle background (instructions per second × its length) taken out. */
  const busyPerCheck: Partial<Record<Name, number>> = {};
  const rows: string[][] = [];
  /** Every pair's figure, per target, for the JSON. */
  const pairFigures: Partial<Record<Name, { raw: number; busy: number }[]>> = {};
  for (const t of chosen) {
    const mine = counts.filter((c) => c.name === t.name);
    const idle = mine.find((c) => c.requests === 0) as Count;
    const rate = idle.instructions / idle.seconds;
    const figures = Array.from({ length: options.pairs }, (_, pair) => {
      const [a, b] = mine.filter((c) => c.pair === pair).sort((x, y) => x.requests - y.requests) as [
        Count,
        Count,
      ];
      const checks = a.requests * t.checksPerRequest;
      return {
        a,
        b,
        checks,
        raw: (b.instructions - a.instructions) / checks,
        busy: (b.instructions - rate * b.seconds - (a.instructions - rate * a.seconds)) / checks,
      };
    });
    // The median pair by its busy figure (the lower middle one for an even count).
    const median = [...figures].sort((x, y) => x.busy - y.busy)[
      Math.floor((figures.length - 1) / 2)
    ] as (typeof figures)[number];
    const { a, b, checks } = median;
    perCheck[t.name] = median.raw;
    busyPerCheck[t.name] = median.busy;
    pairFigures[t.name] = figures.map((f) => ({ raw: f.raw, busy: f.busy }));
    rows.push([
      t.name,
      a.instructions.toLocaleString("en"),
      b.instructions.toLocaleString("en"),
      Math.round(rate).toLocaleString("en"),
      `${a.seconds.toFixed(1)} / ${b.seconds.toFixed(1)}`,
      Math.round(median.raw).toLocaleString("en"),
      figures.map((f) => Math.round(f.busy).toLocaleString("en")).join(" / "),
      Math.round(median.busy).toLocaleString("en"),
      Math.round(median.busy * t.checksPerRequest).toLocaleString("en"),
    ]);
    if (options.top > 0) {
      console.log(
        `\n${t.name}: functions by instructions per check added from N to 2N (self cost, median pair)`,
      );
      console.log(table([["instr/check", "function"], ...topGrowth(a, b, checks, options.top)]));
    }
  }
  const ratio = (x: Name, y: Name, of = busyPerCheck) =>
    of[x] !== undefined && of[y] !== undefined ? (of[x] as number) / (of[y] as number) : undefined;
  const ratios = {
    redisOverEmbedded: ratio("redis", "check"),
    redisBurstOverEmbedded: ratio("redis-burst", "check"),
    checkOverEcho: ratio("check", "echo"),
    /** Goal 2 in instructions: nginx's instructions per check ÷ the batch's (≥ 3 is the goal). */
    nginxOverBatch: ratio("nginx", "batch"),
    batchOverEcho: ratio("batch", "echo"),
    /** The same without taking the idle background out. */
    raw: {
      redisOverEmbedded: ratio("redis", "check", perCheck),
      redisBurstOverEmbedded: ratio("redis-burst", "check", perCheck),
      checkOverEcho: ratio("check", "echo", perCheck),
      nginxOverBatch: ratio("nginx", "batch", perCheck),
    },
  };
  console.log(
    `\n${machineNote()} Load average at the end: ${load()} (instruction counts do not depend on it).`,
  );
  console.log(
    table([
      [
        "target",
        "I(region of N requests)",
        "I(region of 2N)",
        "idle I/s",
        "region s (N / 2N)",
        "raw I/check",
        "I/check, each pair",
        "I/check (median)",
        "I/request",
      ],
      ...rows,
    ]),
  );
  const show = (label: string, v: number | undefined) =>
    v !== undefined && console.log(`${label}: ${v.toFixed(3)}x`);
  show("Redis mode ÷ embedded, instructions per check (issue 12: ≤ 1.1)", ratios.redisOverEmbedded);
  show("Redis mode shipping in full pages ÷ embedded (redis-burst)", ratios.redisBurstOverEmbedded);
  show("check ÷ echo, instructions per request (issue 14 goal 1: ≤ 1.5)", ratios.checkOverEcho);
  show("nginx ÷ batch, instructions per check (issue 14 goal 2 in instructions: ≥ 3)", ratios.nginxOverBatch);
  show("batch ÷ echo, instructions per check", ratios.batchOverEcho);
  show("(raw, idle background not taken out) Redis mode ÷ embedded", ratios.raw.redisOverEmbedded);
  show("(raw) check ÷ echo", ratios.raw.checkOverEcho);
  writeJson(RESULTS, {
    date: new Date().toISOString(),
    machine: machineNote(),
    loadAverageStart,
    loadAverageEnd: load(),
    options,
    counts: counts.map(({ outFile: _, ...c }) => c),
    perCheck,
    busyPerCheck,
    pairFigures,
    ratios,
  });
  if (options.keep) console.log(`callgrind files kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

await main();
