/**
 * A tiny benchmark harness: warm-up, then several timed rounds per task, interleaved across the tasks of
 * a suite (round 1 of every task, then round 2 of every task, ...) so that a noisy neighbour slows all
 * tasks of a round alike. Reports the median ops/s per task. Ratios between tasks are computed per round
 * (paired) and their median is reported: on a shared machine absolute numbers move 20-30% between runs,
 * the ratios are what is meant to be compared.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Task {
  name: string;
  /** One operation; `i` counts up from 0 so tasks can rotate through inputs (`inputs[i & mask]`). */
  fn: (i: number) => unknown;
}

export interface SuiteOptions {
  /** Warm-up per task before the first round (JIT, caches). Default 300 ms. */
  warmupMs?: number;
  /** Timed rounds per task. Default 7. */
  rounds?: number;
  /** Length of one round. Default 150 ms. */
  roundMs?: number;
}

export interface TaskResult {
  name: string;
  /** Median over rounds. */
  opsPerSec: number;
  nsPerOp: number;
  /** (max - min) / median of the rounds' ops/s, as a noise indicator. */
  spread: number;
  /** ops/s of each round, in round order. */
  rounds: number[];
}

/** Keeps results alive so the optimiser cannot drop the calls being measured. */
let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}
export function sinkValue(): unknown {
  return sink;
}

/** The value of `--name=value` on the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

/** V8's `gc()`, which `node --expose-gc` exposes; throws without it. */
export function exposedGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  return gc;
}

/**
 * Runs `work`, ticking on `setImmediate` meanwhile: what it resolved to, the longest gap between ticks
 * (what a check waiting in the queue would have waited, garbage collection included) and the wall time.
 */
export async function held<T>(work: () => Promise<T>): Promise<{ value: T; holdMs: number; wallMs: number }> {
  let longest = 0;
  let ticking = true;
  const start = performance.now();
  let last = start;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const value = await work();
  const wallMs = performance.now() - start;
  ticking = false;
  // The gap up to the end of the work counts too (a synchronous tail).
  longest = Math.max(longest, performance.now() - last);
  return { value, holdMs: longest, wallMs };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `fn` for about `ms` milliseconds in batches; returns iterations and elapsed milliseconds. */
function timed(fn: (i: number) => unknown, start: number, batch: number, ms: number) {
  let i = start;
  let last: unknown;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    const end = i + batch;
    for (; i < end; i++) last = fn(i);
    elapsed = performance.now() - t0;
  } while (elapsed < ms);
  sink = last;
  return { iterations: i - start, elapsed, next: i };
}

/** Batch size such that one batch takes about a millisecond, so the clock is read rarely. */
function calibrate(fn: (i: number) => unknown): number {
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) sink = fn(i);
    const elapsed = performance.now() - t0;
    if (elapsed >= 1 || batch >= 1 << 24) return Math.max(1, Math.round(batch / Math.max(elapsed, 0.001)));
    batch *= 2;
  }
}

export function runSuite(tasks: readonly Task[], options: SuiteOptions = {}): TaskResult[] {
  const warmupMs = options.warmupMs ?? 300;
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 150;
  const state = tasks.map((task) => {
    const batch = calibrate(task.fn);
    const warm = timed(task.fn, 0, batch, warmupMs);
    return { task, batch, next: warm.next, samples: [] as number[] };
  });
  for (let r = 0; r < rounds; r++) {
    for (const s of state) {
      const run = timed(s.task.fn, s.next, s.batch, roundMs);
      s.next = run.next;
      s.samples.push((run.iterations / run.elapsed) * 1000);
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
    };
  });
}

/**
 * Cost ratio of `num` over `den` (time per op of `num` / time per op of `den`), paired by round, median
 * over rounds. Above 1: `num` is slower.
 */
export function costRatio(results: readonly TaskResult[], num: string, den: string): number {
  const a = find(results, num);
  const b = find(results, den);
  const perRound = a.rounds.map((ops, r) => (b.rounds[r] as number) / ops);
  return median(perRound);
}

function find(results: readonly TaskResult[], name: string): TaskResult {
  const found = results.find((r) => r.name === name);
  if (!found) throw new Error(`no result named ${name}`);
  return found;
}

export function formatOps(ops: number): string {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)}M`;
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)}k`;
  return ops.toFixed(0);
}

export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

/** A plain text table: first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  const line = (row: readonly string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  const [head, ...body] = rows;
  if (!head) return "";
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

export function resultRows(results: readonly TaskResult[]): string[][] {
  return [
    ["task", "ops/s", "time/op", "spread"],
    ...results.map((r) => [
      r.name,
      formatOps(r.opsPerSec),
      formatNs(r.nsPerOp),
      `${(r.spread * 100).toFixed(0)}%`,
    ]),
  ];
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function machineNote(): string {
  return "2 vCPU shared, noisy machine: absolute numbers move 20-30% between runs; compare the ratios.";
}

export const NGINX_GEOIP2_MODULE = "/usr/lib/nginx/modules/ngx_http_geoip2_module.so";

/**
 * nginx + geoip2 + map, issue 14's reference for goal 2 (`check-speed.ts`, `instructions.ts`): in the
 * foreground, one process (no master), the geoip2 lookup of the participant's address from the query,
 * and the orders of rules/examples as a map (the RU order; the IN-MH one as IN, since the bundled
 * database is country-only), access log off. Writes `<dir>/nginx.conf` and returns its path.
 */
export function writeNginxConf(dir: string, port: number): string {
  const mmdb = fileURLToPath(
    new URL("../node_modules/@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb", import.meta.url),
  );
  const conf = join(dir, "nginx.conf");
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(
    conf,
    `load_module ${NGINX_GEOIP2_MODULE};
daemon off;
master_process off;
worker_processes 1;
error_log stderr warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  geoip2 ${mmdb} {
    $geo_country source=$arg_ip country_code;
  }
  map "$arg_meeting:$geo_country" $verdict {
    default allow;
    "95500112233:RU" deny;
    "81234567890:IN" deny;
  }
  server {
    listen 127.0.0.1:${port};
    location = /check {
      default_type application/json;
      return 200 '{"decision":"$verdict","country":"$geo_country"}';
    }
  }
}
`,
  );
  return conf;
}
