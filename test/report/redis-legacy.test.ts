/**
 * The report's aggregates over Redis as Cordon 0.1.0 left it (test/fixtures/redis-0.1.0/aof: the single
 * decision stream, its report group and its aggregates with per-month seen sets), without a server: the
 * legacy aggregates keep their numbers, the legacy stream is read to its end by the same group, new
 * records are counted in their partitions (by position, no seen set) and every read merges both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { RedisAggregateStore } from "../../src/store/redis/aggregate-store.js";
import { type PartitionKeys, partitionOf, redisKeys } from "../../src/store/redis/keys.js";
import { runFromStream } from "../../src/store/redis/report-reader.js";
import { decisionRecord } from "../support/fixtures.js";
import { freePort } from "../support/redis.js";

const FIXTURE = new URL("../fixtures/redis-0.1.0/aof/", import.meta.url);
const MONTH = "2026-12";

let dir: string;
let server: ChildProcess;
let redis: RedisClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-redis-legacy-"));
  await cp(FIXTURE, join(dir, "aof-0"), { recursive: true });
  const port = await freePort();
  server = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes"].concat([
      "--appenddirname",
      "aof-0",
      "--save",
      "",
      "--loglevel",
      "warning",
    ]),
    { stdio: "ignore" },
  );
  redis = createRedis(`redis://127.0.0.1:${port}`, { name: "legacy-test", commandTimeoutMs: 10_000 });
  redis.on("error", () => undefined);
  await new Promise((done) => redis.once("ready", done));
});

afterAll(async () => {
  redis?.disconnect();
  if (server && server.exitCode === null) {
    const exited = once(server, "exit");
    server.kill("SIGKILL");
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

describe("Redis aggregates as 0.1.0 left them", () => {
  it("keep their numbers, take new records into partitions, and merge both in every read", async () => {
    const keys = redisKeys("cordon", { partitions: 16 });
    const store = new RedisAggregateStore(redis, keys);
    const legacyLength = await redis.xlen(keys.legacy.stream);
    const seen = await redis.scard(keys.legacy.report.seen(MONTH));
    expect(legacyLength).toBeGreaterThan(0);
    const [before] = await store.months([MONTH]);
    expect(before?.records).toBe(seen);
    const ordersBefore = Object.keys(before?.byOrder ?? {});
    expect(ordersBefore.length).toBeGreaterThan(0);
    const order = ordersBefore[0] as string;
    const totalsBefore = await store.orderTotals(order);

    // 0.1.0 counted and acknowledged its stream: reading it again counts nothing.
    const first = await runFromStream(redis, keys, store, { consumer: "report-cli" });
    expect(first).toMatchObject({ applied: 0, malformed: [], missing: 0 });
    expect((await store.months([MONTH]))[0]).toEqual(before);

    // New records, as this version's shipper writes them: each to its partition's stream.
    const fresh: DecisionRecord[] = Array.from({ length: 40 }, (_, i) =>
      decisionRecord({
        decisionId: `new-${i}`,
        at: `${MONTH}-2${i % 8}T10:00:00.000Z`,
        orderIds: [order],
        jurisdiction: "RU",
        country: "RU",
        subdivision: null,
        meetingId: `new-meeting-${i % 3}`,
        ipHash: `${i % 5}`.repeat(64),
      }),
    );
    for (const r of fresh) {
      const p = keys.partitions[partitionOf(r.decisionId, 16)] as PartitionKeys;
      await redis.xadd(p.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    }
    const second = await runFromStream(redis, keys, store, { consumer: "report-cli" });
    expect(second).toMatchObject({ applied: 40, duplicates: 0 });

    const [after] = await store.months([MONTH]);
    expect(after?.records).toBe(seen + 40);
    expect(after?.byOrder[order]?.deniedJoins).toBe((before?.byOrder[order]?.deniedJoins ?? 0) + 40);
    const meetings = new Set([
      ...(before?.byJurisdiction.RU?.meetings ?? []),
      "new-meeting-0",
      "new-meeting-1",
      "new-meeting-2",
    ]);
    expect(after?.byJurisdiction.RU?.meetings).toEqual([...meetings].sort());
    expect(await store.orderTotals(order)).toEqual({
      deniedJoins: totalsBefore.deniedJoins + 40,
      shadowMatches: totalsBefore.shadowMatches,
    });

    // The legacy stream and seen set as they were; the partitions remember positions, not ids.
    expect(await redis.xlen(keys.legacy.stream)).toBe(legacyLength);
    expect(await redis.scard(keys.legacy.report.seen(MONTH))).toBe(seen);
    for (const p of keys.partitions) expect(await redis.exists(p.report.seen(MONTH))).toBe(0);

    // Finalizing lists the month's records from both: the legacy seen set and the partitions' streams.
    await store.freeze([MONTH]);
    const counted = await store.counted(MONTH);
    expect(counted.records).toHaveLength(seen + 40);
    expect(counted.records).toEqual(expect.arrayContaining(fresh.map((r) => r.decisionId)));
  });
});
