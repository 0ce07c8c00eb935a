/**
 * The per-period IP-hash key stores (I6), one contract for the embedded files and for Redis: a key is
 * made once and agreed by every instance, and a destroyed key is gone and never made again. Then what
 * only Redis has: the wrapping, the mirror, the AOF rewrite.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FileIpHashKeyStore } from "../../src/store/file/ip-hash-keys.js";
import { RedisIpHashKeyStore } from "../../src/store/redis/ip-hash-keys.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { T0 } from "../support/fixtures.js";
import { recordingLogger } from "../support/logs.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { describeIpHashKeyStoreContract, type MakeTarget } from "./ip-hash-key-contract.js";

const MASTER = Buffer.from("store-test-ip-hash-key-0123456789abcdef");

const targets: [string, MakeTarget][] = [
  [
    "files in the data directory",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "cordon-keys-"));
      const keysDir = join(dir, "keys");
      return {
        target: {
          instance: () => FileIpHashKeyStore.open(keysDir),
          holds: (period) =>
            stat(join(keysDir, `ip-hash-${period}.key`)).then(
              () => true,
              () => false,
            ),
        },
        close: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    "Redis",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "cordon-keys-"));
      const clients: Redis[] = [];
      const keys = redisKeys(`t${Math.random().toString(36).slice(2, 10)}`);
      let n = 0;
      return {
        target: {
          instance: async () => {
            const redis = new Redis(server.url);
            clients.push(redis);
            return RedisIpHashKeyStore.open({
              redis,
              keys,
              masterKey: MASTER,
              // Each instance has a data directory of its own.
              mirrorDir: join(dir, `instance-${n++}`),
              clock: () => T0,
              logger: recordingLogger().logger,
            });
          },
          holds: async (period) => (await admin.exists(keys.ipHashKey(period))) === 1,
        },
        async close() {
          for (const c of clients) c.disconnect();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
  // One test stops the server for a while; the client reconnects afterwards.
  admin.on("error", () => undefined);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.close();
});

for (const [name, make] of targets) describeIpHashKeyStoreContract(name, make);

describe("the embedded key files", () => {
  let dir: string;
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("are private (0600) and a damaged one stops the sealing instead of weakening it", async () => {
    dir = await mkdtemp(join(tmpdir(), "cordon-keys-"));
    const store = await FileIpHashKeyStore.open(dir);
    await store.obtain("2026-H2");
    expect((await stat(join(dir, "ip-hash-2026-H2.key"))).mode & 0o777).toBe(0o600);
    await writeFile(join(dir, "ip-hash-2026-H2.key"), "c2hvcnQ=\n");
    await expect(store.obtain("2026-H2")).rejects.toThrow(/32-byte key/);
    // Only the key and its temporary files ever lived here: nothing is left behind but the key.
    expect(await readdir(dir)).toEqual(["ip-hash-2026-H2.key"]);
  });
});

describe("the keys in Redis", () => {
  const logs = recordingLogger();
  let dir: string;
  const clients: Redis[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cordon-keys-"));
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await rm(dir, { recursive: true, force: true });
  });
  const open = (prefix: string, opts: { master?: Buffer; instance?: string; clock?: () => number } = {}) => {
    const redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    redis.on("error", () => undefined);
    clients.push(redis);
    return RedisIpHashKeyStore.open({
      redis,
      keys: redisKeys(prefix),
      masterKey: opts.master ?? MASTER,
      mirrorDir: join(dir, prefix, opts.instance ?? "a"),
      clock: opts.clock ?? (() => T0),
      logger: logs.logger,
    });
  };
  const ready = async (store: Promise<RedisIpHashKeyStore>) => {
    const s = await store;
    // A client that is still connecting answers "unavailable": wait for it, as an instance does at start.
    for (let i = 0; i < 100 && (clients.at(-1)?.status ?? "ready") !== "ready"; i++)
      await new Promise((r) => setTimeout(r, 10));
    return s;
  };

  it("holds the key wrapped, never the raw key, and only CORDON_IP_HASH_KEY opens it", async () => {
    const store = await ready(open("wrap"));
    const { key } = await store.obtain("2026-H2");
    const stored = (await admin.get(redisKeys("wrap").ipHashKey("2026-H2"))) as string;
    const raw = Buffer.from(key);
    for (const encoding of ["hex", "base64", "base64url", "latin1"] as const) {
      expect(stored).not.toContain(raw.toString(encoding).slice(0, 16));
    }
    expect(Buffer.from(stored, "latin1").includes(raw)).toBe(false);
    const foreign = await ready(
      open("wrap", { master: Buffer.from("another-ip-hash-key-0123456789abcdef"), instance: "b" }),
    );
    await expect(foreign.obtain("2026-H2")).rejects.toThrow(/does not open with CORDON_IP_HASH_KEY/);
    // Bound to its period: the same wrapped value under another period's name does not open either.
    await admin.set(redisKeys("wrap").ipHashKey("2027-H1"), stored);
    await expect(store.obtain("2027-H1")).rejects.toThrow(/does not open/);
  });

  it("gives a Redis that lost the key the same key back, from an instance's mirror", async () => {
    const store = await ready(open("lost"));
    const { key } = await store.obtain("2026-H2");
    await admin.del(redisKeys("lost").ipHashKey("2026-H2"));
    const restarted = await ready(open("lost"));
    const again = await restarted.obtain("2026-H2");
    expect(again.created).toBe(true);
    expect(Buffer.from(again.key).equals(Buffer.from(key))).toBe(true);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        message: expect.stringMatching(/restored from this instance's mirror/),
      }),
    );
  });

  it("seals on from the mirror while Redis is down, and makes no key then", async () => {
    const store = await ready(open("down"));
    const { key } = await store.obtain("2026-H2");
    await server.kill();
    try {
      const got = await store.obtain("2026-H2");
      expect(Buffer.from(got.key).equals(Buffer.from(key))).toBe(true);
      await expect(store.obtain("2027-H1")).rejects.toThrow(/cannot be read/);
    } finally {
      await server.start();
    }
  });

  it("drops a mirrored copy once its period can get no more records, and on destruction", async () => {
    let now = T0;
    const store = await ready(open("prune", { clock: () => now }));
    await store.obtain("2026-H1");
    await store.obtain("2026-H2");
    const mirror = join(dir, "prune", "a");
    expect((await readdir(mirror)).sort()).toEqual(["ip-hash-2026-H1.wrapped", "ip-hash-2026-H2.wrapped"]);
    now = Date.parse("2026-07-16T02:00:00Z");
    await store.obtain("2026-H2");
    expect(await readdir(mirror)).toEqual(["ip-hash-2026-H2.wrapped"]);
    await store.destroy("2026-H2");
    expect(await readdir(mirror)).toEqual([]);
  });

  it("rewrites the AOF on destruction, so the file no longer holds the wrapped key", async () => {
    const store = await ready(open("aof"));
    await store.obtain("2026-H2");
    const wrapped = (await admin.get(redisKeys("aof").ipHashKey("2026-H2"))) as string;
    // Every AOF file as one text. A rewrite renames its temporary files while they are listed: a file
    // gone between the listing and the read starts the reading over, so nothing is skipped.
    const aof = async (): Promise<string> => {
      for (;;) {
        const base = join(
          server.dir,
          (await readdir(server.dir)).find((d) => d.startsWith("aof-")) as string,
        );
        try {
          const files = await readdir(base);
          return (await Promise.all(files.map((f) => readFile(join(base, f), "latin1")))).join("");
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        }
      }
    };
    expect(await aof()).toContain(wrapped);
    await store.destroy("2026-H2");
    for (let i = 0; i < 200; i++) {
      const info = await admin.info("persistence");
      if (
        /aof_rewrite_in_progress:0/.test(info) &&
        /aof_rewrite_scheduled:0/.test(info) &&
        !(await aof()).includes(wrapped)
      )
        break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await aof()).not.toContain(wrapped);
  });
});
