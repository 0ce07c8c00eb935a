/**
 * Shared by the HTTP benchmark and the profiler: building Cordon, starting servers as child processes,
 * seeding orders, running wrk, reading a process's CPU time from /proc, counting decision records.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, open } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const DIST_ENTRY = join(ROOT, "dist/src/entry/node.js");

/** Benchmark-only secrets: the servers listen on 127.0.0.1 and live for the run. */
// Same tokens and API helper as the system tests: one definition of how a client talks to Cordon.
export { api, secret, TOKENS } from "../test/support/server.js";

import type { Order } from "../src/engine/index.js";
import { type ChainHead, changeEntry, ZERO_HASH } from "../src/store/audit.js";
import { api, TOKENS } from "../test/support/server.js";

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

// ---------- build ----------

export interface BuildResult {
  /** How Cordon is started: `dist` (built JS) or `tsx` (from source, when the build failed). */
  mode: "dist" | "tsx";
  note: string;
}

/** `npx tsc -p tsconfig.build.json`; falls back to running the sources through tsx if it fails. */
export async function buildCordon(): Promise<BuildResult> {
  const started = performance.now();
  const result = await new Promise<{ code: number; output: string }>((done) => {
    execFile(
      "npx",
      ["tsc", "-p", "tsconfig.build.json"],
      { cwd: ROOT, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
      },
    );
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (result.code === 0 && existsSync(DIST_ENTRY)) return { mode: "dist", note: `built in ${seconds}s` };
  const first = result.output.split("\n").slice(0, 5).join("\n");
  return { mode: "tsx", note: `tsc failed (exit ${result.code}), running sources through tsx:\n${first}` };
}

// ---------- processes ----------

export interface Spawned {
  name: string;
  child: ChildProcess;
  /** The pid of the node process that serves (spawned directly, no shell in between). */
  pid: number;
  port: number;
  url: string;
  stderr: string[];
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (closed again before returning; the race is acceptable on loopback). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * Spawns `node <args>` on a chosen port and waits until `readyPath` answers (any status for the hello
 * servers, 200 for Cordon's /readyz). The port is chosen here rather than read from the log: Cordon logs
 * `cordon listening` at info level, and the benchmark runs it at CORDON_LOG_LEVEL=warn.
 */
export async function spawnServer(opts: {
  name: string;
  args: string[];
  env: Record<string, string>;
  readyPath: string;
  readyStatus?: number;
  timeoutMs?: number;
  /** Where the server's stdout goes (V8's `--trace-gc` writes there); by default nowhere. */
  stdoutPath?: string;
}): Promise<Spawned> {
  const port = await freePort();
  const child = spawn(process.execPath, opts.args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...opts.env,
      PORT: String(port),
      HOST: "127.0.0.1",
    },
    stdio: ["ignore", opts.stdoutPath ? openSync(opts.stdoutPath, "w") : "ignore", "pipe"],
  });
  const stderr: string[] = [];
  child.stderr?.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${opts.name} exited with ${child.exitCode}:\n${stderr.join("")}`);
    try {
      const res = await fetch(url + opts.readyPath);
      await res.arrayBuffer();
      if (opts.readyStatus === undefined || res.status === opts.readyStatus) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${opts.name} did not become ready on ${url}:\n${stderr.join("")}`);
    }
    await sleep(100);
  }
  if (child.pid === undefined) throw new Error(`${opts.name}: no pid`);
  return {
    name: opts.name,
    child,
    pid: child.pid,
    port,
    url,
    stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function startHello(mode: "get" | "post" | "post-limit"): Promise<Spawned> {
  return spawnServer({
    name: `hello-${mode}`,
    args: ["--import", "tsx", "bench/hello-server.ts", mode],
    env: {},
    readyPath: "/",
  });
}

export interface CordonServer extends Spawned {
  dataDir: string;
}

/**
 * Cordon with a temp CORDON_DATA_DIR, the bench tokens and CORDON_LOG_LEVEL=warn. `opts.env` adds to that
 * environment (the Redis-mode server passes REDIS_URL); `opts.name` labels it in errors.
 */
export async function startCordon(
  build: BuildResult,
  extraNodeArgs: string[] = [],
  opts: { name?: string; env?: Record<string, string>; stdoutPath?: string } = {},
): Promise<CordonServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "cordon-bench-"));
  const args =
    build.mode === "dist"
      ? [...extraNodeArgs, "--enable-source-maps", DIST_ENTRY]
      : [...extraNodeArgs, "--import", "tsx", "src/entry/node.ts"];
  const server = await spawnServer({
    name: opts.name ?? "cordon",
    args,
    env: {
      CORDON_DATA_DIR: dataDir,
      CORDON_TOKENS: Object.values(TOKENS).join(","),
      CORDON_IP_HASH_KEY: "bench-ip-hash-key-0123456789abcdef0123456789",
      CORDON_LOG_LEVEL: "warn",
      ...opts.env,
    },
    readyPath: "/readyz",
    readyStatus: 200,
    ...(opts.stdoutPath ? { stdoutPath: opts.stdoutPath } : {}),
  });
  return { ...server, dataDir };
}

/**
 * Enters and approves the example orders in rules/examples (meeting 81234567890 blocked in IN-MH,
 * meeting 95500112233 blocked in RU, account acct_5Yt2 shadowed in IN-MH), then checks a few joins.
 * Returns the sample decisions' codes; every check made here is one decision record.
 */
export async function seedOrders(server: {
  url: string;
}): Promise<{ orders: string[]; samples: Record<string, string>; checks: number }> {
  const dir = join(ROOT, "rules/examples");
  const orders: string[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const input = JSON.parse(readFileSync(join(dir, file), "utf8"));
    const created = await api(server, "POST", "/v1/orders", "responder", input);
    if (created.status !== 201)
      throw new Error(`create ${file}: ${created.status} ${JSON.stringify(created.body)}`);
    const approved = await api(server, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
    if (approved.status !== 200)
      throw new Error(`approve ${file}: ${approved.status} ${JSON.stringify(approved.body)}`);
    orders.push(`${file}: ${created.body.id}`);
  }
  const probes = {
    "95500112233 from 5.8.10.20 (RU)": { meetingId: "95500112233", ip: "5.8.10.20" },
    "95500112233 from 2a00:1450::1 (IE)": { meetingId: "95500112233", ip: "2a00:1450::1" },
    "81234567890 from 49.36.1.1 (IN, country db)": { meetingId: "81234567890", ip: "49.36.1.1" },
    "12345678901 from 8.8.8.8": { meetingId: "12345678901", ip: "8.8.8.8" },
  };
  const samples: Record<string, string> = {};
  for (const [label, body] of Object.entries(probes)) {
    const res = await api(server, "POST", "/v1/check", "checker", body);
    if (res.status !== 200) throw new Error(`check ${label}: ${res.status} ${JSON.stringify(res.body)}`);
    samples[label] = res.body.code;
  }
  if (samples["95500112233 from 5.8.10.20 (RU)"] !== "BLOCKED")
    throw new Error(`the RU order does not block: ${JSON.stringify(samples)}`);
  return { orders, samples, checks: Object.keys(probes).length };
}

// ---------- decision records ----------

/** Lines (records) in `<dataDir>/decisions/*.jsonl`, and the count per decision code. */
export function countDecisions(
  dataDir: string,
  withCodes = false,
): { records: number; codes: Record<string, number> } {
  const dir = join(dataDir, "decisions");
  let records = 0;
  const codes: Record<string, number> = {};
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".jsonl"))) {
    const buf = readFileSync(join(dir, file));
    if (!withCodes) {
      let at = buf.indexOf(0x0a);
      while (at !== -1) {
        records++;
        at = buf.indexOf(0x0a, at + 1);
      }
      continue;
    }
    for (const match of buf.toString("utf8").matchAll(/"code":"([A-Z_]+)"/g)) {
      records++;
      const code = match[1] as string;
      codes[code] = (codes[code] ?? 0) + 1;
    }
  }
  return { records, codes };
}

// ---------- CPU time ----------

let clockTicks: number | undefined;
export function clkTck(): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return clockTicks;
}

/**
 * utime + stime of the whole process (all its threads) in seconds, from /proc/<pid>/stat; `main`: of its
 * main thread alone (/proc/<pid>/task/<pid>/stat), the event loop. The rest is V8's garbage-collection
 * and compiler threads and libuv's pool (file reads, fsyncs).
 */
export function cpuSeconds(pid: number): { user: number; system: number; total: number; main: number } {
  const ticks = (path: string) => {
    const stat = readFileSync(path, "utf8");
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / clkTck(), system: Number(fields[12]) / clkTck() }; // utime, stime
  };
  const { user, system } = ticks(`/proc/${pid}/stat`);
  const main = ticks(`/proc/${pid}/task/${pid}/stat`);
  return { user, system, total: user + system, main: main.user + main.system };
}

// ---------- wrk ----------

export interface LoadResult {
  tool: "wrk" | "autocannon" | "open-load";
  requests: number;
  seconds: number;
  rps: number;
  non2xx: number;
  socketErrors: number;
  latencyMs: { avg: number; p50: number; p75: number; p90: number; p99: number; max: number };
}

export function hasWrk(): boolean {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
    return true;
  } catch (err) {
    // `wrk --version` prints its usage and exits 1: present.
    return (err as { status?: number }).status === 1;
  }
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === "us") return n / 1000;
  if (unit === "ms") return n;
  if (unit === "s") return n * 1000;
  if (unit === "m") return n * 60_000;
  return Number.NaN;
}

export function parseWrk(out: string): LoadResult {
  const latency = (label: string) => {
    const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s|m)\\b`, "m").exec(out);
    return m ? toMs(m[1] as string, m[2] as string) : Number.NaN;
  };
  const stats = /Latency\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
  const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!total) throw new Error(`unreadable wrk output:\n${out}`);
  const requests = Number(total[1]);
  const seconds = toMs(total[2] as string, total[3] as string) / 1000;
  return {
    tool: "wrk",
    requests,
    seconds,
    rps: requests / seconds,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sockets ? sockets.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    latencyMs: {
      avg: stats ? toMs(stats[1] as string, stats[2] as string) : Number.NaN,
      max: stats ? toMs(stats[5] as string, stats[6] as string) : Number.NaN,
      p50: latency("50%"),
      p75: latency("75%"),
      p90: latency("90%"),
      p99: latency("99%"),
    },
  };
}

export interface LoadOptions {
  url: string;
  /** Lua script for wrk; without one, a plain GET of `url`. */
  script?: string;
  env?: Record<string, string>;
  seconds: number;
  connections: number;
  threads: number;
  /** Runs wrk on this CPU alone (`taskset -c`). */
  cpu?: string;
}

/** Pins every thread of a process (and those it starts later) to one CPU (`taskset -a -p -c`). */
export function pinToCpu(pid: number, cpu: string): void {
  execFileSync("taskset", ["-a", "-p", "-c", cpu, String(pid)], { stdio: "ignore" });
}

export async function runWrk(o: LoadOptions): Promise<LoadResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, "--latency"];
  if (o.script) args.push("-s", o.script);
  args.push(o.url);
  const out = await new Promise<string>((done, fail) => {
    execFile(
      o.cpu === undefined ? "wrk" : "taskset",
      o.cpu === undefined ? args : ["-c", o.cpu, "wrk", ...args],
      { cwd: ROOT, env: { ...process.env, ...o.env }, timeout: (o.seconds + 30) * 1000 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`wrk failed: ${error.message}\n${stdout}${stderr}`));
        else done(stdout);
      },
    );
  });
  return parseWrk(out);
}

/** What `open-load.ts` prints: one JSON object. */
export interface OpenLoadReport {
  rate: number;
  seconds: number;
  sent: number;
  achievedRate: number;
  answered: number;
  errors: number;
  non2xx: number;
  unanswered: number;
  connections: number;
  sendLagMs: { p50: number; p99: number; max: number };
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
}

/**
 * An open-model load (`open-load.ts`, a child process): `rate` requests a second to `url` for `seconds`
 * after `warmup` seconds (default 0), bodies from `linesFile`, on CPU `cpu` when given.
 */
export async function openLoad(o: {
  url: string;
  token: string;
  linesFile: string;
  rate: number;
  seconds: number;
  warmup?: number;
  cpu?: string;
}): Promise<OpenLoadReport> {
  const args = [
    "--import",
    "tsx",
    "bench/open-load.ts",
    `--url=${o.url}`,
    `--token=${o.token}`,
    `--lines=${o.linesFile}`,
    `--rate=${o.rate}`,
    `--seconds=${o.seconds}`,
    `--warmup=${o.warmup ?? 0}`,
  ];
  const out = await new Promise<string>((done, fail) => {
    execFile(
      o.cpu === undefined ? process.execPath : "taskset",
      o.cpu === undefined ? args : ["-c", o.cpu, process.execPath, ...args],
      { cwd: ROOT, timeout: (o.seconds + (o.warmup ?? 0) + 60) * 1000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`open-load failed: ${error.message}\n${stdout}${stderr}`));
        else done(stdout);
      },
    );
  });
  return JSON.parse(out.trim().split("\n").pop() as string) as OpenLoadReport;
}

/** `openLoad` as a `LoadResult`: `requests` is what was answered. */
export async function runOpenLoad(o: Parameters<typeof openLoad>[0]): Promise<LoadResult> {
  const r = await openLoad(o);
  return {
    tool: "open-load",
    requests: r.answered,
    seconds: o.seconds,
    rps: r.answered / o.seconds,
    non2xx: r.non2xx,
    socketErrors: r.errors,
    latencyMs: {
      avg: NaN,
      p50: r.latencyMs.p50,
      p75: NaN,
      p90: r.latencyMs.p90,
      p99: r.latencyMs.p99,
      max: r.latencyMs.max,
    },
  };
}

/** Fallback when wrk is missing: autocannon with the same shape of load (bodies from one generator). */
export async function runAutocannon(
  o: LoadOptions & { bodies?: string[]; token?: string; path?: string },
): Promise<LoadResult> {
  // Untyped package: imported through a computed specifier so the compiler does not look for types.
  const specifier: string = "autocannon";
  const { default: autocannon } = (await import(specifier)) as {
    default: (opts: unknown) => Promise<unknown>;
  };
  const bodies = o.bodies ?? [];
  let i = 0;
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.seconds,
    workers: 0,
    ...(bodies.length > 0
      ? {
          requests: [
            {
              method: "POST",
              path: o.path ?? "/v1/check",
              headers: { "content-type": "application/json", authorization: `Bearer ${o.token ?? ""}` },
              setupRequest: (req: any) => ({ ...req, body: bodies[i++ % bodies.length] }),
            },
          ],
        }
      : {}),
  });
  const r = result as any;
  return {
    tool: "autocannon",
    requests: r.requests.total,
    seconds: r.duration,
    rps: r.requests.total / r.duration,
    non2xx: r.non2xx,
    socketErrors: r.errors + r.timeouts,
    latencyMs: {
      avg: r.latency.average,
      p50: r.latency.p50,
      p75: r.latency.p75,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
    },
  };
}

/** `POST /v1/check/batch` bodies of `size` check bodies each, in order (a remainder short of `size` left out). */
export function batchBodies(bodies: readonly string[], size: number): string[] {
  const batches: string[] = [];
  for (let i = 0; i + size <= bodies.length; i += size)
    batches.push(`{"checks":[${bodies.slice(i, i + size).join(",")}]}`);
  return batches;
}

/** Bodies like bench/wrk/check.lua's, for the autocannon fallback (same mix, different sequence). */
export function checkBodies(count: number): string[] {
  let seed = 20261122;
  const rnd = (n: number) => {
    seed = (1664525 * seed + 1013904223) % 4294967296;
    return Math.floor((seed / 4294967296) * n);
  };
  const firsts = Array.from({ length: 223 }, (_, k) => k + 1).filter(
    (a) => ![10, 100, 127, 169, 172, 192, 198, 203].includes(a),
  );
  const v4 = () => `${firsts[rnd(firsts.length)]}.${rnd(256)}.${rnd(256)}.${rnd(254) + 1}`;
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const m = rnd(16);
    const meetingId =
      m === 0 ? "95500112233" : m === 1 ? "81234567890" : `9${String(rnd(1e9)).padStart(10, "0")}`;
    const ip =
      m === 0 && rnd(2) === 0
        ? `5.8.${rnd(256)}.${rnd(254) + 1}`
        : m === 1 && rnd(2) === 0
          ? `49.36.${rnd(256)}.${rnd(254) + 1}`
          : v4();
    out.push(JSON.stringify({ meetingId, ip }));
  }
  return out;
}

/** A bench order id: distinct, spread (not in order of creation), as the store's ids are. */
export function benchOrderId(i: number): string {
  return `ord_${((i * 2654435761) >>> 0).toString(16).padStart(8, "0")}${i.toString(16).padStart(12, "0")}`;
}

/**
 * Writes an order journal of `n` approvals at `path`, one entry each, chained as the store chains them:
 * order `i` (with its id, `benchOrderId(i)`) and the time of its approval come from `approval`.
 */
export async function writeApprovalJournal(
  path: string,
  n: number,
  approval: (i: number, id: string) => { order: Order; at: string },
): Promise<void> {
  const fh = await open(path, "w");
  try {
    let head: ChainHead = { seq: 0, hash: ZERO_HASH };
    let text = "";
    for (let i = 0; i < n; i++) {
      const id = benchOrderId(i);
      const { order, at } = approval(i, id);
      const entry = changeEntry(head, { orderId: id, action: "approve", actor: "approver-1", at, order });
      head = { seq: entry.seq, hash: entry.hash };
      text += `${JSON.stringify(entry)}\n`;
      if (text.length > 1 << 22) {
        await fh.write(text);
        text = "";
      }
    }
    await fh.write(text);
  } finally {
    await fh.close();
  }
}
