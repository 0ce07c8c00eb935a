/**
 * The report's Redis aggregation, counted two ways over the same records: by decisionId (the legacy
 * aggregates: a per-month seen set of every id, as all of Cordon's stream counted before partitions) and
 * by stream position (the partitions: a checkpoint per partition, moved by the same script that counts).
 * For each, on its own redis-server (persistence off, so disk speed does not enter):
 *
 * - store: the aggregate store's batch script alone (`apply` / `applyEntries`, batches of 500), with the
 *   records already in memory and, for positions, already in the streams (the script checks them there);
 * - catch-up: `runFromStream` end to end (XREADGROUP, the script, XACK), as a report request runs it;
 * - memory: INFO used_memory before the records, with them in the stream(s), and after counting; the
 *   aggregates' share is the last minus the middle.
 *
 * Records: one month, UUID-sized decisionIds, 60% denied, 10% shadow; 20 jurisdictions, 50 orders,
 * 10 000 meetings, 100 000 participants (ip hashes): the bucket sets are alike in both ways, the seen set
 * is what differs.
 *
 * Run: `npx tsx bench/report-aggregation-redis.ts [--records 1000000] [--partitions 16] [--only id|position]`.
 * Writes bench/results/report-aggregation-redis.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DecisionCode, DecisionRecord } from "../src/engine/index.js";
import { createRedis, type RedisClient } from "../src/platform/node/redis.js";
import { RedisAggregateStore } from "../src/store/redis/aggregate-store.js";
import { partitionOf, type RedisKeys, redisKeys } from "../src/store/redis/keys.js";
import { runFromStream } from "../src/store/redis/report-reader.js";
import { machineNote, table, writeJson } from "./lib.js";
import { freePort } from "./servers.js";

const RESULTS = fileURLToPath(new URL("./results/report-aggregation-redis.json", import.meta.url));
const BATCH = 500;

const { values } = parseArgs({
  options: { records: { type: "string" }, partitions: { type: "string" }, only: { type: "string" } },
});
const RECORDS = Number(values.records ?? 1_000_000);
const PARTITIONS = Number(values.partitions ?? 16);
/** `id` or `position`: measure one way only. */
const ONLY = values.only;

const MONTH_START = Date.UTC(2026, 2, 1);
const MONTH_MS = 30 * 86_400_000;

function record(i: number): DecisionRecord {
  const r = (i * 2654435761) >>> 0; // a cheap, fixed scramble of i
  const pick = r % 10;
  const code: DecisionCode = pick < 6 ? "BLOCKED" : pick < 7 ? "SHADOW_MATCH" : "NO_ORDER";
  const jurisdiction = `J${r % 20}`;
  return {
    decisionId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
    at: new Date(MONTH_START + Math.floor((i / RECORDS) * MONTH_MS)).toISOString(),
    meetingId: `m${r % 10_000}`,
    decision: code === "BLOCKED" ? "deny" : "allow",
    code,
    orderIds: code === "NO_ORDER" ? [] : [`ord_${r % 50}`],
    jurisdiction,
    country: jurisdiction,
    subdivision: null,
    ipPrefix: "49.32.10.0/24",
    ipHash: (r % 100_000).toString(16).padStart(64, "0"),
    rulesetVersion: 3,
    geoSource: "mmdb",
    geoDbVersion: "bench",
  };
}

interface BenchRedis {
  client: RedisClient;
  version: string;
  stop(): Promise<void>;
}

async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
    ],
    { stdio: "ignore" },
  );
  const client = createRedis(`redis://127.0.0.1:${port}`, { name: "bench", commandTimeoutMs: 60_000 });
  client.on("error", () => undefined);
  await new Promise((done) => client.once("ready", done));
  const info = await client.info("server");
  return {
    client,
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? "?",
    async stop() {
      client.disconnect();
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}

async function usedMemory(redis: RedisClient): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1]);
}

/** XADDs every record to its stream (the legacy one, or its partition's); the entry ids, by record. */
async function ship(redis: RedisClient, keys: RedisKeys, byPosition: boolean): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < RECORDS; start += 10_000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(RECORDS, start + 10_000); i++) {
      const r = record(i);
      const stream = byPosition
        ? (keys.partitions[partitionOf(r.decisionId, keys.partitions.length)] as RedisKeys["legacy"]).stream
        : keys.legacy.stream;
      pipeline.xadd(stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    }
    for (const [err, id] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      ids.push(id as string);
    }
  }
  return ids;
}

interface Measure {
  way: string;
  storeRecordsPerSec: number;
  catchUpRecordsPerSec: number;
  streamBytes: number;
  aggregateBytes: number;
  aggregateBytesPerRecord: number;
  largestKey: { key: string; size: number };
}

async function measure(byPosition: boolean): Promise<Measure & { version: string }> {
  const way = byPosition ? `by position (${PARTITIONS} partitions)` : "by decisionId (seen sets)";
  const server = await startRedis();
  const redis = server.client;
  try {
    // 1. The store's script alone.
    const keys = redisKeys("store", { partitions: PARTITIONS });
    const before = await usedMemory(redis);
    const ids = await ship(redis, keys, byPosition);
    const withStream = await usedMemory(redis);
    const store = new RedisAggregateStore(redis, keys);
    const t0 = performance.now();
    if (byPosition) {
      // Batches per partition in stream order, as the runner hands them over.
      const pending = keys.partitions.map(() => [] as { id: string; record: DecisionRecord }[]);
      for (let i = 0; i < RECORDS; i++) {
        const r = record(i);
        const p = partitionOf(r.decisionId, PARTITIONS);
        const batch = pending[p] as { id: string; record: DecisionRecord }[];
        batch.push({ id: ids[i] as string, record: r });
        if (batch.length === BATCH) {
          await store.applyEntries(p, batch);
          pending[p] = [];
        }
      }
      for (const [p, batch] of pending.entries()) if (batch.length > 0) await store.applyEntries(p, batch);
    } else {
      for (let start = 0; start < RECORDS; start += BATCH) {
        const batch: DecisionRecord[] = [];
        for (let i = start; i < Math.min(RECORDS, start + BATCH); i++) batch.push(record(i));
        await store.apply(batch, undefined);
      }
    }
    const storeSeconds = (performance.now() - t0) / 1000;
    const counted = await usedMemory(redis);
    const largestKey = await largest(
      redis,
      byPosition ? keys.partitions.map((p) => p.stream) : [keys.legacy.stream],
    );
    const [month] = await store.months(["2026-03"]);
    if (month?.records !== RECORDS) throw new Error(`${way}: counted ${month?.records} of ${RECORDS}`);
    await redis.flushall();

    // 2. The catch-up end to end, on a fresh dataset.
    const runKeys = redisKeys("run", { partitions: PARTITIONS });
    await ship(redis, runKeys, byPosition);
    if (!byPosition) await redis.xgroup("CREATE", runKeys.legacy.stream, runKeys.reportGroup, "0");
    const runStore = new RedisAggregateStore(redis, runKeys);
    const t1 = performance.now();
    const run = await runFromStream(redis, runKeys, runStore, { consumer: "bench", batch: BATCH });
    const runSeconds = (performance.now() - t1) / 1000;
    if (run.applied !== RECORDS) throw new Error(`${way}: the catch-up counted ${run.applied} of ${RECORDS}`);

    return {
      way,
      version: server.version,
      storeRecordsPerSec: Math.round(RECORDS / storeSeconds),
      catchUpRecordsPerSec: Math.round(RECORDS / runSeconds),
      streamBytes: withStream - before,
      aggregateBytes: counted - withStream,
      aggregateBytesPerRecord: Math.round(((counted - withStream) / RECORDS) * 10) / 10,
      largestKey,
    };
  } finally {
    await server.stop();
  }
}

/** The key with the most members, fields or entries, streams left out. */
async function largest(
  redis: RedisClient,
  streams: readonly string[],
): Promise<{ key: string; size: number }> {
  const skip = new Set(streams);
  let best = { key: "", size: 0 };
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      if (skip.has(key)) continue;
      const type = await redis.type(key);
      const size = type === "set" ? await redis.scard(key) : type === "hash" ? await redis.hlen(key) : 1;
      if (size > best.size) best = { key, size };
    }
  } while (cursor !== "0");
  return best;
}

const results = [];
for (const byPosition of [false, true].filter((p) => ONLY === undefined || (ONLY === "position") === p)) {
  const m = await measure(byPosition);
  results.push(m);
  process.stderr.write(`${m.way}: done\n`);
}
const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
process.stdout.write(
  `${table([
    ["way", "store rec/s", "catch-up rec/s", "stream", "aggregates", "B/record", "largest other key"],
    ...results.map((m) => [
      m.way,
      String(m.storeRecordsPerSec),
      String(m.catchUpRecordsPerSec),
      mb(m.streamBytes),
      mb(m.aggregateBytes),
      String(m.aggregateBytesPerRecord),
      `${m.largestKey.size} (${m.largestKey.key})`,
    ]),
  ])}\n${RECORDS} records, redis ${results[0]?.version}. ${machineNote()}\n`,
);
writeJson(RESULTS, { records: RECORDS, partitions: PARTITIONS, batch: BATCH, results, note: machineNote() });
