/**
 * The Redis enforcement event store on a real Redis Cluster (three masters): the publish script runs on
 * the one slot of the low-volume hash tag, a publish computed from a moved state is refused there too,
 * what was published since a revision is read there, and one instance's follower (a blocking XREAD
 * through a Cluster client) wakes on another's publish.
 */
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compile, enforcedState, reconcile } from "../../src/engine/index.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import type { PublishBatch } from "../../src/store/enforcement-events.js";
import { FOLLOW_BLOCK_MS, RedisEnforcementEvents } from "../../src/store/redis/enforcement-events.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { iso, NOON } from "../support/fixtures.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { approved } from "../support/rulesets.js";
import { waitFor } from "../support/wait.js";

let cluster: RedisCluster;
const clients: RedisClient[] = [];

async function client(name: string, commandTimeoutMs?: number): Promise<RedisClient> {
  const redis = createRedis(cluster.url, {
    name,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
    overrides: { connectTimeout: 500 },
  });
  redis.on("error", () => undefined);
  clients.push(redis);
  await waitFor(
    () => redis.status === "ready" && (redis as Cluster).nodes("master").length > 0,
    "a Cluster client that is ready",
    20_000,
  );
  return redis;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.close();
});

async function store(name: string): Promise<RedisEnforcementEvents> {
  const keys = redisKeys("cl-events");
  return new RedisEnforcementEvents({
    redis: await client(`${name}-commands`),
    reader: await client(`${name}-reader`, FOLLOW_BLOCK_MS + 2000),
    keys: keys.enforcement,
    rulesetEpochKey: keys.rulesetEpoch,
    retentionMs: 86_400_000,
  });
}

async function batch(s: RedisEnforcementEvents, ids: string[], version: number): Promise<PublishBatch> {
  const ruleset = compile(
    ids.map((id) => approved(id, { target: { kind: "meeting", meetingIds: [`m-${id}`] } })),
    { version, compiledAt: iso(NOON), epoch: "e1" },
  );
  const published = await s.published();
  const { changes, events } = reconcile(published.orders, enforcedState(ruleset, NOON + version));
  return {
    rev: published.rev,
    epoch: "e1",
    version,
    at: NOON + version,
    changes,
    events: events.map((e) => ({ ...e, at: iso(NOON + version), rulesetVersion: version })),
  };
}

it("publishes once, refuses a moved state, and wakes the other instance's follower", async () => {
  const [a, b] = [await store("a"), await store("b")];
  let woken = 0;
  b.listen(() => woken++);
  // Let b's follower find the stream's end first.
  await new Promise((r) => setTimeout(r, 200));
  woken = 0;
  const fromA = await batch(a, ["o-1"], 1);
  const fromB = await batch(b, ["o-1"], 1);
  expect((await a.publish(fromA)).kind).toBe("published");
  expect(await b.publish(fromB)).toEqual({ kind: "conflict" });
  await waitFor(() => woken > 0, "b's follower woken by a's publish", 5000);
  const page = await b.read("0", 10);
  expect(page.events.map((e) => [e.type, e.orderId])).toEqual([["block-effective", "o-1"]]);
  // b reconciles again from what a published: nothing left to say.
  expect((await batch(b, ["o-1"], 1)).events).toEqual([]);
  // And b learns what a published without reading every order: the changes entry is on the same slot.
  const since = await b.changesSince({ rev: 0, epoch: null, version: -1, at: 0 });
  expect(since?.revision).toEqual({ rev: 1, epoch: "e1", version: 1, at: NOON + 1 });
  expect([...(since?.orders.keys() ?? [])]).toEqual(["o-1"]);
  await a.close();
  await b.close();
}, 60_000);
