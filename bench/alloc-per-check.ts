/**
 * Issue 14, goal 6: what a check costs the garbage collector, in bytes, which unlike wall time does not
 * move with the neighbours' load. One Cordon (built, pinned to CPU 0, orders of `rules/examples` seeded,
 * `--trace-gc-nvp`, `alloc-probe.mjs` loaded) takes an open-model load (`open-load.ts` on CPU 1) to warm
 * up, then sits idle for as long as a measured load lasts, then takes a measured load of `--checks`
 * checks at `--rate`. For the idle window and the load: every byte allocated on V8's heap (the probe's
 * marks and the collections logged between them), the scavenges and mark-compacts, the bytes promoted,
 * and per scavenge the medians of its pause, of copying survivors, of sweeping array buffers and of
 * the bytes that survived. Per check: the load's bytes less the idle window's (the timers that run
 * whatever the traffic).
 *
 * `--profile`: one more load of the same size under V8's sampling heap profiler, counting what is freed
 * as well (alloc-probe.mjs), and the functions that allocate most, in bytes per check (sampled: each
 * sample stands for about 4 kB, so a function under a few bytes a check is noise); the profile is kept
 * in `bench/results/alloc-per-check.heapprofile` for DevTools.
 *
 * `--server=node-echo`: the same load on `node-echo.ts` instead, Node's HTTP server around a JSON body
 * and nothing else: the floor under what Cordon's own work adds.
 *
 * `npx tsx bench/alloc-per-check.ts [--rate=5000] [--checks=50000] [--warmup-checks=25000] [--profile]
 * [--top=25] [--server=cordon|node-echo] [--node-args="--max-semi-space-size=16"] [--gc-log=FILE]` (FILE:
 * a copy of the server's GC log). Needs nothing beyond
 * node and taskset.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./lib.js";
import {
  buildCordon,
  checkBodies,
  countDecisions,
  openLoad,
  pinToCpu,
  ROOT,
  type Spawned,
  secret,
  seedOrders,
  sleep,
  spawnServer,
  startCordon,
} from "./servers.js";

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const RATE = Number(arg("rate", "5000"));
const CHECKS = Number(arg("checks", "50000"));
const WARMUP_CHECKS = Number(arg("warmup-checks", "25000"));
const PROFILE = process.argv.includes("--profile");
const TOP = Number(arg("top", "25"));
const NODE_ARGS = arg("node-args", "").split(" ").filter(Boolean);
const SERVER = arg("server", "cordon");

const dir = mkdtempSync(join(tmpdir(), "cordon-alloc-"));
const lines = join(dir, "checks.txt");
writeFileSync(lines, `${checkBodies(4096).join("\n")}\n`);
const gcLog = join(dir, "gc.log");
const commandFile = join(dir, "probe-command");
const probe = fileURLToPath(new URL("./alloc-probe.mjs", import.meta.url));
const traced = ["--trace-gc", "--trace-gc-nvp", "--import", probe, ...NODE_ARGS];
const cordon: Spawned & { dataDir?: string } =
  SERVER === "node-echo"
    ? await spawnServer({
        name: "node-echo",
        args: [...traced, "--import", "tsx", "bench/node-echo.ts"],
        env: { ALLOC_PROBE_CMD: commandFile },
        readyPath: "/",
        stdoutPath: gcLog,
      })
    : await startCordon(await buildCordon(), traced, {
        stdoutPath: gcLog,
        env: { ALLOC_PROBE_CMD: commandFile },
      });
pinToCpu(cordon.pid, "0");
if (cordon.dataDir !== undefined) await seedOrders(cordon);

/** Sends the probe a command and waits for its line in the log; returns the log's length before it. */
async function probeSays(command: string, answer: string): Promise<number> {
  const before = readFileSync(gcLog, "utf8").length;
  writeFileSync(commandFile, command);
  process.kill(cordon.pid, "SIGUSR2");
  for (let waited = 0; waited < 30_000; waited += 20) {
    if (readFileSync(gcLog, "utf8").indexOf(`alloc-probe ${answer}`, before) >= 0) return before;
    await sleep(20);
  }
  throw new Error(`the probe did not answer ${command}`);
}

const load = (checks: number) =>
  openLoad({
    url: `${cordon.url}/v1/check`,
    token: secret("checker"),
    linesFile: lines,
    rate: RATE,
    seconds: checks / RATE,
    warmup: 0,
    cpu: "1",
  });

interface Window {
  label: string;
  checks: number;
  seconds: number;
  text: string;
}

const windows: Window[] = [];
async function measured(label: string, run: () => Promise<number>): Promise<void> {
  await probeSays(`mark ${label}-start`, `mark ${label}-start`);
  const started = performance.now();
  const checks = await run();
  const seconds = (performance.now() - started) / 1000;
  await probeSays(`mark ${label}-end`, `mark ${label}-end`);
  const log = readFileSync(gcLog, "utf8");
  const from = log.indexOf(`alloc-probe mark ${label}-start`);
  const to = log.indexOf("\n", log.indexOf(`alloc-probe mark ${label}-end`));
  windows.push({ label, checks, seconds, text: log.slice(from, to) });
}

let profilePath: string | undefined;
let profiledChecks = 0;
let recordsBefore = 0;
let answered = 0;
try {
  await load(WARMUP_CHECKS);
  await measured("idle", async () => {
    await sleep((CHECKS / RATE) * 1000);
    return 0;
  });
  const { dataDir } = cordon;
  recordsBefore = dataDir === undefined ? 0 : countDecisions(dataDir).records;
  await measured("load", async () => {
    const r = await load(CHECKS);
    answered = r.answered;
    if (r.errors + r.non2xx > 0) throw new Error(`${r.errors} errors, ${r.non2xx} non-2xx answers`);
    return r.answered;
  });
  const records = dataDir === undefined ? answered : countDecisions(dataDir).records - recordsBefore;
  if (records !== answered) console.log(`note: ${records} decision records for ${answered} checks answered`);
  if (PROFILE) {
    profilePath = join(ROOT, "bench/results/alloc-per-check.heapprofile");
    mkdirSync(dirname(profilePath), { recursive: true });
    await probeSays("sample-start", "sampling");
    const r = await load(CHECKS);
    profiledChecks = r.answered;
    await probeSays(`sample-stop ${profilePath}`, "sampled");
  }
} finally {
  await cordon.stop();
}

interface Collection {
  kind: string;
  fields: Map<string, number>;
}

/** The probe's marks and V8's collections of a window, in order. */
function readWindow(text: string): { used: number[]; collections: Collection[] } {
  const used: number[] = [];
  const collections: Collection[] = [];
  for (const line of text.split("\n")) {
    const mark = /^alloc-probe mark \S+ used=(\d+)/.exec(line);
    if (mark) used.push(Number(mark[1]));
    const kind = /\bgc=(\w+)/.exec(line)?.[1];
    if (kind === undefined) continue;
    const fields = new Map(
      [...line.matchAll(/([a-z_.]+)=([\d.]+)/g)].map((m) => [m[1] as string, Number(m[2])]),
    );
    collections.push({ kind, fields });
  }
  return { used, collections };
}

interface Summary {
  label: string;
  checks: number;
  seconds: number;
  allocated: number;
  scavenges: number;
  markCompacts: number;
  promoted: number;
  survivedMedian: number;
  pauseMedian: number;
  copyMedian: number;
  sweepArrayBuffersMedian: number;
  longest: number;
}

function summarise(w: Window): Summary {
  const { used, collections } = readWindow(w.text);
  // Every byte allocated: the heap's growth from each collection (or the start) to the next, summed.
  let allocated = 0;
  let after = used[0] as number;
  for (const c of collections) {
    allocated += (c.fields.get("total_size_before") ?? after) - after;
    after = c.fields.get("total_size_after") ?? after;
  }
  allocated += (used[1] as number) - after;
  const scavenges = collections.filter((c) => c.kind === "s");
  const of = (field: string) => median(scavenges.map((c) => c.fields.get(field) ?? 0));
  const pauses = collections.map((c) => c.fields.get("pause") ?? 0);
  return {
    label: w.label,
    checks: w.checks,
    seconds: w.seconds,
    allocated,
    scavenges: scavenges.length,
    markCompacts: collections.filter((c) => c.kind === "mc" || c.kind === "mmc").length,
    promoted: scavenges.reduce((sum, c) => sum + (c.fields.get("promoted") ?? 0), 0),
    survivedMedian: of("new_space_survived"),
    pauseMedian: of("pause"),
    copyMedian: of("scavenge.parallel"),
    sweepArrayBuffersMedian: of("scavenge.sweep_array_buffers"),
    longest: Math.max(0, ...pauses),
  };
}

const [idle, busy] = windows.map(summarise) as [Summary, Summary];
const kB = (n: number) => `${(n / 1024).toFixed(1)} kB`;
const idleRate = idle.allocated / idle.seconds;
const net = busy.allocated - idleRate * busy.seconds;
const per10k = (n: number) => (n / busy.checks) * 10_000;
console.log(
  `idle  ${idle.seconds.toFixed(1)} s: ${kB(idle.allocated)} allocated (${kB(idleRate)}/s), ` +
    `${idle.scavenges} scavenges, ${idle.markCompacts} mark-compacts`,
);
console.log(
  `load  ${busy.checks} checks at ${RATE}/s in ${busy.seconds.toFixed(1)} s: ${kB(busy.allocated)} allocated, ` +
    `${busy.scavenges} scavenges, ${busy.markCompacts} mark-compacts, ${kB(busy.promoted)} promoted`,
);
console.log(
  `per check: ${Math.round(net / busy.checks)} bytes allocated (${Math.round(busy.allocated / busy.checks)} before ` +
    "taking off the idle rate)",
);
console.log(
  `per 10k checks: ${per10k(busy.scavenges).toFixed(1)} scavenges, ${kB(per10k(busy.promoted))} promoted, ` +
    `${per10k(busy.markCompacts).toFixed(2)} mark-compacts`,
);
console.log(
  `per scavenge (median): pause ${busy.pauseMedian.toFixed(2)} ms, copying ${busy.copyMedian.toFixed(2)} ms, ` +
    `sweeping array buffers ${busy.sweepArrayBuffersMedian.toFixed(2)} ms, survived ${kB(busy.survivedMedian)}; ` +
    `longest pause ${busy.longest.toFixed(1)} ms`,
);

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

if (profilePath !== undefined) {
  const profile = JSON.parse(readFileSync(profilePath, "utf8")) as { head: ProfileNode };
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.startsWith("file://") ? relative(ROOT, fileURLToPath(url)) : url;
    const site = `${functionName || "(anonymous)"} ${file}${file ? `:${lineNumber + 1}` : ""}`;
    if (node.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  console.log(
    `\nsampled allocations, ${profiledChecks} checks: ${Math.round(total / profiledChecks)} bytes a check in all`,
  );
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP))
    console.log(`${String(Math.round(bytes / profiledChecks)).padStart(7)} B/check  ${site}`);
}
const keepLog = arg("gc-log", "");
if (keepLog) writeFileSync(keepLog, readFileSync(gcLog));
rmSync(dir, { recursive: true, force: true });
