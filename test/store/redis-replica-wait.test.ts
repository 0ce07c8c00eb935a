/**
 * DESIGN: order changes wait for a replica's acknowledgement when replicas exist (WAIT), so a failover
 * right after the answer does not lose an approval. A real primary and a real replica.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrder, OrderInput } from "../../src/engine/index.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { RedisOrderStore } from "../../src/store/redis/order-store.js";
import { COURT, orderInput } from "../support/fixtures.js";
import { type LogLine, recordingLogger } from "../support/logs.js";
import { freePort, type RedisServer, startRedis } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

const AT = "2026-03-01T10:00:00.000Z";
const input = OrderInput.parse(orderInput({ authority: COURT, receivedAt: "2026-01-01T00:00:00Z" }));
const create = (store: RedisOrderStore, id: string) =>
  store.applyChange(id, "create", "responder", AT, () =>
    createOrder(input, { id, actor: "responder", at: AT }),
  );

describe("order changes with a replica", () => {
  let primary: RedisServer;
  let replica: ChildProcess;
  let replicaDir: string;
  let replicaClient: Redis;
  beforeAll(async () => {
    primary = await startRedis();
    const port = await freePort();
    replicaDir = await mkdtemp(join(tmpdir(), "cordon-replica-"));
    replica = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        replicaDir,
        "--replicaof",
        "127.0.0.1",
        String(primary.port),
      ],
      { stdio: "ignore" },
    );
    replicaClient = new Redis(port, "127.0.0.1", { lazyConnect: true });
    replicaClient.on("error", () => undefined);
    await waitFor(
      async () => {
        if (replicaClient.status !== "ready") await replicaClient.connect().catch(() => undefined);
        return /master_link_status:up/.test(await replicaClient.info("replication"));
      },
      "the replica in sync",
      10_000,
    );
  });
  afterAll(async () => {
    replicaClient.disconnect();
    replica.kill("SIGKILL");
    await primary.close();
    await rm(replicaDir, { recursive: true, force: true });
  });

  it("answers a change once the replica holds it", async () => {
    // A generous wait: on a loaded machine the replica may take longer than the default 500 ms, and
    // this test is about the answer coming after the replica's acknowledgement, not about its speed.
    const store = await RedisOrderStore.open(primary.url, { prefix: "wait1", replicaWaitMs: 5000 });
    try {
      await create(store, "ord_w1");
      // No waiting here: the change was acknowledged by the replica before applyChange resolved.
      expect(await replicaClient.hexists(redisKeys("wait1").orders, "ord_w1")).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("waits for a replica that does not answer, then says so (the change stays committed)", async () => {
    const lines: LogLine[] = [];
    const store = await RedisOrderStore.open(primary.url, {
      prefix: "wait2",
      logger: recordingLogger(lines).logger,
      replicaWaitMs: 200,
    });
    replica.kill("SIGSTOP");
    try {
      const entry = await create(store, "ord_w2");
      expect(entry.seq).toBe(1);
      expect(lines).toContainEqual(
        expect.objectContaining({ level: "warn", message: "order change not yet acknowledged by a replica" }),
      );
    } finally {
      replica.kill("SIGCONT");
      await store.close();
    }
  });
});
