/**
 * RedisOrderStore on a Redis Cluster (REDIS_URL redis-cluster://...), through ioredis' Cluster client:
 * the OrderStore contract and the instances-sharing expectations of a single Redis, then what only a
 * cluster has: the orders' shard losing its master under load, a replica taking over with every
 * acknowledged change (each one waited for its replica's acknowledgement).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../src/kernel/errors.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import type { AuditEntry } from "../../src/store/interface.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { RedisOrderStore } from "../../src/store/redis/order-store.js";
import { type LogLine, recordingLogger } from "../support/logs.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import {
  approve,
  type Backend,
  create,
  describeInstancesSharingRedis,
  describeOrderStoreContract,
  expectConsistent,
  range,
} from "./order-store-contract.js";

// One cluster for the whole file; every test gets a key prefix (and so a hash tag, a slot) of its own.
let cluster: RedisCluster;
let prefixes = 0;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(() => cluster?.close());

function clusterBackend(): Backend {
  let prefix = "";
  return {
    name: "RedisOrderStore on Redis Cluster",
    async fresh() {
      prefix = `ccontract${++prefixes}`;
    },
    open: () => RedisOrderStore.open(cluster.url, { prefix, logger: SILENT_LOGGER }),
    writerArgs: () => ["redis", cluster.url, prefix],
    async cleanup() {},
  };
}

describeOrderStoreContract(clusterBackend());
describeInstancesSharingRedis(
  "RedisOrderStore on Redis Cluster: instances sharing it",
  "cshared",
  async () => cluster.url,
);

describe("RedisOrderStore on Redis Cluster: a master that fails", () => {
  const opened: RedisOrderStore[] = [];
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((s) => s.close()));
    for (const node of cluster.nodes) if (!cluster.running(node)) await cluster.restart(node);
  });

  it("waits for the replica of the shard that holds the orders before it answers", async () => {
    const prefix = `creplica${++prefixes}`;
    const lines: LogLine[] = [];
    const store = await RedisOrderStore.open(cluster.url, { prefix, logger: recordingLogger(lines).logger });
    opened.push(store);
    await create(store, "ord_1");
    const master = await cluster.masterFor(redisKeys(prefix).head);
    const [replica] = await cluster.replicasOf(master);
    // No waiting here: the replica held the change before applyChange resolved.
    expect(
      await cluster.command(
        replica as NonNullable<typeof replica>,
        "HEXISTS",
        redisKeys(prefix).orders,
        "ord_1",
      ),
    ).toBe(1);
    expect(lines.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("keeps every acknowledged change when the master of the orders' slot is killed mid-load, and goes on on the promoted replica", async () => {
    const prefix = `cfailover${++prefixes}`;
    const open = async () => {
      const store = await RedisOrderStore.open(cluster.url, { prefix, logger: SILENT_LOGGER });
      opened.push(store);
      return store;
    };
    const [a, b] = [await open(), await open()];
    const acked: AuditEntry[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const loop = async (store: RedisOrderStore, name: string) => {
      for (let n = 0; !stop; n++) {
        try {
          acked.push(await create(store, `ord_${name}_${n}`));
          acked.push(await approve(store, `ord_${name}_${n}`, "bob"));
        } catch (err) {
          failures.push(err);
          return;
        }
      }
    };
    const loops = [a, b].flatMap((store, s) => range(0, 3).map((w) => loop(store, `${s}_${w}`)));
    await expect.poll(() => acked.length >= 60, { timeout: 20_000, interval: 5 }).toBe(true);
    const master = await cluster.masterFor(redisKeys(prefix).head);
    await cluster.kill(master);
    const promoted = await cluster.waitForFailover(master);
    stop = true;
    await Promise.all(loops);
    for (const err of failures) expect(err).toBeInstanceOf(StoreUnavailableError);

    // A new instance finds every acknowledged change on the promoted replica, and the chain goes on.
    const again = await open();
    expect((await cluster.masterFor(redisKeys(prefix).head)).port).toBe(promoted.port);
    const audit = await expectConsistent(again);
    for (const entry of acked) expect(audit[entry.seq - 1]).toEqual(entry);
    await expect(create(again, "ord_after")).resolves.toMatchObject({ seq: audit.length + 1 });
    // And the instances that were running when it failed write again, without a restart.
    await expect
      .poll(
        () =>
          create(a, `ord_a_${Date.now()}`).then(
            () => true,
            () => false,
          ),
        { timeout: 10_000 },
      )
      .toBe(true);
    expect(await again.verify()).toMatchObject({ ok: true });
  }, 60_000);
});
