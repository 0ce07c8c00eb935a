/**
 * `RedisGeoCache`, the shared L2 between the L1 and a billed source, over a real redis-server and the
 * fake MaxMind web service: never paying twice within the TTL, keys that carry the source's version,
 * failing to the source when Redis is dead or slow, no raw addresses in Redis (I6), and its metric.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CachedGeo } from "../../src/geo/cached-geo.js";
import type { GeoAnswer } from "../../src/geo/interface.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { WebServiceGeo } from "../../src/geo/webservice-geo.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { ipHasher } from "../../src/runtime/node/secrets.js";
import { RedisGeoCache, type RedisGeoCacheOptions } from "../../src/store/redis/geo-cache.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import { ACCOUNT_ID, FakeMaxmind, LICENSE_KEY } from "../support/maxmind-ws.js";
import { registerTestMetrics } from "../support/metrics.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

// ---------- metrics ----------

const telemetry = registerTestMetrics();
const l2Counts = () => telemetry.countsBy("cordon.geo.l2", "result");

// ---------- the chain ----------

const fake = new FakeMaxmind();
let server: RedisServer;
/** Every client a test made, closed after it. */
const clients: RedisClient[] = [];
let admin: RedisClient;
const keys = redisKeys("cordon");
const hashIp = ipHasher(Buffer.from("0123456789abcdef0123456789abcdef"));

/** A new connection, by default once it is ready: commands sent before then fail at once (no offline queue). */
async function client(ready = true): Promise<RedisClient> {
  // A long command timeout, so the stall test shows the L2's own read budget at work, not the client's.
  const redis = createRedis(server.url, {
    name: "geo-test",
    commandTimeoutMs: 2000,
    overrides: { connectTimeout: 500, retryStrategy: () => 50 },
  });
  // ioredis reports connection errors as events; the L2 sees them as failed commands.
  redis.on("error", () => {});
  clients.push(redis);
  if (ready) await until(() => redis.status === "ready", "a Redis connection");
  return redis;
}

/** One Cordon instance's geo chain: its own L1, its own Redis connection, its own web-service client. */
async function instance(
  options: { generation?: string; ttlSeconds?: number; timeoutMs?: number; ready?: boolean } = {},
) {
  const source = new WebServiceGeo({
    accountId: ACCOUNT_ID,
    licenseKey: LICENSE_KEY,
    baseUrl: fake.baseUrl,
    timeoutMs: 1000,
    ...(options.generation ? { generation: options.generation } : {}),
  });
  const cacheOptions: RedisGeoCacheOptions = { redis: await client(options.ready), keys, hashIp };
  if (options.ttlSeconds !== undefined) cacheOptions.ttlSeconds = options.ttlSeconds;
  // The production default (50 ms) is a latency budget; on a loaded CI machine a GET can take longer and
  // fall through to the web service, which tests counting billed requests would read as a cache miss.
  // Tests of the budget itself pass their own.
  cacheOptions.timeoutMs = options.timeoutMs ?? 1000;
  const l2 = new RedisGeoCache(source, cacheOptions);
  const l1 = new CachedGeo(l2, { max: 1000 });
  return { source, l2, l1 };
}

const until = (condition: () => boolean | Promise<boolean>, what: string) => waitFor(condition, what, 3000);

/** The L2 writes after answering; wait until Redis holds `n` geo entries. */
async function stored(n: number): Promise<void> {
  await until(async () => (await admin.keys("cordon:geo:*")).length >= n, `${n} geo entries in Redis`);
}

beforeAll(async () => {
  server = await startRedis();
  await fake.start();
  admin = await client();
  clients.length = 0;
});
afterAll(async () => {
  admin.disconnect();
  await fake.close();
  await server.close();
});
beforeEach(async () => {
  fake.reset();
  if (!server.running()) await server.start();
  await until(() => admin.status === "ready", "the admin client");
  await admin.flushall();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

const KENT = { country: "GB", subdivisions: ["GB-ENG", "GB-KEN"] };

describe("a cached answer is never fetched twice within its TTL", () => {
  it("answers repeats from L1, and a second instance from RedisClient, with one billed request", async () => {
    const a = await instance();
    expect((await a.l1.lookup(PLACES.kent.ip)).location).toEqual(KENT);
    expect((await a.l1.lookup(PLACES.kent.ip)).location).toEqual(KENT);
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(1);
    await stored(1);

    const b = await instance();
    const answer = await b.l1.lookup(PLACES.kent.ip);
    expect(answer).toEqual({ location: KENT, source: "webservice", dbVersion: a.source.dbVersion });
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(1);
    expect(b.l2.stats()).toMatchObject({ hits: 1, misses: 0, errors: 0 });
    expect(b.source.stats().requests).toBe(0);
  });

  it("caches not-found answers too, so an unknown address is not paid for again", async () => {
    const a = await instance();
    expect(await a.l1.lookup(PLACES.nowhere.ip)).toEqual({
      location: null,
      source: "webservice",
      dbVersion: a.source.dbVersion,
    });
    await stored(1);
    const b = await instance();
    expect((await b.l1.lookup(PLACES.nowhere.ip)).location).toBeNull();
    expect(fake.requestsFor(PLACES.nowhere.ip)).toBe(1);
    expect(b.l2.stats().hits).toBe(1);
  });

  it("sends one request for concurrent misses of one address", async () => {
    const { l1, l2 } = await instance();
    const answers = await Promise.all(Array.from({ length: 10 }, () => l1.lookup(PLACES.mumbai.ip)));
    expect(answers.every((x) => x.location?.country === "IN")).toBe(true);
    expect(fake.requestsFor(PLACES.mumbai.ip)).toBe(1);
    // The L1 over a promise source does not coalesce; the L2 does, with one GET for all ten.
    expect(l2.stats()).toMatchObject({ hits: 0, misses: 1 });
  });

  it("keeps entries for 7 days by default", async () => {
    const { l1 } = await instance();
    await l1.lookup(PLACES.kent.ip);
    await stored(1);
    const [key] = await admin.keys("cordon:geo:*");
    const ttl = await admin.ttl(key as string);
    expect(ttl).toBeGreaterThan(7 * 24 * 3600 - 10);
    expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
  });

  it("fetches again once the TTL has passed", async () => {
    await (await instance({ ttlSeconds: 1 })).l1.lookup(PLACES.kent.ip);
    await stored(1);
    await (await instance({ ttlSeconds: 1 })).l1.lookup(PLACES.kent.ip);
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(1);
    await new Promise((r) => setTimeout(r, 1300));
    const later = await instance({ ttlSeconds: 1 });
    expect((await later.l1.lookup(PLACES.kent.ip)).location).toEqual(KENT);
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(2);
    expect(later.l2.stats().misses).toBe(1);
  });
});

describe("RedisGeoCache keys carry the source's version", () => {
  it("never serves an old generation's answer", async () => {
    await (await instance({ generation: "1" })).l1.lookup(PLACES.kent.ip);
    await stored(1);
    // MaxMind corrected its data; the operator bumps the generation.
    fake.places.set(PLACES.kent.ip, { country: "FR", subdivisions: ["IDF"] });
    const fresh = await instance({ generation: "2" });
    const answer = await fresh.l1.lookup(PLACES.kent.ip);
    expect(answer.location).toEqual({ country: "FR", subdivisions: ["FR-IDF"] });
    expect(answer.dbVersion).toMatch(/:city:2$/);
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(2);
    await stored(2);
    // And the new generation's entry is what the next instance of generation 2 reads.
    expect((await (await instance({ generation: "2" })).l1.lookup(PLACES.kent.ip)).location?.country).toBe(
      "FR",
    );
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(2);
  });

  it("does not file an answer under a version the source no longer has", async () => {
    // A source reloaded between the key and the answer (ReloadingGeo swapping its database).
    let version = "db@1";
    const source = {
      get dbVersion() {
        return version;
      },
      lookup(): GeoAnswer {
        version = "db@2";
        return { location: { country: "GB", subdivisions: [] }, source: "mmdb", dbVersion: "db@2" };
      },
      info: () => null,
    };
    const l2 = new RedisGeoCache(source, { redis: await client(), keys, hashIp });
    expect((await l2.lookup(PLACES.kent.ip)).dbVersion).toBe("db@2");
    await new Promise((r) => setTimeout(r, 100));
    expect(await admin.keys("cordon:geo:*")).toEqual([]);
  });
});

describe("RedisGeoCache fails to the source", () => {
  it("answers from the source, without throwing, while Redis is dead, and caches again once it is back", async () => {
    const a = await instance();
    await a.l1.lookup(PLACES.kent.ip);
    await stored(1);
    await server.kill();

    const b = await instance({ ready: false });
    expect((await b.l1.lookup(PLACES.kent.ip)).location).toEqual(KENT);
    expect((await b.l1.lookup(PLACES.moscowV6.ip)).location?.country).toBe("RU");
    // No writes are attempted behind a failed read: they would only fail too.
    await new Promise((r) => setTimeout(r, 50));
    expect(b.l2.stats()).toEqual({ hits: 0, misses: 0, errors: 2, writeErrors: 0 });
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(2);

    await server.start();
    // b's connection comes back by itself (reconnect with backoff), and its lookups are cached again.
    await until(() => clients.every((x) => x.status === "ready"), "clients to reconnect");
    await b.l1.lookup(PLACES.mumbai.ip);
    const mumbai = keys.geo(b.source.dbVersion, hashIp(PLACES.mumbai.ip));
    await until(async () => (await admin.exists(mumbai)) === 1, "the entry written after the restart");
    expect((await (await instance()).l1.lookup(PLACES.mumbai.ip)).location?.country).toBe("IN");
    expect(fake.requestsFor(PLACES.mumbai.ip)).toBe(1);
  });

  it("answers from the source within its read budget while Redis stalls", async () => {
    const { l1, l2 } = await instance({ timeoutMs: 100 });
    server.pause();
    try {
      const started = performance.now();
      expect((await l1.lookup(PLACES.kent.ip)).location).toEqual(KENT);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(l2.stats().errors).toBe(1);
    } finally {
      server.resume();
    }
  });

  it("does not cache failures: the next lookup asks again", async () => {
    fake.replies.set(PLACES.kent.ip, { status: 503, body: { code: "SERVER_ERROR", error: "unavailable" } });
    const a = await instance();
    expect(await a.l1.lookup(PLACES.kent.ip)).toEqual({
      location: null,
      source: "webservice",
      dbVersion: null,
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(await admin.keys("cordon:geo:*")).toEqual([]);
    fake.replies.clear();
    expect((await a.l1.lookup(PLACES.kent.ip)).location).toEqual(KENT);
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(2);
  });

  it("reads a value it cannot trust as a miss, and overwrites it", async () => {
    const a = await instance();
    const key = keys.geo(a.source.dbVersion, hashIp(PLACES.kent.ip));
    for (const bad of [
      "garbage",
      '{"g":"webservice","c":"GB","s":["FR-IDF"]}',
      '{"g":"elsewhere","c":"GB"}',
    ]) {
      await admin.set(key, bad);
      const fresh = await instance();
      expect((await fresh.l1.lookup(PLACES.kent.ip)).location).toEqual(KENT);
      expect(fresh.l2.stats().misses).toBe(1);
      await until(async () => (await admin.get(key)) !== bad, "the entry to be rewritten");
    }
    expect(JSON.parse((await admin.get(key)) as string)).toEqual({
      g: "webservice",
      c: "GB",
      s: ["GB-ENG", "GB-KEN"],
    });
  });

  it("passes private addresses to the source without touching Redis", async () => {
    const { l1, l2 } = await instance();
    expect(l1.lookup(PLACES.privateLan.ip)).toEqual({ location: null, source: "none", dbVersion: null });
    expect(l2.stats()).toEqual({ hits: 0, misses: 0, errors: 0, writeErrors: 0 });
    expect(fake.requests).toEqual([]);
  });
});

describe("RedisGeoCache keeps raw addresses out of Redis (I6)", () => {
  it("stores neither the address nor anything from the answer but the location", async () => {
    const { l1 } = await instance();
    const ips = [PLACES.kent.ip, PLACES.mumbai.ip, PLACES.moscowV6.ip, PLACES.nowhere.ip];
    for (const ip of ips) await l1.lookup(ip);
    await stored(ips.length);
    const found = await admin.keys("*");
    expect(found).toHaveLength(ips.length);
    const values = await admin.mget(...found);
    const everything = [...found, ...values].join("\n");
    for (const ip of ips) expect(everything).not.toContain(ip);
    // Nor the network the service reported (traits.network), nor the registered country.
    expect(everything).not.toMatch(/\/24|\/64|DE/);
    for (const key of found)
      expect(key).toMatch(/^cordon:geo:maxmind-ws:127\.0\.0\.1:\d+:city:1:[0-9a-f]{64}$/);
    const entries = values.map((v) => JSON.parse(v as string));
    expect(entries).toHaveLength(4);
    expect(entries).toEqual(
      expect.arrayContaining([
        { g: "webservice", c: "GB", s: ["GB-ENG", "GB-KEN"] },
        { g: "webservice", c: "IN", s: ["IN-MH"] },
        { g: "webservice", c: "RU", s: ["RU-MOW"] },
        { g: "webservice", c: null },
      ]),
    );
  });
});

describe("RedisGeoCache over a local mmdb", () => {
  it("answers as the mmdb does, from Redis on a second instance", async () => {
    const mmdb = MaxmindGeo.fromBuffer(cityDatabase(), "fixture");
    const direct = mmdb.lookup(PLACES.california.ip);
    await new RedisGeoCache(mmdb, { redis: await client(), keys, hashIp }).lookup(PLACES.california.ip);
    await stored(1);
    const second = new RedisGeoCache(mmdb, { redis: await client(), keys, hashIp });
    expect(await second.lookup(PLACES.california.ip)).toEqual(direct);
    expect(second.stats().hits).toBe(1);
  });
});

describe("RedisGeoCache metrics", () => {
  it("counts hits, misses and errors in cordon.geo.l2", async () => {
    const before = await l2Counts();
    await (await instance()).l1.lookup(PLACES.kent.ip);
    await stored(1);
    await (await instance()).l1.lookup(PLACES.kent.ip);
    await server.kill();
    await (await instance({ ready: false })).l1.lookup(PLACES.kent.ip);
    const after = await l2Counts();
    const delta = (result: string) => (after[result] ?? 0) - (before[result] ?? 0);
    expect({ hit: delta("hit"), miss: delta("miss"), error: delta("error") }).toEqual({
      hit: 1,
      miss: 1,
      error: 1,
    });
  });
});
