/**
 * The Redis stores other than the orders, on a Redis Cluster through ioredis' Cluster client: the console
 * session and IP-hash key contracts, the AOF rewrite after a key's destruction on the master that held
 * it, the geo L2 with its entries spread over every master (and one master failing), finalized reports
 * and the ingest index. One cluster for the file; each test under key prefixes of its own.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { CachedGeo } from "../../src/geo/cached-geo.js";
import { WebServiceGeo } from "../../src/geo/webservice-geo.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import type { FrozenReport } from "../../src/report/frozen.js";
import { parsePeriod } from "../../src/report/periods.js";
import { ipHasher } from "../../src/runtime/node/secrets.js";
import { recordDigest } from "../../src/store/ingest-index.js";
import { RedisFrozenReportStore } from "../../src/store/redis/frozen-store.js";
import { RedisGeoCache } from "../../src/store/redis/geo-cache.js";
import { RedisIngestIndex } from "../../src/store/redis/ingest-index.js";
import { RedisIpHashKeyStore } from "../../src/store/redis/ip-hash-keys.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { RedisSessionStore } from "../../src/store/redis/session-store.js";
import { PLACES, T0 } from "../support/fixtures.js";
import { recordingLogger } from "../support/logs.js";
import { ACCOUNT_ID, FakeMaxmind, LICENSE_KEY } from "../support/maxmind-ws.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { waitFor } from "../support/wait.js";
import { describeIpHashKeyStoreContract } from "./ip-hash-key-contract.js";
import { describeSessionStoreContract } from "./session-store-contract.js";

let cluster: RedisCluster;
let admin: RedisClient;
const clients: RedisClient[] = [];
let prefixes = 0;
const nextPrefix = (label: string) => `${label}${++prefixes}`;

/**
 * A Cluster client as Cordon makes it (createRedis, no offline queue), once it knows the slots and its
 * connection to every master is up: a Cluster client is "ready" while those are still being made, and
 * a command for a master whose connection is not up yet fails at once (no offline queue).
 */
async function client(name = "cluster-test"): Promise<RedisClient> {
  const redis = createRedis(cluster.url, { name, overrides: { connectTimeout: 500 } });
  redis.on("error", () => undefined);
  clients.push(redis);
  await waitFor(
    () => {
      // A master it learned of is connected or given up on (a killed one), never left waiting.
      const masters = (redis as Cluster).nodes("master");
      return (
        redis.status === "ready" &&
        masters.length > 0 &&
        masters.every((n) => !["wait", "connect", "connecting"].includes(n.status))
      );
    },
    "a Cluster client with a connection to every master",
    20_000,
  );
  return redis;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = await client("cluster-admin");
});
afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await cluster?.close();
});

describeSessionStoreContract(
  "in Redis Cluster",
  (clock, opts) =>
    new RedisSessionStore({ redis: admin, keys: redisKeys(nextPrefix("sessions")).sessions, clock, ...opts }),
);

const MASTER = Buffer.from("store-test-ip-hash-key-0123456789abcdef");

describeIpHashKeyStoreContract("Redis Cluster", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cordon-keys-"));
  const keys = redisKeys(nextPrefix("keys"));
  let n = 0;
  return {
    target: {
      instance: async () =>
        RedisIpHashKeyStore.open({
          redis: await client(),
          keys,
          masterKey: MASTER,
          mirrorDir: join(dir, `instance-${n++}`),
          clock: () => T0,
          logger: recordingLogger().logger,
        }),
      holds: async (period) => (await admin.exists(keys.ipHashKey(period))) === 1,
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("the IP-hash keys on Redis Cluster", () => {
  it("rewrites the AOF of the master that held a destroyed key, so its file no longer holds the wrapped key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cordon-keys-"));
    try {
      const keys = redisKeys(nextPrefix("aof"));
      const store = await RedisIpHashKeyStore.open({
        redis: await client(),
        keys,
        masterKey: MASTER,
        mirrorDir: dir,
        clock: () => T0,
        logger: recordingLogger().logger,
      });
      await store.obtain("2026-H2");
      const wrapped = (await admin.get(keys.ipHashKey("2026-H2"))) as string;
      const master = await cluster.masterFor(keys.ipHashKey("2026-H2"));
      // The master's AOF as one text; a rewrite renames files while they are listed: read again then.
      const aof = async (): Promise<string> => {
        for (;;) {
          const base = join(
            master.dir,
            (await readdir(master.dir)).find((d) => d.startsWith("aof-")) as string,
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
      await waitFor(
        async () => {
          const info = String(await cluster.command(master, "INFO", "persistence"));
          return (
            /aof_rewrite_in_progress:0/.test(info) &&
            /aof_rewrite_scheduled:0/.test(info) &&
            !(await aof()).includes(wrapped)
          );
        },
        "the master's AOF rewritten without the key",
        5000,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the geo L2 on Redis Cluster", () => {
  const fake = new FakeMaxmind();
  const hashIp = ipHasher(Buffer.from("0123456789abcdef0123456789abcdef"));
  // The four places the fake web service knows, and addresses it does not (not-found is kept too).
  const ips = [
    PLACES.mumbai.ip,
    PLACES.kent.ip,
    PLACES.moscowV6.ip,
    PLACES.california.ip,
    ...Array.from({ length: 20 }, (_, i) => `100.0.0.${i + 1}`),
  ];
  beforeAll(() => fake.start());
  afterAll(() => fake.close());
  afterEach(async () => {
    fake.reset();
    for (const node of cluster.nodes) if (!cluster.running(node)) await cluster.restart(node);
  });

  /** One instance's chain, its keys under `prefix`: L1, the L2 on its own Cluster client, the web service. */
  const instance = async (prefix: string) => {
    const source = new WebServiceGeo({
      accountId: ACCOUNT_ID,
      licenseKey: LICENSE_KEY,
      baseUrl: fake.baseUrl,
      timeoutMs: 1000,
    });
    // A generous read budget: what is tested here is where entries live, not the 50 ms default (the
    // single-Redis file tests that), which a loaded two-core machine running six nodes can miss.
    const l2 = new RedisGeoCache(source, {
      redis: await client(),
      keys: redisKeys(prefix),
      hashIp,
      timeoutMs: 500,
    });
    return { source, l2, l1: new CachedGeo(l2, { max: 1000 }) };
  };
  const keyOf = (prefix: string, dbVersion: string, ip: string) =>
    redisKeys(prefix).geo(dbVersion, hashIp(ip));

  it("answers a second instance from the entries, which lie on every master, with one billed request each", async () => {
    const prefix = nextPrefix("geo");
    const a = await instance(prefix);
    const answers = [];
    for (const ip of ips) answers.push(await a.l1.lookup(ip));
    const keys = ips.map((ip) => keyOf(prefix, a.source.dbVersion, ip));
    await waitFor(
      async () => (await Promise.all(keys.map((k) => admin.exists(k)))).every((e) => e === 1),
      "every entry in Redis",
    );
    const owners = new Set(await Promise.all(keys.map(async (k) => (await cluster.masterFor(k)).port)));
    expect(owners.size).toBe(3);

    const b = await instance(prefix);
    for (const [i, ip] of ips.entries()) expect(await b.l1.lookup(ip)).toEqual(answers[i]);
    expect(answers.filter((x) => x.location !== null)).toHaveLength(4);
    expect(b.source.stats().requests).toBe(0);
    expect(b.l2.stats()).toMatchObject({ hits: ips.length, misses: 0, errors: 0 });
  });

  it("answers from the source while the master of an entry is down, and from the L2 again after the failover", async () => {
    const prefix = nextPrefix("geo");
    const a = await instance(prefix);
    await a.l1.lookup(PLACES.kent.ip);
    const key = keyOf(prefix, a.source.dbVersion, PLACES.kent.ip);
    await waitFor(async () => (await admin.exists(key)) === 1, "the entry");
    const master = await cluster.masterFor(key);
    // The entry was written without WAIT: let the replica catch up before the master dies.
    expect(await cluster.command(master, "WAIT", 1, 1000)).toBe(1);
    await cluster.kill(master);

    const b = await instance(prefix);
    const started = performance.now();
    expect((await b.l1.lookup(PLACES.kent.ip)).location?.country).toBe("GB");
    expect(performance.now() - started).toBeLessThan(1500);
    expect(b.l2.stats().errors).toBe(1);

    await cluster.waitForFailover(master);
    const c = await instance(prefix);
    await waitFor(
      async () => (await c.l2.lookup(PLACES.kent.ip)) !== undefined && c.l2.stats().hits === 1,
      "a hit from the promoted replica",
      10_000,
    );
    expect(c.source.stats().requests).toBe(0);
  }, 30_000);
});

describe("finalized reports and the ingest index on Redis Cluster", () => {
  it("commits a period's report once, and keeps its archive", async () => {
    const keys = redisKeys(nextPrefix("frozen"));
    const store = new RedisFrozenReportStore(admin, keys);
    const other = new RedisFrozenReportStore(await client(), keys);
    const report = (tag: string) =>
      ({
        manifest: { tag },
        formats: { json: tag, csv: tag, "html-en": tag, "html-nl": tag },
      }) as unknown as FrozenReport;
    const period = parsePeriod("2026-Q1");
    if (period === undefined) throw new Error("no period");
    const record = { decisionId: "d-1", at: "2026-02-01T00:00:00.000Z" } as unknown as DecisionRecord;
    await store.putArchive(period, { records: [record], late: [] });
    const [first, second] = await Promise.all([
      store.commit("2026-Q1", report("a")),
      other.commit("2026-Q1", report("b")),
    ]);
    expect(second).toEqual(first);
    expect(await other.get("2026-Q1")).toEqual(first);
    expect(await other.list()).toEqual(["2026-Q1"]);
    expect(await other.archive("2026-Q1")).toEqual({ records: [record], late: [] });
  });

  it("claims and confirms decision ids of several months in one pipeline", async () => {
    const keys = redisKeys(nextPrefix("ingest"));
    const a = new RedisIngestIndex(admin, keys.ingested);
    const b = new RedisIngestIndex(await client(), keys.ingested);
    const entries = ["2026-01-31T23:59:59.000Z", "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"].map(
      (at, i) => ({ decisionId: `edge-${randomUUID()}`, at, digest: recordDigest({ i }) }),
    );
    expect(await a.claim(entries)).toEqual(["new", "new", "new"]);
    await a.confirm(entries);
    expect(await b.claim(entries)).toEqual(["same", "same", "same"]);
    const changed = entries.map((e) => ({ ...e, digest: recordDigest({ other: e.decisionId }) }));
    expect(await b.claim(changed)).toEqual(["different", "different", "different"]);
  });
});
