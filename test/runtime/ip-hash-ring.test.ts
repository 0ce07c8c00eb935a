/**
 * I6 end to end: records sealed under their half-year's key can be linked to an address by someone
 * holding the data directory, the key store and CORDON_IP_HASH_KEY only until the half-year's key is
 * destroyed; after that, the brute force over the record's /24 finds nothing. Also: one participant
 * keeps one hash within a half-year (distinct counts stay exact), the check path stays synchronous, a
 * record whose key is not held is refused with 503, and the ring rolls over the boundary.
 */
import { createDecipheriv, createHmac, hkdfSync, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { emptyRuleset } from "../../src/engine/index.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { StoreUnavailableError } from "../../src/kernel/errors.js";
import { edgeIpHasher } from "../../src/platform/cloudflare/ip-hash.js";
import { IpHashKeyRing } from "../../src/runtime/node/ip-hash-ring.js";
import { evaluate } from "../../src/service/check.js";
import { FileIpHashKeyStore } from "../../src/store/file/ip-hash-keys.js";
import { RedisIpHashKeyStore } from "../../src/store/redis/ip-hash-keys.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { cityDatabase, DAY, iso, T0 } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness } from "../support/harness.js";
import { type LogLine, recordingLogger } from "../support/logs.js";
import { type RedisServer, startRedis } from "../support/redis.js";

/** The harness's CORDON_IP_HASH_KEY (an attacker is assumed to hold it). */
const HARNESS_MASTER = Buffer.from("harness-ip-hash-key-0123456789abcdef");
/** Three participants in one /24, as in the reproduction. */
const VICTIMS = ["49.32.10.20", "49.32.10.77", "49.32.10.201"];

const hmac = (key: Uint8Array, data: string | Uint8Array) => createHmac("sha256", key).update(data).digest();

/**
 * The attack: for each record, every address of its /24 through HMAC under the master key, then under
 * every period key the attacker can read (and bare, as 0.1.0 stored it). Returns the addresses linked.
 */
function bruteForce(records: DecisionRecord[], master: Uint8Array, periodKeys: Uint8Array[]): Set<string> {
  const found = new Set<string>();
  for (const record of records) {
    const prefix = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(record.ipPrefix ?? "")?.[1];
    if (!prefix || !record.ipHash) continue;
    for (let last = 0; last < 256; last++) {
      const ip = `${prefix}.${last}`;
      const inner = hmac(master, ip);
      const candidates = [inner, ...periodKeys.map((k) => hmac(k, inner))];
      if (candidates.some((c) => c.toString("hex") === record.ipHash)) found.add(ip);
    }
  }
  return found;
}

/** Every key file the embedded data directory holds. */
async function keyFiles(dataDir: string): Promise<Buffer[]> {
  const dir = join(dataDir, "keys");
  const names = (await readdir(dir)).filter((n) => n.endsWith(".key"));
  return Promise.all(
    names.map(async (n) => Buffer.from((await readFile(join(dir, n), "utf8")).trim(), "base64")),
  );
}

async function records(h: Harness): Promise<DecisionRecord[]> {
  return (await h.call("GET", "/v1/decisions?limit=1000", { as: "auditor" })).body.records;
}

describe("the embedded default (through the app)", () => {
  let h: Harness;
  afterEach(() => h.close());

  it("lets the data directory and the master key link records to addresses until the half-year's key is destroyed, and never after", async () => {
    h = await makeHarness();
    for (const ip of VICTIMS) {
      expect(
        (await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "m-1", ip } })).status,
      ).toBe(200);
    }
    const made = await records(h);
    expect(made.map((r) => r.ipPrefix)).toEqual(["49.32.10.0/24", "49.32.10.0/24", "49.32.10.0/24"]);
    // Before: the attack works (so this test can fail).
    expect(bruteForce(made, HARNESS_MASTER, await keyFiles(h.dir))).toEqual(new Set(VICTIMS));

    expect(await h.ipHashKeys.destroy("2026-H1")).toBe(true);
    expect(bruteForce(await records(h), HARNESS_MASTER, await keyFiles(h.dir))).toEqual(new Set());
    // Nothing re-creates it: a late check for the period is refused rather than sealed under a new key.
    await h.ipHashKeys.refresh();
    const late = await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m-1", ip: VICTIMS[0] },
    });
    expect(late.status).toBe(503);
    expect(late.body.error.code).toBe("UNAVAILABLE");
    expect(await records(h)).toHaveLength(3);
    expect(bruteForce(await records(h), HARNESS_MASTER, await keyFiles(h.dir))).toEqual(new Set());
  });

  it("destroys nothing when a month or a quarter is finalized", async () => {
    h = await makeHarness();
    await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "m-1", ip: VICTIMS[0] } });
    expect(await h.ipHashKeys.destroy("2026-03")).toBe(false);
    expect(await h.ipHashKeys.destroy("2026-Q1")).toBe(false);
    expect(bruteForce(await records(h), HARNESS_MASTER, await keyFiles(h.dir)).size).toBe(1);
  });

  it("counts a participant once within a half-year, whenever in it they join", async () => {
    h = await makeHarness();
    const order = await approvedOrder(h);
    const meetingId = order.target.meetingIds[0];
    for (const [at, ip] of [
      [T0, VICTIMS[0]],
      [T0 + 40 * DAY, VICTIMS[0]],
      [T0 + 100 * DAY, VICTIMS[0]],
      [T0 + 100 * DAY, VICTIMS[1]],
    ] as const) {
      h.clock.now = at;
      const res = await h.call("POST", "/v1/check", { as: "checker", body: { meetingId, ip } });
      expect(res.body.code).toBe("BLOCKED");
    }
    const report = await h.call("GET", "/v1/reports/2026-H1", { as: "auditor" });
    expect(report.body.enforcement.byJurisdiction["IN-MH"]).toMatchObject({
      deniedJoins: 4,
      distinctParticipants: 2,
    });
  });

  it("refuses a check with 503 when the period's key is not held, and writes no record", async () => {
    h = await makeHarness();
    h.clock.now = Date.parse("2031-02-01T00:00:00Z");
    const res = await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m-1", ip: VICTIMS[0] },
    });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("UNAVAILABLE");
    const batch = await h.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: [{ meetingId: "m-1", ip: VICTIMS[0] }] },
    });
    expect(batch.status).toBe(503);
    expect(await records(h)).toEqual([]);
  });
});

describe("the key ring", () => {
  let dir: string;
  const rings: IpHashKeyRing[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cordon-ring-"));
  });
  afterAll(async () => {
    for (const r of rings) r.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const MASTER = Buffer.from("ring-test-ip-hash-key-0123456789abcdef");
  const ring = async (sub: string, clock: () => number, logs: LogLine[] = []) => {
    const r = await IpHashKeyRing.open({
      store: await FileIpHashKeyStore.open(join(dir, sub)),
      masterKey: MASTER,
      clock,
      logger: recordingLogger(logs).logger,
    });
    rings.push(r);
    return r;
  };

  it("logs a new deployment's first key as information, and a key created mid-period otherwise as a warning", async () => {
    const open = async (sub: string, isNew: boolean) => {
      const logs: LogLine[] = [];
      const r = await IpHashKeyRing.open({
        store: await FileIpHashKeyStore.open(join(dir, sub)),
        masterKey: MASTER,
        clock: () => T0,
        logger: recordingLogger(logs).logger,
        isNewDeployment: async () => isNew,
      });
      rings.push(r);
      return logs.filter((l) => l.message.startsWith("ip-hash key created"));
    };
    const fresh = await open("first-start", true);
    expect(fresh.map((l) => l.level)).toContain("info");
    expect(fresh.some((l) => l.level === "warn")).toBe(false);
    const lost = await open("lost-key", false);
    expect(lost.some((l) => l.level === "warn" && l.message.includes("already under way"))).toBe(true);
  });

  it("keeps the check synchronous: evaluate answers without a promise, sealed", async () => {
    const r = await ring("sync", () => T0);
    const deps = {
      geo: MaxmindGeo.fromBuffer(cityDatabase(), "fixture:city"),
      hashIp: (ip: string, at: number) => r.hashIp(ip, at),
      newId: randomUUID,
    };
    const result = evaluate(
      deps,
      emptyRuleset(iso(T0)),
      { meetingId: "m", ip: VICTIMS[0] as string },
      T0,
      "en",
    );
    expect(result).not.toBeInstanceOf(Promise);
    const { record } = result as Exclude<typeof result, Promise<unknown>>;
    expect(record.ipHash).toMatch(/^[0-9a-f]{64}$/);
    expect(record.ipHash).not.toBe(hmac(MASTER, VICTIMS[0] as string).toString("hex"));
    // A missing key throws there and then, as the 503 the routes answer.
    expect(() => r.hashIp(VICTIMS[0] as string, Date.parse("2031-01-01T00:00:00Z"))).toThrow(
      StoreUnavailableError,
    );
  });

  it("seals an edge record exactly as Node's own check, and apart from the next half-year", async () => {
    const r = await ring("edge", () => T0);
    const edge = edgeIpHasher(MASTER.toString("utf8"));
    for (const ip of [...VICTIMS, "2001:db8::1"]) {
      expect(r.sealEdgeHash(edge(ip), iso(T0 + DAY))).toBe(r.hashIp(ip, T0));
    }
    expect(() => r.sealEdgeHash("A".repeat(64), iso(T0))).toThrow(RangeError);
    expect(() => r.sealEdgeHash("a".repeat(63), iso(T0))).toThrow(RangeError);
    await r.ensure(["2026-H2"]);
    expect(r.hashIp(VICTIMS[0] as string, Date.parse("2026-07-01T00:00:00Z"))).not.toBe(
      r.hashIp(VICTIMS[0] as string, T0),
    );
  });

  it("answers a repeated address from memory with the hash it would compute afresh, past the memory's size too", async () => {
    const r = await ring("repeat", () => T0);
    const edge = edgeIpHasher(MASTER.toString("utf8"));
    const ip = VICTIMS[0] as string;
    const first = r.hashIp(ip, T0);
    // sealEdgeHash seals without the memory: the same two HMACs computed again.
    expect(r.sealEdgeHash(edge(ip), iso(T0))).toBe(first);
    expect(r.hashIp(ip, T0)).toBe(first);
    // More addresses than are remembered push the first one out; it comes back the same.
    for (let i = 0; i < 10_000; i++) r.hashIp(`10.${i >> 8}.${i & 255}.1`, T0);
    expect(r.hashIp(ip, T0)).toBe(first);
    expect(r.hashIp("10.0.0.1", T0)).toBe(r.sealEdgeHash(edge("10.0.0.1"), iso(T0)));
    // Another half-year's key: its own hash, not the one remembered under this key.
    await r.ensure(["2026-H2"]);
    expect(r.hashIp(ip, Date.parse("2026-07-01T00:00:00Z"))).not.toBe(first);
    expect(r.hashIp(ip, T0)).toBe(first);
    // A destroyed key takes what it remembered with it: refused, never answered from memory.
    await r.destroy("2026-H1");
    expect(() => r.hashIp(ip, T0)).toThrow(StoreUnavailableError);
  });

  it("is agreed by two instances on one data directory", async () => {
    const [a, b] = await Promise.all([ring("shared", () => T0), ring("shared", () => T0)]);
    for (const ip of VICTIMS) expect(a.hashIp(ip, T0)).toBe(b.hashIp(ip, T0));
  });

  it("loads the next half-year's key ahead of the boundary and lets the last one go after the late window", async () => {
    let now = Date.parse("2026-06-30T00:30:00Z");
    const logs: LogLine[] = [];
    const r = await ring("roll", () => now, logs);
    expect(r.periods()).toEqual(["2026-H1", "2026-H2"]);
    expect(logs).toContainEqual(
      expect.objectContaining({ message: "ip-hash key created ahead of its period" }),
    );
    now = Date.parse("2026-07-01T00:00:00Z");
    expect(r.hashIp(VICTIMS[0] as string, now)).toMatch(/^[0-9a-f]{64}$/);
    // Late edge records of June are still sealed for two weeks.
    now = Date.parse("2026-07-14T00:00:00Z");
    await r.refresh();
    expect(r.sealEdgeHash("a".repeat(64), "2026-06-30T23:59:59.000Z")).toMatch(/^[0-9a-f]{64}$/);
    now = Date.parse("2026-07-15T02:00:00Z");
    await r.refresh();
    expect(r.periods()).toEqual(["2026-H2"]);
    expect(() => r.sealEdgeHash("a".repeat(64), "2026-06-30T23:59:59.000Z")).toThrow(StoreUnavailableError);
    expect(r.readiness()).toMatchObject({ name: "ip-hash-keys", ready: true });
  });

  it("lets go of a key another instance destroyed at its next refresh", async () => {
    const [a, b] = [await ring("two", () => T0), await ring("two", () => T0)];
    await a.destroy("2026-H1");
    expect(b.periods()).toEqual(["2026-H1"]);
    await b.refresh();
    expect(b.periods()).toEqual([]);
    expect(b.readiness()).toMatchObject({ ready: false });
    expect(() => b.hashIp(VICTIMS[0] as string, T0)).toThrow(StoreUnavailableError);
  });
});

describe("on Redis", () => {
  let server: RedisServer;
  let dir: string;
  const clients: Redis[] = [];
  const rings: IpHashKeyRing[] = [];
  const MASTER = Buffer.from("redis-ring-test-ip-hash-key-0123456789");
  beforeAll(async () => {
    server = await startRedis();
    dir = await mkdtemp(join(tmpdir(), "cordon-ring-redis-"));
  });
  afterAll(async () => {
    for (const r of rings) r.stop();
    for (const c of clients) c.disconnect();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const instance = async (name: string) => {
    const redis = new Redis(server.url);
    clients.push(redis);
    const r = await IpHashKeyRing.open({
      store: await RedisIpHashKeyStore.open({
        redis,
        keys: redisKeys(),
        masterKey: MASTER,
        mirrorDir: join(dir, name, "ip-hash-keys"),
        clock: () => T0,
        logger: recordingLogger().logger,
      }),
      masterKey: MASTER,
      clock: () => T0,
      logger: recordingLogger().logger,
    });
    rings.push(r);
    return r;
  };

  /** What the attacker reads: every wrapped key in Redis and in every instance's mirror, opened with the master key. */
  async function stolenKeys(admin: Redis): Promise<Buffer[]> {
    const wrapKey = Buffer.from(
      hkdfSync("sha256", MASTER, "cordon", "cordon ip-hash period key wrap v1", 32),
    );
    const found: { period: string; wrapped: string }[] = [];
    for (const key of await admin.keys("*ip-hash-key:*")) {
      found.push({ period: key.split(":").at(-1) as string, wrapped: (await admin.get(key)) as string });
    }
    for (const name of await readdir(dir)) {
      const mirror = join(dir, name, "ip-hash-keys");
      for (const file of await readdir(mirror)) {
        const period = /^ip-hash-(.+)\.wrapped$/.exec(file)?.[1] as string;
        found.push({ period, wrapped: (await readFile(join(mirror, file), "utf8")).trim() });
      }
    }
    return found.map(({ period, wrapped }) => {
      const raw = Buffer.from(wrapped.split(":")[1] as string, "base64");
      const decipher = createDecipheriv("aes-256-gcm", wrapKey, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(period));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
    });
  }

  it("agrees across instances, and after destruction Redis, the mirrors and the master key link no record", async () => {
    const [a, b] = [await instance("a"), await instance("b")];
    const made: DecisionRecord[] = VICTIMS.map((ip, i) => ({
      decisionId: `d-${i}`,
      at: iso(T0),
      meetingId: "m",
      decision: "allow",
      code: "NO_ORDER",
      orderIds: [],
      jurisdiction: null,
      country: "IN",
      subdivision: null,
      ipPrefix: "49.32.10.0/24",
      ipHash: (i % 2 === 0 ? a : b).hashIp(ip, T0),
      rulesetVersion: 1,
      geoSource: "mmdb",
      geoDbVersion: null,
    }));
    for (const ip of VICTIMS) expect(a.hashIp(ip, T0)).toBe(b.hashIp(ip, T0));
    const admin = new Redis(server.url);
    clients.push(admin);
    expect(bruteForce(made, MASTER, await stolenKeys(admin))).toEqual(new Set(VICTIMS));

    await a.destroy("2026-H1");
    await b.refresh();
    expect(await stolenKeys(admin)).toEqual([]);
    expect(bruteForce(made, MASTER, await stolenKeys(admin))).toEqual(new Set());
    expect(() => b.hashIp(VICTIMS[0] as string, T0)).toThrow(StoreUnavailableError);
  });
});
