/**
 * Several Cordon processes on one Redis, as in production: an order approved through instance A is
 * enforced by instance B (propagation measured over 100 orders), and under a steady stream of checks
 * Redis is killed and restarted: every check is answered, denials go on, and afterwards the decision
 * stream holds exactly one record per answered check. Also: an instance started while Redis is down
 * enforces the last ruleset it kept on disk.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisKeys } from "../../src/store/redis/keys.js";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import { orderInput } from "../support/harness.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { api, type ServerProcess, startServer, TOKENS, withToken } from "../support/server.js";

let dir: string;
let redis: RedisServer;
let a: ServerProcess;
let b: ServerProcess;
const servers: ServerProcess[] = [];
const keys = redisKeys("cordon");

/** The decisionIds of every entry of every decision partition's stream. */
async function streamIds(client: Redis): Promise<string[]> {
  const ids: string[] = [];
  for (const { stream } of keys.partitions) {
    let from = "-";
    for (;;) {
      const page = (await client.xrange(stream, from, "+", "COUNT", 5000)) as [string, string[]][];
      for (const [, fields] of page) ids.push(fields[fields.indexOf("id") + 1] as string);
      if (page.length < 5000) break;
      from = `(${page.at(-1)?.[0]}`;
    }
  }
  return ids;
}

function envFor(name: string): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    CORDON_DATA_DIR: join(dir, name),
    CORDON_GEOIP_DB: join(dir, "City.mmdb"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "redis-instances-test-ip-hash-key-0123456789",
    CORDON_RULESET_POLL_MS: "1000",
  };
}

async function start(name: string): Promise<ServerProcess> {
  const s = await startServer(envFor(name));
  servers.push(s);
  return s;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-redis-instances-"));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "City.mmdb"), cityDatabase());
  redis = await startRedis();
  [a, b] = await Promise.all([start("a"), start("b")]);
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.stop("SIGKILL");
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;

describe("two instances on one Redis", () => {
  it("enforces on B what was approved on A, within a second (p99 over 100 orders)", async () => {
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const meetingId = `prop-${i}`;
      const created = await api(
        a,
        "POST",
        "/v1/orders",
        "responder",
        orderInput({ target: { kind: "meeting", meetingIds: [meetingId] } }),
      );
      expect(created.status).toBe(201);
      const approved = await api(a, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
      expect(approved.status).toBe(200);
      const answeredAt = performance.now();
      for (;;) {
        const res = await api(b, "POST", "/v1/check", "checker", { meetingId, ip: PLACES.mumbai.ip });
        expect(res.status).toBe(200);
        if (res.body.code === "BLOCKED") break;
        if (performance.now() - answeredAt > 5000)
          throw new Error(`B did not enforce ${meetingId} within 5 s`);
      }
      times.push(performance.now() - answeredAt);
    }
    times.sort((x, y) => x - y);
    const result = {
      orders: times.length,
      p50Ms: quantile(times, 0.5),
      p99Ms: quantile(times, 0.99),
      maxMs: times.at(-1),
    };
    console.log(`propagation A approve -> B denies: ${JSON.stringify(result)}`);
    await mkdir(new URL("../../bench/results/", import.meta.url), { recursive: true });
    await writeFile(
      new URL("../../bench/results/propagation.json", import.meta.url),
      `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`,
    );
    expect(result.p99Ms).toBeLessThan(1000);
    // Both instances enforce the same compiled ruleset.
    const [ra, rb] = await Promise.all([
      api(a, "GET", "/v1/ruleset", "auditor"),
      api(b, "GET", "/v1/ruleset", "auditor"),
    ]);
    expect(rb.body.hash).toBe(ra.body.hash);
    expect(rb.body.version).toBe(ra.body.version);
  }, 120_000);

  it("answers every check through a Redis outage, keeps denying, and logs each check exactly once", async () => {
    const created = await api(
      a,
      "POST",
      "/v1/orders",
      "responder",
      orderInput({ target: { kind: "meeting", meetingIds: ["fault-1"] } }),
    );
    await api(a, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
    // Wait until B enforces it too.
    for (let t = Date.now(); ; ) {
      const res = await api(b, "POST", "/v1/check", "checker", {
        meetingId: "fault-1",
        ip: PLACES.mumbai.ip,
      });
      if (res.body.code === "BLOCKED") break;
      if (Date.now() - t > 5000) throw new Error("B never enforced fault-1");
    }

    const answered = new Set<string>();
    const wrong: unknown[] = [];
    let running = true;
    const callers = [a, b, a, b].map(async (server, w) => {
      for (let i = 0; running; i++) {
        const deny = i % 2 === 0;
        const res = await api(server, "POST", "/v1/check", "checker", {
          meetingId: deny ? "fault-1" : `other-${w}`,
          ip: deny ? PLACES.mumbai.ip : PLACES.amsterdam.ip,
        });
        if (res.status !== 200) wrong.push({ status: res.status, body: res.body });
        else {
          answered.add(res.body.decisionId);
          if (res.body.code !== (deny ? "BLOCKED" : "NO_ORDER")) wrong.push(res.body);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 700));
    await redis.kill();
    // While Redis is down the instances say they are degraded, and keep serving.
    await new Promise((r) => setTimeout(r, 1500));
    const degraded = await (await fetch(`${b.url}/readyz`, withToken("checker"))).json();
    expect(degraded).toMatchObject({ ready: true, degraded: true });
    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await Promise.all(callers);
    expect(wrong).toEqual([]);
    expect(answered.size).toBeGreaterThan(200);

    // After recovery the stream holds exactly one record per answered check (earlier tests' too).
    const client = new Redis(redis.url);
    try {
      const deadline = Date.now() + 20_000;
      let ids: string[] = [];
      for (;;) {
        ids = await streamIds(client);
        if ([...answered].every((id) => ids.includes(id)) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const inStream = new Set(ids);
      expect(ids.length).toBe(inStream.size); // no duplicates
      expect([...answered].filter((id) => !inStream.has(id))).toEqual([]);
    } finally {
      client.disconnect();
    }
    const ready = await (await fetch(`${a.url}/readyz`, withToken("checker"))).json();
    expect(ready.ready).toBe(true);
  }, 120_000);

  it("keeps answering promptly while Redis is stalled (SIGSTOP), and logs each check once after", async () => {
    const answered = new Set<string>();
    const failures: unknown[] = [];
    let slowest = 0;
    let running = true;
    const callers = [a, b].map(async (server) => {
      while (running) {
        const t0 = performance.now();
        const res = await api(server, "POST", "/v1/check", "checker", {
          meetingId: "fault-1",
          ip: PLACES.mumbai.ip,
        });
        slowest = Math.max(slowest, performance.now() - t0);
        if (res.status !== 200 || res.body.code !== "BLOCKED") failures.push(res.body);
        else answered.add(res.body.decisionId);
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    redis.pause();
    await new Promise((r) => setTimeout(r, 2000));
    redis.resume();
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await Promise.all(callers);
    expect(failures).toEqual([]);
    // No check waited on the stalled Redis (its command timeout is a second).
    expect(slowest).toBeLessThan(500);
    const client = new Redis(redis.url);
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ids = await streamIds(client);
        const missing = [...answered].filter((id) => !ids.includes(id));
        if (missing.length === 0) {
          expect(ids.length).toBe(new Set(ids).size);
          break;
        }
        if (Date.now() > deadline)
          throw new Error(`${missing.length} answered checks never reached the stream`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      client.disconnect();
    }
  }, 60_000);

  it("gives the same report from either instance, from the stream's consumer group", async () => {
    const period = (() => {
      const d = new Date();
      return `${d.getUTCFullYear()}-H${d.getUTCMonth() < 6 ? 1 : 2}`;
    })();
    // Every answered check is in the stream by now (the previous tests waited for it).
    const fromA = await api(a, "GET", `/v1/reports/${period}`, "auditor");
    const fromB = await api(b, "GET", `/v1/reports/${period}`, "auditor");
    expect(fromA.status).toBe(200);
    expect(fromB.status).toBe(200);
    const counts = (r: { body: any }) => r.body.enforcement.byJurisdiction["IN-MH"];
    // One BLOCKED per propagation order at least, and the outage tests' denials.
    expect(counts(fromA).deniedJoins).toBeGreaterThan(100);
    expect(counts(fromB)).toEqual(counts(fromA));
    expect(fromA.body.requests.byJurisdiction.IN.complied).toBe(101);
    // Asking again counts nothing twice.
    expect(counts(await api(a, "GET", `/v1/reports/${period}`, "auditor"))).toEqual(counts(fromA));
  }, 60_000);

  it("starts during a Redis outage and enforces the ruleset it kept on disk", async () => {
    await b.stop();
    await redis.kill();
    const again = await start("b");
    try {
      const ready = await (await fetch(`${again.url}/readyz`, withToken("checker"))).json();
      expect(ready).toMatchObject({ ready: true, degraded: true });
      const res = await api(again, "POST", "/v1/check", "checker", {
        meetingId: "fault-1",
        ip: PLACES.mumbai.ip,
      });
      expect(res.status).toBe(200);
      expect(res.body.code).toBe("BLOCKED");
      // Order routes need Redis: a clear 503, not a hang.
      const orders = await api(again, "GET", "/v1/orders", "auditor");
      expect(orders.status).toBe(503);
      expect(orders.body.error.code).toBe("UNAVAILABLE");
    } finally {
      await redis.start();
    }
  }, 60_000);
});
