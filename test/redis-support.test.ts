/** The test Redis itself: it starts, keeps acknowledged writes across a kill, and can lose them on purpose. */
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "./support/redis.js";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.close());

it("keeps acknowledged data across kill -9, and loses it when restarted fresh", async () => {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  await client.set("k", "v");
  client.disconnect();
  await redis.kill();
  expect(redis.running()).toBe(false);
  await redis.start();
  const again = new Redis(redis.url);
  expect(await again.get("k")).toBe("v");
  again.disconnect();
  await redis.kill();
  await redis.start({ fresh: true });
  const fresh = new Redis(redis.url);
  expect(await fresh.get("k")).toBeNull();
  fresh.disconnect();
});
