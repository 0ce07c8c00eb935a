/**
 * The would-be impact read from the Redis streams (Redis mode's decision log, as every instance writes
 * it) against a real redis-server: the same count as from the embedded log, over three partitions, and
 * read on incrementally with the streams' cursor.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { createLogger } from "../../src/kernel/logger.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { type ImpactScope, ImpactService, scopeKey } from "../../src/service/impact.js";
import { SegmentLog } from "../../src/store/file/segment-log.js";
import { RedisDecisionLog } from "../../src/store/redis/decision-log.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { SHIPPER_REDIS_OVERRIDES, StreamShipper } from "../../src/store/redis/shipper/stream-shipper.js";
import { decisionRecord, T0 } from "../support/fixtures.js";
import { type RedisServer, startRedis } from "../support/redis.js";

const DAY = 86_400_000;
let server: RedisServer;
let dir: string;
const clients: RedisClient[] = [];
const logger = createLogger("error", () => undefined);

beforeAll(async () => {
  server = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "cordon-impact-"));
}, 30_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function client(name: string, overrides: Record<string, unknown> = {}): RedisClient {
  const redis = createRedis(server.url, { name, overrides });
  redis.on("error", () => undefined);
  clients.push(redis);
  return redis;
}

const allowed = (at: number, o: Partial<DecisionRecord> = {}): DecisionRecord =>
  decisionRecord({
    at: new Date(at).toISOString(),
    meetingId: "m1",
    decision: "allow",
    code: "NO_ORDER",
    orderIds: [],
    jurisdiction: null,
    ...o,
  });

describe("the impact over the Redis streams", () => {
  it("counts what the embedded log would, across partitions, and reads on from its cursor", async () => {
    const keys = redisKeys("impact", { partitions: 3 });
    const outbox = await SegmentLog.open(join(dir, "outbox"), { logger });
    const shipper = await StreamShipper.start({
      outbox,
      redis: client("shipper", SHIPPER_REDIS_OVERRIDES),
      keys,
      dataDir: join(dir, "outbox"),
      batchSize: 200,
      intervalMs: 20,
      maxBackoffMs: 200,
      logger,
    });
    const reader = client("reader");
    await expect.poll(() => reader.status, { timeout: 5_000 }).toBe("ready");
    const log = new RedisDecisionLog({ outbox, redis: reader, keys, shipper });
    try {
      const scope: ImpactScope = {
        target: { kind: "meeting", meetingIds: ["m1"] },
        jurisdictions: ["IN-MH"],
      };
      const records = [
        ...Array.from({ length: 1500 }, (_, i) => allowed(T0 - DAY + i)),
        allowed(T0 - 40 * DAY),
        allowed(T0, { subdivision: "IN-KA" }),
        allowed(T0, { decision: "deny", code: "BLOCKED" }),
        allowed(T0, { meetingId: "m2" }),
      ];
      await log.append(records);
      expect(await shipper.drain(10_000)).toBe(true);
      const clock = { now: T0 };
      const service = new ImpactService({ log, clock: () => clock.now });
      expect((await service.impacts([scope])).get(scopeKey(scope))).toMatchObject({
        joins: 1500,
        complete: true,
      });

      await log.append([allowed(T0 + 1000), allowed(T0 + 2000, { meetingId: "m2" })]);
      expect(await shipper.drain(10_000)).toBe(true);
      clock.now += 61_000;
      expect((await service.impacts([scope])).get(scopeKey(scope))?.joins).toBe(1501);
    } finally {
      await shipper.stop(500);
      await outbox.close();
    }
  }, 60_000);
});
