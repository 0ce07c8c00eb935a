/**
 * DESIGN: Redis must persist (AOF). Cordon asks on every (re)connection and says so loudly when it does
 * not, since a restart of such a Redis loses the orders, their audit chain and the console sessions.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPersistence, watchPersistence } from "../../src/platform/node/redis.js";
import { type LogLine, recordingLogger } from "../support/logs.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

describe("Redis persistence at start", () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await server.close();
  });

  it("is quiet about a Redis with AOF on, and logs an error for one with AOF off", async () => {
    const lines: LogLine[] = [];
    const { logger } = recordingLogger(lines);
    expect(await checkPersistence(admin, logger)).toBe(true);
    expect(lines).toEqual([]);

    await admin.config("SET", "appendonly", "no");
    try {
      expect(await checkPersistence(admin, logger)).toBe(false);
      expect(lines).toEqual([
        expect.objectContaining({ level: "error", message: "Redis does not persist: AOF is off" }),
      ]);
    } finally {
      await admin.config("SET", "appendonly", "yes");
    }
  });

  it("asks again on every connection, so a Redis restarted without AOF is seen", async () => {
    await admin.config("SET", "appendonly", "no");
    const lines: LogLine[] = [];
    const client = new Redis(server.url);
    client.on("error", () => undefined);
    try {
      watchPersistence(client, recordingLogger(lines).logger);
      await waitFor(
        () => lines.some((l) => l.message === "Redis does not persist: AOF is off"),
        "the AOF error on connecting",
      );
    } finally {
      client.disconnect();
      await admin.config("SET", "appendonly", "yes");
    }
  });

  it("warns, without failing, when Redis cannot be asked", async () => {
    const lines: LogLine[] = [];
    const closed = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false });
    closed.on("error", () => undefined);
    expect(await checkPersistence(closed, recordingLogger(lines).logger)).toBeUndefined();
    expect(lines[0]).toMatchObject({ level: "warn" });
  });
});
