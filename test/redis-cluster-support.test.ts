/**
 * The test Redis Cluster itself: three masters with a replica each, formed and whole; a key's master is
 * the one that answers for it; a killed master's replica takes over; a restarted node rejoins; and the
 * whole cluster keeps acknowledged data across a kill of every node.
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createRedis } from "../src/platform/node/redis.js";
import { type RedisCluster, startRedisCluster } from "./support/redis-cluster.js";

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(() => cluster?.close());

const client = () => {
  const redis = createRedis(cluster.url, {
    name: "support-test",
    overrides: { enableOfflineQueue: true, maxRetriesPerRequest: 20 },
  });
  redis.on("error", () => undefined);
  return redis;
};

it("forms three masters with one replica each, serving every slot", async () => {
  // Every node's view agrees once gossip has gone round: three masters, one replica each.
  await expect
    .poll(
      async () => {
        const masters = (await cluster.roles()).filter((n) => n.role === "master");
        const replicas = await Promise.all(masters.map((m) => cluster.replicasOf(m)));
        return [masters.length, ...replicas.map((r) => r.length)];
      },
      { timeout: 15_000, interval: 100 },
    )
    .toEqual([3, 1, 1, 1]);
  const nodes = await cluster.roles();
  expect(cluster.url).toMatch(/^redis-cluster:\/\/127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){5}$/);
  for (const node of nodes) {
    expect(String(await cluster.command(node, "CONFIG", "GET", "appendonly"))).toContain("yes");
  }
});

it("names the master that holds a key, and keys of one hash tag share it", async () => {
  const redis = client();
  try {
    expect(redis).toBeInstanceOf(Cluster);
    const owners = new Set<number>();
    for (const key of ["a", "b", "c", "d", "e", "f", "g", "h"]) {
      await redis.set(key, key);
      const master = await cluster.masterFor(key);
      owners.add(master.port);
      // The master itself holds it (no MOVED from a plain connection to it).
      expect(await cluster.command(master, "GET", key)).toBe(key);
    }
    expect(owners.size).toBeGreaterThan(1);
    expect((await cluster.masterFor("x:{tag}:1")).port).toBe((await cluster.masterFor("y:{tag}:2")).port);
  } finally {
    redis.disconnect();
  }
});

it("promotes the replica of a killed master within seconds, keeping what was replicated, and takes the old master back as a replica", async () => {
  const redis = client();
  try {
    const key = "failover:{one}";
    await redis.set(key, "kept");
    const master = await cluster.masterFor(key);
    const [replica] = await cluster.replicasOf(master);
    expect(await cluster.command(master, "WAIT", 1, 1000)).toBe(1);

    await cluster.kill(master);
    expect(cluster.running(master)).toBe(false);
    // Redis' own election, never forced here (the other files' helper may force it under load).
    const promoted = await cluster.waitForFailover(master, 15_000, { takeover: false });
    expect(promoted.port).toBe(replica?.port);
    expect((await cluster.masterFor(key)).port).toBe(promoted.port);
    expect(await redis.get(key)).toBe("kept");

    await cluster.restart(master);
    expect(cluster.running(master)).toBe(true);
    // It rejoins as a master of nothing until the cluster's gossip tells it who took over.
    await expect
      .poll(async () => (await cluster.roles()).find((n) => n.port === master.port)?.role, {
        timeout: 15_000,
        interval: 100,
      })
      .toBe("replica");
    expect((await cluster.roles()).filter((n) => n.role === "master")).toHaveLength(3);
  } finally {
    redis.disconnect();
  }
}, 30_000);

it("keeps acknowledged data when every node is killed, and loses it when restarted fresh", async () => {
  const redis = client();
  try {
    await redis.set("whole:{w}", "v");
    await cluster.whole.kill();
    expect(cluster.whole.running()).toBe(false);
    await cluster.whole.start();
    expect(await redis.get("whole:{w}")).toBe("v");
    await cluster.whole.kill();
    await cluster.whole.start({ fresh: true });
    expect(await redis.get("whole:{w}")).toBeNull();
    expect(await cluster.masters()).toHaveLength(3);
  } finally {
    redis.disconnect();
  }
}, 30_000);
