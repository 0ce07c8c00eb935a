/**
 * The console session store contract (session-store-contract.ts) on the in-memory store, the data
 * directory's file (embedded mode) and a real redis-server.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { MemorySessionStore } from "../../src/console/session.js";
import { FileSessionStore } from "../../src/store/file/session-store.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { RedisSessionStore } from "../../src/store/redis/session-store.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { describeSessionStoreContract } from "./session-store-contract.js";

let redis: RedisServer;
let client: Redis;
let run = 0;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
}, 30_000);

afterAll(async () => {
  client.disconnect();
  await redis.close();
});

describeSessionStoreContract("in memory", (clock, opts) => new MemorySessionStore(clock, opts));
describeSessionStoreContract(
  "in the data directory",
  (clock, opts) =>
    new FileSessionStore(join(mkdtempSync(join(tmpdir(), "cordon-sessions-")), "sessions.json"), {
      clock,
      ...opts,
    }),
);
describeSessionStoreContract(
  "in Redis",
  (clock, opts) =>
    new RedisSessionStore({ redis: client, keys: redisKeys(`contract-${++run}`).sessions, clock, ...opts }),
);
