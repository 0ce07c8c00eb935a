/**
 * Issue 14 goal 4, the start-up part: how long a server with a large order history takes to answer
 * `/readyz` with 200, and how much heap the embedded store keeps per order. Two builds side by side in
 * one run, so both see the same machine load: this checkout's `dist/` and a baseline checkout's (a
 * second worktree of main, built with `npm run build`).
 *
 * The history: `--orders` orders, each created and approved by the API in real life, here one approval
 * entry each, chained as the store chains them, with per-order references, meetings and times (the times
 * differ per order, as they do in life). Each build gets its own data directory with a hard link of the
 * same journal (nothing writes to it), and its own snapshot: the first start replays the journal and
 * writes the snapshot, the later ones load it.
 *
 * `npx tsx bench/cold-start.ts [--orders=1000000] [--rounds=3] [--replay-rounds=1]
 *  [--baseline=/work/wt/cold-main] [--skip-build] [--skip-heap] [--journal=<orders.jsonl of that many orders>]`;
 * `history <n> <dir>` only writes a history.
 * The heap per order is measured in a child process per build (`--expose-gc`): heap used after opening
 * the journal minus before, after a full GC, divided by the orders; from the snapshot and by replay.
 *
 * A build that writes the ruleset snapshot (`ruleset.snapshot`, beside the journal) is ready before its
 * orders are loaded: each start also measures when the order routes answer (`GET /v1/orders/{id}`, 503 until
 * then; an id that is not there, so 404 after) and the slowest `POST /v1/check` sent every 50 ms in between (checks are answered meanwhile).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { link, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { iso, NOON } from "../test/support/fixtures.js";
import { approve, pending } from "../test/support/rulesets.js";
import { arg, median } from "./lib.js";
import {
  buildCordon,
  cpuSeconds,
  freePort,
  ROOT,
  secret,
  sleep,
  TOKENS,
  writeApprovalJournal,
} from "./servers.js";

const ORDERS = Number(arg("orders", "1000000"));
const ROUNDS = Number(arg("rounds", "3"));
const REPLAY_ROUNDS = Number(arg("replay-rounds", "1"));
const BASELINE = arg("baseline", "/work/wt/cold-main");
/** A journal written earlier by `history` (of `--orders` orders), instead of writing one now. */
const JOURNAL_ARG = arg("journal", "");
const SERVER_NODE_ARGS = ["--max-old-space-size=12000", "--max-semi-space-size=64"];
const JOURNAL = "orders.jsonl";
const SNAPSHOT = "orders.snapshot";
const RULESET_SNAPSHOT = "ruleset.snapshot";

/** Writes a journal of `n` approved orders into `dir` (created). */
export async function history(n: number, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const authorities = [
    { name: "Moscow court", jurisdiction: "RU", kind: "court" },
    { name: "Roskomnadzor", jurisdiction: "RU", kind: "regulator" },
  ];
  await writeApprovalJournal(join(dir, JOURNAL), n, (i, id) => {
    const t = NOON - 400 * 86_400_000 + i * 30_000;
    const created = pending(id, {
      reference: `RU/${2026 - (i % 3)}/${i}`,
      mode: "shadow",
      jurisdictions: ["RU"],
      authority: authorities[i % 2],
      target: { kind: "meeting", meetingIds: [`m-${i}`] },
      receivedAt: iso(t - 3_600_000),
    });
    return { order: approve({ ...created, createdAt: iso(t) }, t + 600_000), at: iso(t + 600_000) };
  });
}

interface Build {
  name: string;
  root: string;
}

/** A data directory for `build` holding a hard link of the journal (and nothing else). */
async function dataDir(journal: string, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `cordon-cold-${label}-`));
  await link(journal, join(dir, JOURNAL));
  return dir;
}

function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/**
 * Starts `build` on `dir` until /readyz answers 200: the wall-clock ms, the CPU seconds the server
 * process used by then (all its threads: on a loaded machine the steadier measure), and its RSS then;
 * stops it again.
 */
async function readyToServe(
  build: Build,
  dir: string,
  waitForSnapshot: boolean,
): Promise<{ ms: number; cpuS: number; rssMB: number; ordersMs: number; checkMaxMs: number }> {
  const port = await freePort();
  const t = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [...SERVER_NODE_ARGS, join(build.root, "dist/src/entry/node.js")],
    {
      cwd: build.root,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        CORDON_DATA_DIR: dir,
        CORDON_TOKENS: Object.values(TOKENS).join(","),
        CORDON_IP_HASH_KEY: "bench-ip-hash-key-0123456789abcdef0123456789",
        CORDON_LOG_LEVEL: "warn",
        PORT: String(port),
        HOST: "127.0.0.1",
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const stderr: string[] = [];
  child.stderr?.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
  let ms = Number.NaN;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${build.name} exited ${child.exitCode}: ${stderr.join("")}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) {
        ms = performance.now() - t;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  const rssMB = vmRss(child.pid as number) / 2 ** 20;
  const cpuS = cpuSeconds(child.pid as number).total;
  // Until the order routes answer: a check every 50 ms meanwhile, its slowest answer kept.
  const base = `http://127.0.0.1:${port}`;
  const auditor = { authorization: `Bearer ${secret("auditor")}` };
  const checker = { authorization: `Bearer ${secret("checker")}`, "content-type": "application/json" };
  let checkMaxMs = 0;
  let ordersMs = Number.NaN;
  for (;;) {
    const sent = performance.now();
    const check = await fetch(`${base}/v1/check`, {
      method: "POST",
      headers: checker,
      body: JSON.stringify({ meetingId: "m-1", ip: "81.2.69.142" }),
    });
    await check.arrayBuffer();
    if (check.status !== 200) throw new Error(`${build.name}: a check answered ${check.status}`);
    checkMaxMs = Math.max(checkMaxMs, performance.now() - sent);
    // An order that is not there: 404 once the orders are loaded (no listing of a million orders).
    const res = await fetch(`${base}/v1/orders/not-an-order`, { headers: auditor });
    await res.arrayBuffer();
    if (res.status === 404) {
      ordersMs = performance.now() - t;
      break;
    }
    if (res.status !== 503) throw new Error(`${build.name}: GET /v1/orders/{id} answered ${res.status}`);
    await sleep(50);
  }
  if (waitForSnapshot) {
    // The first start writes its snapshots in the background: stop only once they are in place (the
    // ruleset's only for a build that writes one).
    const writesRuleset = existsSync(join(build.root, "dist/src/store/file/ruleset-snapshot.js"));
    for (const file of writesRuleset ? [SNAPSHOT, RULESET_SNAPSHOT] : [SNAPSHOT]) {
      for (;;) {
        const s = await stat(join(dir, file)).catch(() => undefined);
        if (s && !existsSync(join(dir, `${file}.tmp`))) break;
        await sleep(200);
      }
    }
  }
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  await exited;
  clearTimeout(timer);
  if (stderr.length > 0) console.log(`  ${build.name} said: ${stderr.join("").trim().slice(0, 600)}`);
  return { ms, cpuS, rssMB, ordersMs, checkMaxMs };
}

/** Heap bytes per order the store of `build` keeps after opening `dir` (a child with --expose-gc). */
function heapPerOrder(
  build: Build,
  dir: string,
  orders: number,
): { perOrder: number; openMs: number; openCpuS: number } {
  const module = join(build.root, "dist/src/store/file/order-journal.js");
  const script = `
    const { OrderJournal } = await import(${JSON.stringify(module)});
    globalThis.gc(); globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    const t = performance.now();
    const cpu = process.cpuUsage();
    const journal = await OrderJournal.open(${JSON.stringify(dir)}, { snapshotEvery: 0 });
    const openMs = performance.now() - t;
    const { user, system } = process.cpuUsage(cpu);
    const openCpuS = (user + system) / 1e6;
    globalThis.gc(); globalThis.gc();
    const after = process.memoryUsage().heapUsed;
    console.log(JSON.stringify({ perOrder: (after - before) / ${orders}, openMs, openCpuS }));
    await journal.close();`;
  const run = spawnSync(
    process.execPath,
    ["--expose-gc", "--max-old-space-size=12000", "--input-type=module", "-e", script],
    { cwd: build.root, encoding: "utf8", maxBuffer: 1 << 20 },
  );
  if (run.status !== 0) throw new Error(`${build.name} heap: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop() as string);
}

async function main() {
  const builds: Build[] = [
    { name: "baseline", root: BASELINE },
    { name: "this", root: ROOT },
  ];
  if (!process.argv.includes("--skip-build")) console.log(`build: ${(await buildCordon()).note}`);
  for (const b of builds)
    if (!existsSync(join(b.root, "dist/src/entry/node.js")))
      throw new Error(`${b.name}: no dist in ${b.root}`);
  const source = await mkdtemp(join(tmpdir(), "cordon-cold-history-"));
  const t = performance.now();
  if (JOURNAL_ARG) await link(JOURNAL_ARG, join(source, JOURNAL));
  else await history(ORDERS, source);
  const journal = join(source, JOURNAL);
  console.log(
    `history: ${ORDERS} orders, ${((await stat(journal)).size / 2 ** 20).toFixed(0)} MiB, written in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const replay: Record<string, number[]> = { baseline: [], this: [] };
  const fromSnapshot: Record<string, number[]> = { baseline: [], this: [] };
  const replayCpu: Record<string, number[]> = { baseline: [], this: [] };
  const snapshotCpu: Record<string, number[]> = { baseline: [], this: [] };
  const rss: Record<string, number[]> = { baseline: [], this: [] };
  const ordersAt: Record<string, number[]> = { baseline: [], this: [] };
  const checkMax: Record<string, number[]> = { baseline: [], this: [] };
  const snapDirs: Record<string, string> = {};
  // By replay: the first start of each build on a directory without a snapshot (it writes one).
  for (let r = 0; r < REPLAY_ROUNDS; r++) {
    for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
      const dir = await dataDir(journal, b.name);
      const res = await readyToServe(b, dir, true);
      replay[b.name]?.push(res.ms);
      replayCpu[b.name]?.push(res.cpuS);
      console.log(
        `replay   ${b.name}: ready in ${(res.ms / 1000).toFixed(1)} s, ${res.cpuS.toFixed(1)} s CPU, rss ${res.rssMB.toFixed(0)} MiB`,
      );
      if (snapDirs[b.name] === undefined) snapDirs[b.name] = dir;
      else await rm(dir, { recursive: true, force: true });
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
      const res = await readyToServe(b, snapDirs[b.name] as string, false);
      fromSnapshot[b.name]?.push(res.ms);
      snapshotCpu[b.name]?.push(res.cpuS);
      rss[b.name]?.push(res.rssMB);
      ordersAt[b.name]?.push(res.ordersMs);
      checkMax[b.name]?.push(res.checkMaxMs);
      console.log(
        `snapshot ${b.name}: ready in ${(res.ms / 1000).toFixed(1)} s, ${res.cpuS.toFixed(1)} s CPU, rss ${res.rssMB.toFixed(0)} MiB, orders at ${(res.ordersMs / 1000).toFixed(1)} s, slowest check meanwhile ${res.checkMaxMs.toFixed(0)} ms, load ${loadavg()[0]?.toFixed(1)}`,
      );
    }
  }
  const heap: Record<string, unknown> = {};
  for (const b of process.argv.includes("--skip-heap") ? [] : builds) {
    const dir = snapDirs[b.name] as string;
    const snap = heapPerOrder(b, dir, ORDERS);
    const bare = await dataDir(journal, `${b.name}-heap`);
    const full = heapPerOrder(b, bare, ORDERS);
    await rm(bare, { recursive: true, force: true });
    heap[b.name] = { fromSnapshot: snap, byReplay: full };
    console.log(`heap ${b.name}: ${JSON.stringify(heap[b.name])}`);
  }
  const m = (xs: number[] | undefined) => median([...(xs ?? [])].sort((a, c) => a - c));
  const summary = {
    orders: ORDERS,
    readyMs: {
      replay: { baseline: m(replay.baseline), this: m(replay.this) },
      snapshot: { baseline: m(fromSnapshot.baseline), this: m(fromSnapshot.this) },
    },
    readyCpuS: {
      replay: { baseline: m(replayCpu.baseline), this: m(replayCpu.this) },
      snapshot: { baseline: m(snapshotCpu.baseline), this: m(snapshotCpu.this) },
    },
    ratios: {
      replay: m(replay.this) / m(replay.baseline),
      snapshot: m(fromSnapshot.this) / m(fromSnapshot.baseline),
      replayCpu: m(replayCpu.this) / m(replayCpu.baseline),
      snapshotCpu: m(snapshotCpu.this) / m(snapshotCpu.baseline),
    },
    rssMB: { baseline: m(rss.baseline), this: m(rss.this) },
    ordersMs: { baseline: m(ordersAt.baseline), this: m(ordersAt.this) },
    checkMaxMs: { baseline: m(checkMax.baseline), this: m(checkMax.this) },
    heap,
    rounds: { replay, fromSnapshot, replayCpu, snapshotCpu, ordersAt, checkMax },
  };
  console.log(JSON.stringify(summary, null, 1));
  for (const dir of [source, ...Object.values(snapDirs)]) await rm(dir, { recursive: true, force: true });
}

if (process.argv[2] === "history") await history(Number(process.argv[3]), process.argv[4] as string);
else await main();
