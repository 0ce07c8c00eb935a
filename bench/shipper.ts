/**
 * What the Redis mode's shipper costs per decision record, in one process: 32 writers append records of
 * the check's shape to an outbox (SegmentLog, group commit) one at a time, as 32 connections' checks do,
 * with and without a StreamShipper forwarding them to the 16 decision partitions of a redis-server started
 * for the run. The process's CPU time (user + system, all threads) per record is read for each; the
 * difference is the shipper's share of a check in Redis mode (bench/http.ts `cordon-redis` against
 * `cordon`). Rounds are interleaved; medians are reported. The redis-server's CPU is not counted.
 * With `--baseline=<dir>` (another version's tree, e.g. `git archive <commit> src test/support | tar -x
 * -C <dir>` with node_modules linked), that version's outbox and shipper run too, in the same rounds, so
 * a change is measured against what it replaces under the same machine load.
 *
 *   npx tsx bench/shipper.ts [--records=40000] [--rounds=5] [--baseline=<dir>] [--variant=<options>]
 *     [--only=embedded|redis] [--rate=<records/s>]
 *
 * `--variant=batchSize=2000,coalesceMs=25` runs the current code with those shipper options too.
 *
 * `--rate=10000` paces the appends at that many records a second, as a loaded instance's checks arrive,
 * instead of as fast as the outbox takes them: the shipper's pages are then as large as its `coalesceMs`
 * lets them grow at that rate (about 1000 records at 10 000/s and the default 100 ms), not `batchSize`
 * every time.
 *
 * `--only` runs one mode (for `node --cpu-prof --import tsx bench/shipper.ts --only=redis`).
 *
 * `--callgrind`, under `valgrind --tool=callgrind --trace-children=no node --import tsx bench/shipper.ts`:
 * each measured region (the appends and the drain) is between `callgrind_control -z` and `-d`, so each
 * dump counts the instructions of that region alone, a figure the machine's load does not move.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { DecisionRecord } from "../src/engine/index.js";
import { createRedis } from "../src/platform/node/redis.js";
import { redisKeys } from "../src/store/redis/keys.js";
import { SHIPPER_REDIS_OVERRIDES } from "../src/store/redis/shipper/stream-shipper.js";
import { startRedis } from "../test/support/redis.js";
import { median } from "./lib.js";

const num = (name: string, fallback: number) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.split("=")[1]) : fallback;
};
const RECORDS = num("records", 40_000);
const ROUNDS = num("rounds", 5);
const IN_FLIGHT = 32;
/** `--variant=batchSize=2000,coalesceMs=25`: the current code with these shipper options, as one more mode. */
const VARIANT = Object.fromEntries(
  (process.argv.find((a) => a.startsWith("--variant="))?.slice("--variant=".length) ?? "")
    .split(",")
    .filter((kv) => kv.includes("="))
    .map((kv) => [kv.split("=")[0], Number(kv.split("=")[1])]),
);
const CALLGRIND = process.argv.includes("--callgrind");
/** Records a second when paced (`--rate`); 0: as fast as the outbox takes them. */
const RATE = num("rate", 0);
const BASELINE = process.argv.find((a) => a.startsWith("--baseline="))?.slice("--baseline=".length);

interface Outbox {
  append(records: readonly DecisionRecord[]): Promise<void>;
  close(): Promise<void>;
}
interface Shipper {
  notify(): void;
  drain(ms: number): Promise<boolean>;
  stop(): Promise<void>;
}
/** The two classes of one version of the code. */
interface Version {
  SegmentLog: { open(dir: string): Promise<Outbox> };
  StreamShipper: { start(opts: Record<string, unknown>): Promise<Shipper> };
}

async function load(root: string): Promise<Version> {
  const at = (path: string) => pathToFileURL(join(root, path)).href;
  const { SegmentLog } = await import(at("src/store/file/segment-log.ts"));
  const { StreamShipper } = await import(at("src/store/redis/shipper/stream-shipper.ts"));
  return { SegmentLog, StreamShipper } as Version;
}

/** A record as the check writes it (about 440 bytes of JSON). */
function record(i: number): DecisionRecord {
  return {
    decisionId: randomUUID(),
    at: new Date().toISOString(),
    phase: "join",
    role: "participant",
    meetingId: String(90090375104 + (i % 1000)),
    decision: "allow",
    code: "NO_ORDER",
    orderIds: [],
    jurisdiction: null,
    country: "KR",
    subdivision: null,
    ipPrefix: `14.48.${i % 256}.0/24`,
    ipHash: "bc216f3eda3b2f9a3a6efbe7a278d071015a738bff1d97bbb777df1a760d2ad5",
    rulesetVersion: 6,
    geoSource: "mmdb",
    geoDbVersion: "country-ipvAll@2026-06-17",
  } as unknown as DecisionRecord;
}

function cpuMicros(): { user: number; system: number } {
  return process.cpuUsage();
}

/**
 * CPU ticks (user + system, 1/100 s) of this process's main thread and of its other threads (V8's GC
 * and compiler workers, libuv's file-system pool), from /proc/self/task, to tell where a difference lies.
 */
function threadTicks(): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      // Threads are all called "node": the main thread is the one whose id is the process's.
      const name = tid === String(process.pid) ? "main" : "others";
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      byName.set(name, (byName.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {
      // a thread that ended meanwhile
    }
  }
  return byName;
}

/** Under callgrind: `-z` zeroes its counters, `-d` dumps them (asynchronously: callgrind acts while we run). */
async function callgrind(flag: "-z" | "-d"): Promise<void> {
  if (CALLGRIND) await promisify(execFile)("callgrind_control", [flag, String(process.pid)]);
}

async function appendAll(outbox: Outbox, n: number, after?: () => void): Promise<void> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) {
        next++;
        if (RATE > 0) {
          // Record k is due at t0 + k / RATE; a writer ahead of that waits (timers are ms-grained).
          const ahead = t0 + (next * 1000) / RATE - performance.now();
          if (ahead >= 1) await sleep(ahead);
        }
        await outbox.append([record(next)]);
        after?.();
      }
    }),
  );
}

const current = await load(fileURLToPath(new URL("..", import.meta.url)));
const baseline = BASELINE ? await load(BASELINE) : undefined;
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const modes: string[] = only
  ? [only]
  : [
      "embedded",
      "redis",
      ...(baseline ? ["baseline"] : []),
      ...(Object.keys(VARIANT).length > 0 ? ["variant"] : []),
    ];
const results = new Map<string, number[]>(modes.map((m) => [m, []]));
const server = await startRedis();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of modes) {
      const version = mode === "baseline" ? (baseline as Version) : current;
      const dir = await mkdtemp(join(tmpdir(), "cordon-bench-shipper-"));
      const outbox = await version.SegmentLog.open(join(dir, "outbox"));
      const redis =
        mode === "embedded"
          ? undefined
          : createRedis(server.url, { name: "shipper", overrides: SHIPPER_REDIS_OVERRIDES });
      const shipper = redis
        ? await version.StreamShipper.start({
            outbox,
            redis,
            keys: redisKeys(`bench-${mode}-${round}`),
            dataDir: join(dir, "outbox"),
            ...(mode === "variant" ? VARIANT : {}),
          })
        : undefined;
      if (shipper) await shipper.drain(5000);
      await appendAll(outbox, 2000, () => shipper?.notify()); // warm-up
      if (shipper) await shipper.drain(10_000);
      await callgrind("-z");
      const before = cpuMicros();
      const ticksBefore = threadTicks();
      await appendAll(outbox, RECORDS, () => shipper?.notify());
      if (shipper && !(await shipper.drain(600_000)))
        throw new Error(`${mode}: the shipper did not catch up`);
      const spent = process.cpuUsage(before);
      await callgrind("-d");
      const threads = [...threadTicks()]
        .map(([name, t]) => [name, ((t - (ticksBefore.get(name) ?? 0)) * 1e4) / RECORDS] as const)
        .filter(([, us]) => us > 0)
        .map(([name, us]) => `${name} ${us.toFixed(2)}`)
        .join(", ");
      const perRecord = (spent.user + spent.system) / RECORDS;
      results.get(mode)?.push(perRecord);
      console.log(
        `shipper: round ${round} ${mode.padEnd(8)} ${perRecord.toFixed(2)} µs CPU per record (user ${(spent.user / RECORDS).toFixed(2)}, system ${(spent.system / RECORDS).toFixed(2)}; by thread: ${threads})`,
      );
      await shipper?.stop();
      redis?.disconnect();
      await outbox.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await server.close();
}
const embedded = results.get("embedded") ?? [];
for (const mode of modes.slice(1)) {
  const list = results.get(mode) as number[];
  const e = median(embedded);
  const r = median(list);
  const perRound = list.map((x, i) => (x - (embedded[i] as number)).toFixed(2)).join(", ");
  console.log(
    `shipper: ${mode}: embedded ${e.toFixed(2)} µs, with the shipper ${r.toFixed(2)} µs per record (medians): the shipper ${(r - e).toFixed(2)} µs per record; per round ${perRound}`,
  );
}
