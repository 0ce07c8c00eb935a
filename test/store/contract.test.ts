/**
 * The OrderStore contract (orders and their hash-chained audit log, I7), one suite run against every
 * backend: FileStore in a temp directory and RedisOrderStore on a real redis-server spawned for this file.
 * Then what only Redis has: several instances sharing one chain, a Redis that dies or stalls, and the
 * checks of what is read back. The suite itself is in order-store-contract.ts (also run on a cluster).
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../src/kernel/errors.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { AuditChainError, type AuditEntry } from "../../src/store/interface.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { RedisOrderStore } from "../../src/store/redis/order-store.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import {
  approve,
  type Backend,
  create,
  describeInstancesSharingRedis,
  describeOrderStoreContract,
  expectConsistent,
  range,
  withdraw,
} from "./order-store-contract.js";

// One redis-server for the whole file, started by the first test that needs it; every test gets a key
// prefix of its own, so nothing carries over between tests.
let server: RedisServer | undefined;
let prefixes = 0;
async function redisServer(): Promise<RedisServer> {
  server ??= await startRedis();
  return server;
}
afterAll(async () => {
  await server?.close();
});

function fileBackend(): Backend {
  let dir = "";
  return {
    name: "FileStore",
    async fresh() {
      dir = await mkdtemp(join(tmpdir(), "cordon-contract-"));
    },
    open: () => FileStore.open(dir, { logger: SILENT_LOGGER }),
    writerArgs: () => ["file", dir],
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

function redisBackend(): Backend {
  let prefix = "";
  return {
    name: "RedisOrderStore",
    async fresh() {
      await redisServer();
      prefix = `contract${++prefixes}`;
    },
    open: async () => RedisOrderStore.open((await redisServer()).url, { prefix, logger: SILENT_LOGGER }),
    writerArgs: () => ["redis", (server as RedisServer).url, prefix],
    async cleanup() {},
  };
}

describeOrderStoreContract(fileBackend());
describeOrderStoreContract(redisBackend());
describeInstancesSharingRedis(
  "RedisOrderStore: instances sharing one Redis",
  "shared",
  async () => (await redisServer()).url,
);

describe("RedisOrderStore: a Redis that fails", () => {
  const opened: RedisOrderStore[] = [];
  let prefix = "";
  const open = async () => {
    const store = await RedisOrderStore.open((await redisServer()).url, { prefix, logger: SILENT_LOGGER });
    opened.push(store);
    return store;
  };
  /** How long a promise takes to settle, and how. */
  const timed = async (call: () => Promise<unknown>): Promise<{ error?: unknown; ms: number }> => {
    const started = performance.now();
    const error = await call().then(
      () => undefined,
      (err: unknown) => err,
    );
    return { error, ms: performance.now() - started };
  };

  beforeEach(async () => {
    await redisServer();
    prefix = `failing${++prefixes}`;
  });
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((s) => s.close()));
    // Whatever a test did to the server, the next one finds it running.
    server?.resume();
    if (server && !server.running()) await server.start();
  });

  it("rejects with StoreUnavailableError within 2 s while Redis is down, and works again once it is back", async () => {
    const store = await open();
    await create(store, "ord_1");
    await (server as RedisServer).kill();

    const calls = {
      applyChange: () => approve(store, "ord_1"),
      listOrders: () => store.listOrders(),
      getOrder: () => store.getOrder("ord_1"),
      readAudit: () => store.readAudit({}),
      head: () => store.head(),
    };
    for (const [name, call] of Object.entries(calls)) {
      const { error, ms } = await timed(call);
      expect(error, name).toBeInstanceOf(StoreUnavailableError);
      expect(ms, name).toBeLessThan(2_000);
    }

    // Same data back (AOF): the store reconnects by itself and the chain continues.
    await (server as RedisServer).start();
    await expect
      .poll(() => store.head().catch(() => undefined), { timeout: 10_000 })
      .toMatchObject({ seq: 1 });
    await expect(approve(store, "ord_1")).resolves.toMatchObject({ seq: 2 });
    expect(await store.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it("rejects with StoreUnavailableError within 2 s while Redis stalls, and stays consistent", async () => {
    const store = await open();
    await create(store, "ord_1");
    (server as RedisServer).pause();
    const read = await timed(() => store.listOrders());
    const write = await timed(() => approve(store, "ord_1"));
    (server as RedisServer).resume();

    for (const { error, ms } of [read, write]) {
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(ms).toBeLessThan(2_000);
    }
    // The timed-out write was sent and may have run once Redis resumed: either way, one consistent chain.
    await expect.poll(() => store.head().catch(() => undefined), { timeout: 10_000 }).toBeDefined();
    expect((await store.verify()).ok).toBe(true);
    expect([1, 2]).toContain((await store.head()).seq);
  });

  it("refuses to open without Redis, with StoreUnavailableError", async () => {
    await (server as RedisServer).kill();
    const { error, ms } = await timed(() =>
      RedisOrderStore.open((server as RedisServer).url, {
        prefix,
        logger: SILENT_LOGGER,
        connectTimeoutMs: 500,
      }),
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(ms).toBeLessThan(2_000);
  });

  it("keeps every acknowledged change when redis-server itself is killed mid-load", async () => {
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
    await expect.poll(() => acked.length >= 100, { timeout: 20_000, interval: 5 }).toBe(true);
    await (server as RedisServer).kill();
    stop = true;
    await Promise.all(loops);
    expect(failures.length).toBeGreaterThan(0);
    for (const err of failures) expect(err).toBeInstanceOf(StoreUnavailableError);

    await (server as RedisServer).start();
    const again = await open();
    const audit = await expectConsistent(again);
    for (const entry of acked) expect(audit[entry.seq - 1]).toEqual(entry);
    expect(await again.verify()).toMatchObject({ ok: true, count: audit.length });
  });
});

describe("RedisOrderStore: what it reads back is checked", () => {
  const opened: RedisOrderStore[] = [];
  let prefix = "";
  let raw: Redis;
  const open = async () => {
    const store = await RedisOrderStore.open((await redisServer()).url, { prefix, logger: SILENT_LOGGER });
    opened.push(store);
    return store;
  };
  const keys = () => redisKeys(prefix);
  /** Three orders, five entries, and the store closed: ready to be tampered with. */
  const seeded = async () => {
    const store = await open();
    await create(store, "ord_1");
    await create(store, "ord_2");
    await approve(store, "ord_1");
    await create(store, "ord_3");
    await withdraw(store, "ord_2");
    return store;
  };
  const edit = async (index: number, patch: (e: AuditEntry) => AuditEntry) => {
    const text = (await raw.lindex(keys().audit, index)) as string;
    await raw.lset(keys().audit, index, JSON.stringify(patch(JSON.parse(text))));
  };

  beforeEach(async () => {
    prefix = `checked${++prefixes}`;
    raw = new Redis((await redisServer()).url);
  });
  afterEach(async () => {
    raw.disconnect();
    await Promise.allSettled(opened.splice(0).map((s) => s.close()));
  });

  it("verifies a good store, and finds an edited entry at its seq", async () => {
    const store = await seeded();
    expect(await store.verify()).toEqual({ ok: true, count: 5, head: await store.head() });
    await edit(2, (e) => ({ ...e, actor: "eve" }));

    expect(await store.verify()).toMatchObject({
      ok: false,
      seq: 3,
      reason: expect.stringContaining("hash"),
    });
    await expect(store.readAudit({})).rejects.toMatchObject({ name: "AuditChainError", seq: 3 });
    await expect(store.readAudit({ orderId: "ord_1" })).rejects.toMatchObject({ seq: 3 });
    // Reads that do not touch it are still answered.
    expect(await store.readAudit({ orderId: "ord_2" })).toHaveLength(2);
  });

  it("finds an order whose stored state is not its last entry's", async () => {
    const store = await seeded();
    const order = JSON.parse((await raw.hget(keys().orders, "ord_3")) as string);
    await raw.hset(keys().orders, "ord_3", JSON.stringify({ ...order, status: "approved" }));
    expect(await store.verify()).toMatchObject({
      ok: false,
      seq: 4,
      reason: expect.stringContaining("ord_3"),
    });
  });

  it("finds a cut tail, refusing to open and to write on it", async () => {
    const store = await seeded();
    await raw.rpop(keys().audit);
    expect(await store.verify()).toMatchObject({ ok: false, seq: 5 });
    await expect(create(store, "ord_4")).rejects.toBeInstanceOf(AuditChainError);
    expect(await raw.llen(keys().audit)).toBe(4);
    await expect(open()).rejects.toBeInstanceOf(AuditChainError);
  });

  it("refuses to open when the head's hash is not the last entry's", async () => {
    await seeded();
    await raw.hset(keys().head, "hash", "f".repeat(64));
    await expect(open()).rejects.toMatchObject({ name: "AuditChainError", seq: 5 });
  });

  it("keeps every key of a store in one hash tag, so one script can touch them on Redis Cluster", async () => {
    await seeded();
    const names = await raw.keys(`${prefix}:*`);
    expect(names.length).toBeGreaterThanOrEqual(7);
    // Redis Cluster hashes only what lies between the first "{" and the next "}", when that is not empty.
    const hashTag = (key: string) => /^[^{]*\{([^}]+)\}/.exec(key)?.[1];
    expect(new Set(names.map(hashTag))).toEqual(new Set([prefix]));
  });
});
