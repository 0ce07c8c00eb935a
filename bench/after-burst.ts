/**
 * Issue 14, goal 6's open question: Cordon's p99 at 5,000 checks/s is at the goal on a fresh process
 * (1.75-1.87 ms) and above it after `check-speed.ts`'s closed-loop rounds (3.9-12.9 ms). What does a
 * burst leave behind? One Cordon (built, pinned to CPU 0, orders of `rules/examples` seeded) under V8's
 * `--trace-gc-nvp`: two open-model loads (`open-load.ts` on CPU 1), a closed-loop burst of wrk, two open
 * loads again; per load the latencies, the generator's own send lag, the server's CPU per check and RSS,
 * and per phase the scavenges: how many, their median pause and the median of each part V8 reports
 * (copying survivors, sweeping array buffers, roots), and the bytes that survived and were promoted.
 *
 * `npx tsx bench/after-burst.ts [--rate=5000] [--seconds=15] [--burst-seconds=30] [--bursts=1]
 * [--node-args="--max-semi-space-size=16"]`. Needs `wrk`. On a shared machine the send lag says whether
 * the generator kept its rate; the scavenge medians are the part that does not depend on it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { arg, median } from "./lib.js";
import {
  buildCordon,
  checkBodies,
  cpuSeconds,
  type LoadResult,
  openLoad,
  pinToCpu,
  runWrk,
  secret,
  seedOrders,
  startCordon,
} from "./servers.js";

const RATE = Number(arg("rate", "5000"));
const SECONDS = Number(arg("seconds", "15"));
const BURST_SECONDS = Number(arg("burst-seconds", "30"));
const BURSTS = Number(arg("bursts", "1"));
const NODE_ARGS = arg("node-args", "").split(" ").filter(Boolean);

const dir = mkdtempSync(join(tmpdir(), "cordon-after-burst-"));
const lines = join(dir, "checks.txt");
writeFileSync(lines, `${checkBodies(4096).join("\n")}\n`);
const gcLog = join(dir, "gc.log");
const cordon = await startCordon(await buildCordon(), ["--trace-gc-nvp", ...NODE_ARGS], {
  stdoutPath: gcLog,
});
pinToCpu(cordon.pid, "0");
await seedOrders(cordon);

/** Where each phase starts in the GC log. */
const phases: { label: string; at: number }[] = [];
const mark = (label: string) => phases.push({ label, at: readFileSync(gcLog, "utf8").length });

async function open(label: string): Promise<void> {
  mark(label);
  const before = cpuSeconds(cordon.pid).total;
  const r = await openLoad({
    url: `${cordon.url}/v1/check`,
    token: secret("checker"),
    linesFile: lines,
    rate: RATE,
    seconds: SECONDS,
    warmup: 2,
    cpu: "1",
  });
  const cpu = cpuSeconds(cordon.pid).total - before;
  const rss = Number(readFileSync(`/proc/${cordon.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1]);
  const ms = (n: number) => +n.toFixed(2);
  console.log(
    `${label.padEnd(8)} p50 ${ms(r.latencyMs.p50)} ms, p99 ${ms(r.latencyMs.p99)} ms, p99.9 ${ms(r.latencyMs.p999)} ms; ` +
      `send lag p99 ${ms(r.sendLagMs.p99)} ms; ${Math.round((cpu / (r.answered || 1)) * 1e6)} µs CPU a check; ` +
      `RSS ${Math.round(rss / 1024)} MB; ${r.errors + r.non2xx} errors`,
  );
}

/** The closed loop: wrk with 32 connections on CPU 1, the same participants. */
function burst(): Promise<LoadResult> {
  return runWrk({
    url: cordon.url,
    script: "bench/wrk/lines.lua",
    env: { WRK_LINES: lines, WRK_METHOD: "POST", WRK_PATH: "/v1/check", CORDON_TOKEN: secret("checker") },
    seconds: BURST_SECONDS,
    connections: 32,
    threads: 1,
    cpu: "1",
  });
}

try {
  await open("fresh-1");
  await open("fresh-2");
  for (let i = 1; i <= BURSTS; i++) {
    mark(`burst-${i}`);
    console.log(`burst-${i}  wrk -c32 ${BURST_SECONDS} s: ${Math.round((await burst()).rps)} checks/s`);
  }
  await open("after-1");
  await open("after-2");
} finally {
  await cordon.stop();
}

// Per phase, the scavenges V8 logged (`gc=s` lines of --trace-gc-nvp), medians of their fields.
const log = readFileSync(gcLog, "utf8");
const FIELDS = ["pause", "scavenge.parallel", "scavenge.sweep_array_buffers", "scavenge.roots"];
for (let i = 0; i < phases.length; i++) {
  const phase = phases[i] as { label: string; at: number };
  const text = log.slice(phase.at, phases[i + 1]?.at ?? log.length);
  const rows = text
    .split("\n")
    .filter((l) => /\bgc=s\b/.test(l))
    .map((l) => new Map([...l.matchAll(/([a-z_.]+)=([\d.]+)/g)].map((m) => [m[1] as string, Number(m[2])])));
  const marks = text.split("\n").filter((l) => /\bgc=(mc|mmc)\b/.test(l)).length;
  const of = (field: string) => +median(rows.map((r) => r.get(field) ?? 0)).toFixed(2);
  const pauses = rows.map((r) => r.get("pause") ?? 0);
  console.log(
    `${phase.label.padEnd(8)} ${rows.length} scavenges (ms, median): ${FIELDS.map((f) => `${f} ${of(f)}`).join(", ")}; ` +
      `survived ${Math.round(of("new_space_survived") / 1024)} kB, promoted ${Math.round(of("promoted") / 1024)} kB; ` +
      `longest ${Math.max(0, ...pauses).toFixed(1)} ms, ${pauses.filter((p) => p > 2).length} over 2 ms; ${marks} mark-compacts`,
  );
}
rmSync(dir, { recursive: true, force: true });
