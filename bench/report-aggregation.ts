/**
 * The embedded report's aggregation at volume: synthetic decision logs of 1M and 10M records (a real
 * SegmentLog, written in batches), each aggregated from scratch by `runFromDecisionLog` into a fresh
 * `FileAggregateStore`, in a child process of its own per size. The parent samples the child's
 * /proc/<pid>/status (VmHWM: peak RSS) and /proc/<pid>/stat (user + system CPU) every 200 ms, so a child
 * stopped at the time limit still gives its numbers; a child that finishes reports its own VmHWM before
 * it reads the months back to check the count. The goal: peak RSS at 10M within 1.2x of 1M.
 *
 * The mix: a year of records (2025, UTC), 87% allows without an order, 4% outside an order's
 * jurisdiction, 3% unknown location, 5% denials and 1% shadow matches over 300 orders (5 meetings each,
 * skewed towards the first orders), participants drawn from 100 000 distinct ip hashes.
 *
 *   npx tsx bench/report-aggregation.ts [--quick] [--sizes=1000000,10000000] [--logs=<dir>] [--keep]
 *                                       [--src=<dir>] [--timeout-min=30]
 *
 * --logs: where the generated logs live (default: a temporary directory); logs found there with the
 * right count are reused. --keep: keep them afterwards. --src: aggregate with another checkout's `src`
 * (for a before/after). Writes bench/results/report-aggregation.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { DecisionRecord } from "../src/engine/index.js";
import { prng } from "../test/support/prng.js";
import { machineNote, table, writeJson } from "./lib.js";

const argv = process.argv.slice(2);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ROOT = resolve(fileURLToPath(import.meta.url), "../..");
const ORDERS = 300;
const PARTICIPANTS = 100_000;
const YEAR_START = Date.UTC(2025, 0, 1);
const YEAR_MS = Date.UTC(2026, 0, 1) - YEAR_START;
/** About what one record takes in a segment (measured: 330-370 bytes). */
const BYTES_PER_RECORD = 380;

if (argv.includes("--child")) await child();
else await parent();

// ---- the parent: logs, children, samples ----

async function parent(): Promise<void> {
  const quick = argv.includes("--quick");
  const sizes = (option("sizes") ?? (quick ? "20000,200000" : "1000000,10000000")).split(",").map(Number);
  const src = resolve(option("src") ?? join(ROOT, "src"));
  const timeoutMs = Number(option("timeout-min") ?? 30) * 60_000;
  const logsRoot = option("logs") ?? (await mkdtemp(join(tmpdir(), "cordon-bench-agg-")));
  await mkdir(logsRoot, { recursive: true });
  const fs = await statfs(logsRoot);
  const need = sizes.reduce((a, n) => a + n * BYTES_PER_RECORD, 0) * 1.2;
  const free = fs.bavail * fs.bsize;
  if (free < need) {
    throw new Error(`${logsRoot}: ${gib(free)} free, the logs need about ${gib(need)}; use --logs=<dir>`);
  }
  console.log(`report aggregation: sizes ${sizes.join(", ")}, logs in ${logsRoot}, src ${src}`);
  const results: Measured[] = [];
  try {
    for (const n of sizes) {
      const dir = join(logsRoot, `log-${n}`);
      const t0 = Date.now();
      if (await hasLog(dir, n)) console.log(`  ${n}: reusing the log in ${dir}`);
      else {
        await generate(dir, n);
        console.log(`  ${n}: log written in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
      const measured = await measure(dir, n, src, timeoutMs);
      results.push(measured);
      console.log(`  ${n}: ${JSON.stringify(measured)}`);
    }
  } finally {
    if (!argv.includes("--keep") && option("logs") === undefined) {
      await rm(logsRoot, { recursive: true, force: true });
    }
  }
  const base = results[0];
  console.log(
    `\n${table([
      ["records", "finished", "peak RSS", "x first", "CPU s", "wall s", "records/s per core", "report dir"],
      ...results.map((r) => [
        r.records.toLocaleString("en"),
        r.finished ? "yes" : `no (${r.applied.toLocaleString("en")} applied)`,
        `${(r.peakRssKb / 1024).toFixed(0)} MiB`,
        base ? (r.peakRssKb / base.peakRssKb).toFixed(2) : "",
        r.cpuSeconds.toFixed(1),
        r.wallSeconds.toFixed(1),
        Math.round(r.applied / r.cpuSeconds).toLocaleString("en"),
        `${(r.reportBytes / 1024 / 1024).toFixed(1)} MiB`,
      ]),
    ])}\n${machineNote()}`,
  );
  writeJson(join(ROOT, "bench/results/report-aggregation.json"), { src, results, note: machineNote() });
}

interface Measured {
  records: number;
  finished: boolean;
  /** Records the child had applied when it ended (all of them when finished). */
  applied: number;
  peakRssKb: number;
  cpuSeconds: number;
  wallSeconds: number;
  /** The report directory's size at the end (month files, checkpoint). */
  reportBytes: number;
}

async function measure(dir: string, n: number, src: string, timeoutMs: number): Promise<Measured> {
  const report = join(dir, `report-${process.pid}`);
  await rm(report, { recursive: true, force: true });
  const started = Date.now();
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--child", `--dir=${dir}`, `--src=${src}`],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  let applied = 0;
  let finished = false;
  proc.stdout?.setEncoding("utf8").on("data", (text: string) => {
    for (const line of text.split("\n")) {
      if (line.startsWith("applied ")) applied = Number(line.slice(8));
      if (line.startsWith("hwm ")) aggregationHwmKb = Number(line.slice(4));
      if (line === "done") finished = true;
    }
  });
  let peakRssKb = 0;
  /** The child's own VmHWM once the aggregation is done, before it checks the counts. */
  let aggregationHwmKb: number | undefined;
  let cpuTicks = 0;
  const sample = () => {
    const s = sampleProc(proc);
    if (s) {
      peakRssKb = Math.max(peakRssKb, s.hwmKb);
      cpuTicks = s.ticks;
    }
  };
  const timer = setInterval(sample, 200);
  const timeout = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  await new Promise((done) => proc.once("exit", done));
  clearInterval(timer);
  clearTimeout(timeout);
  const reportBytes = await du(report);
  await rm(report, { recursive: true, force: true });
  return {
    records: n,
    finished,
    applied: finished ? n : applied,
    peakRssKb: aggregationHwmKb ?? peakRssKb,
    cpuSeconds: cpuTicks / 100,
    wallSeconds: (Date.now() - started) / 1000,
    reportBytes,
  };
}

/** VmHWM and user + system clock ticks of a running child; undefined once it has gone. */
function sampleProc(proc: ChildProcess): { hwmKb: number; ticks: number } | undefined {
  try {
    const status = readFileSync(`/proc/${proc.pid}/status`, "utf8");
    const stat = readFileSync(`/proc/${proc.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (utime, stime), counted from the state field (3).
    const ticks = Number(fields[11]) + Number(fields[12]);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { hwmKb: Number(hwm?.[1] ?? 0), ticks };
  } catch {
    return undefined;
  }
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function hasLog(dir: string, n: number): Promise<boolean> {
  const text = await readFile(join(dir, "COUNT"), "utf8").catch(() => undefined);
  return text?.trim() === String(n);
}

/** Writes `n` synthetic records into a SegmentLog in `dir`, in batches, then marks it complete. */
async function generate(dir: string, n: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const { SegmentLog } = await import("../src/store/file/segment-log.js");
  const log = await SegmentLog.open(dir);
  const next = prng(7);
  const hashes = Array.from({ length: PARTICIPANTS }, (_, i) =>
    createHash("sha256").update(`participant-${i}`).digest("hex"),
  );
  const jurisdictions = ["RU", "IN-MH", "IN-DL", "TR", "IR", "CN-BJ", "BY", "VN", "PK", "SA"];
  const batch: DecisionRecord[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(YEAR_START + Math.floor((i * YEAR_MS) / n)).toISOString();
    const r = next();
    // Orders skewed towards the first ones (a few busy orders, many quiet ones).
    const order = Math.floor(ORDERS * next() ** 2);
    const ipHash = hashes[Math.floor(next() * PARTICIPANTS)] as string;
    const jurisdiction = jurisdictions[order % jurisdictions.length] as string;
    const base = {
      decisionId: randomUUID(),
      at,
      ipPrefix: "49.32.10.0/24",
      ipHash,
      rulesetVersion: 42,
      geoSource: "mmdb" as const,
      geoDbVersion: "2025-01-07",
    };
    const country = jurisdiction.slice(0, 2);
    const subdivision = jurisdiction.includes("-") ? jurisdiction : null;
    if (r < 0.06) {
      const code = r < 0.05 ? "BLOCKED" : "SHADOW_MATCH";
      batch.push({
        ...base,
        meetingId: `mtg-${order}-${Math.floor(next() * 5)}`,
        decision: code === "BLOCKED" ? "deny" : "allow",
        code,
        orderIds: [`ord-${order}`],
        jurisdiction,
        country,
        subdivision,
      });
    } else if (r < 0.1) {
      batch.push({
        ...base,
        meetingId: `mtg-${order}-${Math.floor(next() * 5)}`,
        decision: "allow",
        code: "OUTSIDE_JURISDICTION",
        orderIds: [`ord-${order}`],
        jurisdiction: null,
        country: "NL",
        subdivision: null,
      });
    } else if (r < 0.13) {
      batch.push({
        ...base,
        meetingId: `mtg-open-${Math.floor(next() * 50_000)}`,
        decision: "allow",
        code: "GEO_UNKNOWN",
        orderIds: [],
        jurisdiction: null,
        country: null,
        subdivision: null,
        ipPrefix: null,
        ipHash: null,
        geoSource: "none",
      });
    } else {
      batch.push({
        ...base,
        meetingId: `mtg-open-${Math.floor(next() * 50_000)}`,
        decision: "allow",
        code: "NO_ORDER",
        orderIds: [],
        jurisdiction: null,
        country: "DE",
        subdivision: null,
      });
    }
    if (batch.length === 20_000) {
      await log.append(batch);
      batch.length = 0;
    }
  }
  await log.append(batch);
  await log.close();
  await writeFile(join(dir, "COUNT"), `${n}\n`);
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

// ---- the child: one aggregation from scratch ----

async function child(): Promise<void> {
  const dir = option("dir") as string;
  const src = option("src") as string;
  const load = (path: string) => import(pathToFileURL(join(src, path)).href);
  const { SegmentLog } = await load("store/file/segment-log.ts");
  const { FileAggregateStore } = await load("store/file/aggregate-store.ts");
  const { runFromDecisionLog } = await load("report/runner.ts");
  const log = await SegmentLog.open(dir);
  const report = join(dir, `report-${process.ppid}`);
  // `log` is what the current store reads `counted` from; a store that does not know it ignores it.
  const store = await FileAggregateStore.open(report, { log });
  let applied = 0;
  let batches = 0;
  const counting = {
    apply: async (...args: unknown[]) => {
      const result = await store.apply(...args);
      applied += result.applied;
      if (++batches % 20 === 0) process.stdout.write(`applied ${applied}\n`);
      return result;
    },
    checkpoint: () => store.checkpoint(),
  };
  await runFromDecisionLog(log, counting);
  process.stdout.write(`applied ${applied}\n`);
  // The peak of the aggregation itself, before the check below reads the months back.
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  process.stdout.write(`hwm ${hwm}\n`);
  let counted = 0;
  for (const month of await store.allMonths()) counted += (await store.months([month]))[0].records;
  if (counted !== Number(await readFile(join(dir, "COUNT"), "utf8"))) {
    throw new Error(`counted ${counted} records, the log holds more or fewer`);
  }
  await store.close();
  await log.close();
  process.stdout.write("done\n");
}
