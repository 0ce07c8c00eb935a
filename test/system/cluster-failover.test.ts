/**
 * A master of a real Redis Cluster killed under load (three masters with a replica each): every check
 * answered is counted exactly once after the replica takes over. Checks keep being answered throughout
 * (they write only the local outbox); the shipper notices that the promoted replica lacks what the old
 * master acknowledged last and re-ships that from the outbox; the report, aggregated by stream position
 * per partition, counts each record once.
 *
 * To make the loss certain rather than a matter of timing, the replica is cut off from its master and
 * paused (SIGSTOP) a moment before the master is killed: what the master acknowledged meanwhile never
 * reaches it, as when a master dies before its replica received its last writes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { createLogger } from "../../src/kernel/logger.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { SegmentLog } from "../../src/store/file/segment-log.js";
import { RedisAggregateStore } from "../../src/store/redis/aggregate-store.js";
import { RedisDecisionLog } from "../../src/store/redis/decision-log.js";
import { partitionOf, redisKeys } from "../../src/store/redis/keys.js";
import { runFromStream } from "../../src/store/redis/report-reader.js";
import { SHIPPER_REDIS_OVERRIDES } from "../../src/store/redis/shipper/stream-shipper.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";

let cluster: RedisCluster;
let dir: string;
const clients: RedisClient[] = [];
const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
const logger = createLogger("info", ({ level, message, fields }) => logs.push({ level, message, fields }));

beforeAll(async () => {
  cluster = await startRedisCluster();
  dir = await mkdtemp(join(tmpdir(), "cordon-failover-"));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.close();
  await rm(dir, { recursive: true, force: true });
});

function client(name: string, overrides: Record<string, unknown> = {}): RedisClient {
  const redis = createRedis(cluster.url, { name, commandTimeoutMs: 2000, overrides });
  redis.on("error", () => undefined);
  clients.push(redis);
  return redis;
}

let n = 0;
function record(): DecisionRecord {
  const i = n++;
  return {
    decisionId: crypto.randomUUID(),
    at: new Date().toISOString(),
    meetingId: "81234567890",
    decision: i % 5 === 0 ? "deny" : "allow",
    code: i % 5 === 0 ? "BLOCKED" : "NO_ORDER",
    orderIds: i % 5 === 0 ? ["ord_1"] : [],
    jurisdiction: i % 5 === 0 ? "IN-MH" : null,
    country: "IN",
    subdivision: "IN-MH",
    ipPrefix: "49.32.10.0/24",
    ipHash: (i % 97).toString(16).padStart(2, "0").repeat(32),
    rulesetVersion: 2,
    geoSource: "mmdb",
    geoDbVersion: "GeoIP2-City@2026-11-24",
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a Redis Cluster master killed under load", () => {
  it("counts every answered check exactly once after the replica takes over", async () => {
    const keys = redisKeys("fo", { partitions: 6 });
    const outbox = await SegmentLog.open(join(dir, "outbox"), { logger });
    const log = await RedisDecisionLog.start({
      outbox,
      redis: client("commands"),
      shipperRedis: client("shipper", SHIPPER_REDIS_OVERRIDES),
      keys,
      dataDir: join(dir, "outbox"),
      logger,
      shipper: { batchSize: 50, intervalMs: 10, maxBackoffMs: 200 },
      trimIntervalMs: 0,
    });

    // Checks: each answered once its record is in the outbox.
    const answered: string[] = [];
    let stop = false;
    let slowestMs = 0;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) {
          const batch = [record(), record()];
          const started = performance.now();
          await log.append(batch);
          slowestMs = Math.max(slowestMs, performance.now() - started);
          answered.push(...batch.map((r) => r.decisionId));
          await sleep(2);
        }
      }),
    );

    await sleep(2500); // load, and marks of the shipper's progress
    // The master of partition 0's shard; its replica falls behind, then the master dies.
    const victim = await cluster.masterFor((keys.partitions[0] as { stream: string }).stream);
    const [replica] = await cluster.replicasOf(victim);
    expect(replica).toBeDefined();
    const follower = replica as NonNullable<typeof replica>;
    // Cut the replication link and freeze the replica before it reconnects (it retries once a second);
    // the master must then show no replica, else try again.
    for (let attempt = 1; ; attempt++) {
      await cluster.command(follower, "CLIENT", "KILL", "TYPE", "master");
      cluster.pause(follower);
      const info = String(await cluster.command(victim, "INFO", "replication"));
      if (/^connected_slaves:0/m.test(info)) break;
      cluster.resume(follower);
      if (attempt >= 10) throw new Error("the replica kept its replication link");
      await sleep(50);
    }
    await sleep(400); // acknowledged by the master, never replicated
    await cluster.kill(victim);
    cluster.resume(follower);
    const promoted = await cluster.waitForFailover(victim, 30_000);
    expect(promoted.port).toBe(follower.port);
    await sleep(1500); // checks go on against the new topology
    stop = true;
    await load;
    expect(await log.shipper?.drain(30_000)).toBe(true);

    // The shipper saw that a partition lost what it acknowledged, and re-shipped it.
    const repairs = logs.filter((l) => /re-shipped what a partition lost/.test(l.message));
    expect(repairs.length).toBeGreaterThan(0);
    expect(repairs.reduce((sum, l) => sum + Number(l.fields?.resent), 0)).toBeGreaterThan(0);

    // Every stream holds each record once, in its partition.
    const redis = client("check");
    await expect.poll(() => redis.status, { timeout: 10_000 }).toBe("ready");
    const inStreams: string[] = [];
    for (const p of keys.partitions) {
      let from = "-";
      for (;;) {
        const page = (await redis.xrange(p.stream, from, "+", "COUNT", 1000)) as [string, string[]][];
        for (const [, fields] of page) {
          const id = fields[fields.indexOf("id") + 1] as string;
          expect(partitionOf(id, 6)).toBe(p.index);
          inStreams.push(id);
        }
        if (page.length < 1000) break;
        from = `(${(page[page.length - 1] as [string, string[]])[0]}`;
      }
    }
    expect(inStreams.filter((id, i) => inStreams.indexOf(id) !== i)).toEqual([]);
    expect(new Set(inStreams)).toEqual(new Set(answered));

    // The report counts each answered check once.
    const aggregates = new RedisAggregateStore(redis, keys);
    await runFromStream(redis, keys, aggregates, { consumer: "failover-test", logger });
    const months = await aggregates.allMonths();
    const counted = (await aggregates.months(months)).reduce((sum, m) => sum + m.records, 0);
    expect(counted).toBe(answered.length);
    // A check never waited on the cluster: appends touch only the outbox.
    expect(slowestMs).toBeLessThan(1000);

    await log.close();
    await outbox.close();
  }, 120_000);
});
