/**
 * Enforcement events with two Cordon processes on one real Redis: a subscriber that disconnects and
 * resumes on the other instance with its Last-Event-ID gets exactly what it missed; blocks that start
 * and expire by time alone are announced with no request; and though both instances reconcile every
 * change, the stream holds each event once.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisKeys } from "../../src/store/redis/keys.js";
import { compareStreamIds } from "../../src/store/redis/stream-ids.js";
import { cityDatabase } from "../support/fixtures.js";
import { orderInput } from "../support/harness.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { api, type ServerProcess, secret, startServer, TOKENS } from "../support/server.js";
import { SseReader } from "../support/sse.js";

let dir: string;
let redis: RedisServer;
let client: Redis;
let a: ServerProcess;
let b: ServerProcess;
const readers: SseReader[] = [];
const keys = redisKeys("cordon");
let seq = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-events-system-"));
  await writeFile(join(dir, "City.mmdb"), cityDatabase());
  redis = await startRedis();
  client = new Redis(redis.url);
  const env = (name: string) => ({
    REDIS_URL: redis.url,
    CORDON_DATA_DIR: join(dir, name),
    CORDON_GEOIP_DB: join(dir, "City.mmdb"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "enforcement-events-test-ip-hash-key-0123456789",
    CORDON_RULESET_POLL_MS: "1000",
  });
  [a, b] = await Promise.all([startServer(env("a")), startServer(env("b"))]);
}, 60_000);

afterAll(async () => {
  for (const r of readers) await r.close();
  await a?.stop("SIGKILL");
  await b?.stop("SIGKILL");
  client?.disconnect();
  await redis?.close();
  await rm(dir, { recursive: true, force: true });
});

async function subscribe(server: ServerProcess, lastEventId?: string): Promise<SseReader> {
  const res = await fetch(`${server.url}/v1/enforcement/events`, {
    headers: {
      authorization: `Bearer ${secret("checker")}`,
      ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }),
    },
  });
  expect(res.status).toBe(200);
  const reader = new SseReader(res);
  readers.push(reader);
  return reader;
}

async function approvedOn(
  creator: ServerProcess,
  approver: ServerProcess,
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const created = await api(
    creator,
    "POST",
    "/v1/orders",
    "responder",
    orderInput({ target: { kind: "meeting", meetingIds: [`sys-ev-${++seq}`] }, ...overrides }),
  );
  expect(created.status).toBe(201);
  const approved = await api(approver, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
  expect(approved.status).toBe(200);
  return created.body.id;
}

/** Every event in the Redis stream, as `[id, type, orderId]`. */
async function stream(): Promise<[string, string, string][]> {
  const entries = (await client.xrange(keys.enforcement.stream, "-", "+")) as [string, string[]][];
  return entries.map(([id, fields]) => {
    const e = JSON.parse(fields[fields.indexOf("e") + 1] as string);
    return [id, e.type, e.orderId];
  });
}

describe("two instances on one Redis", () => {
  it("a subscriber resuming on the other instance with Last-Event-ID gets exactly what it missed", async () => {
    const start = (await stream()).at(-1)?.[0] ?? "0-0";
    const first = await subscribe(a);
    const o1 = await approvedOn(a, a);
    const o2 = await approvedOn(b, b);
    const o3 = await approvedOn(a, b);
    await first.waitFor(3);
    await first.close();
    // While away: two approvals and a withdrawal, through both instances.
    const o4 = await approvedOn(b, a);
    const o5 = await approvedOn(a, b);
    expect((await api(b, "POST", `/v1/orders/${o1}/withdraw`, "responder", {})).status).toBe(200);

    const second = await subscribe(b, first.events.at(-1)?.id);
    await second.waitFor(3);
    expect(first.data().map((e) => [e.type, e.orderId])).toEqual([
      ["block-effective", o1],
      ["block-effective", o2],
      ["block-effective", o3],
    ]);
    expect(second.data().map((e) => [e.type, e.orderId])).toEqual([
      ["block-effective", o4],
      ["block-effective", o5],
      ["block-lifted", o1],
    ]);
    // No gap, no repeat: together they are the stream since the start, in its order.
    const held = (await stream()).filter(([id]) => compareStreamIds(id, start) > 0);
    expect([...first.events, ...second.events].map((e) => e.id)).toEqual(held.map(([id]) => id));
    // And it follows live from there, also what the other instance publishes.
    const o6 = await approvedOn(a, a);
    await second.waitFor(4);
    expect(second.data()[3].orderId).toBe(o6);
  });

  it("announces a block starting and expiring by time alone, once, with no request", async () => {
    const onA = await subscribe(a);
    const onB = await subscribe(b);
    const now = Date.now();
    const id = await approvedOn(a, b, {
      effectiveFrom: new Date(now + 1500).toISOString(),
      effectiveUntil: new Date(now + 3000).toISOString(),
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(onB.events).toEqual([]);
    // From here on no request reaches either instance.
    await onB.waitFor(2, 8000);
    await onA.waitFor(2, 8000);
    const received = Date.now();
    expect(onB.data().map((e) => [e.type, e.orderId])).toEqual([
      ["block-effective", id],
      ["block-lifted", id],
    ]);
    expect(onA.events.map((e) => e.id)).toEqual(onB.events.map((e) => e.id));
    // Dated at the boundaries (each instance's timer fires there), and announced promptly.
    const [effective, lifted] = onB.data();
    expect(Date.parse(effective.at) - (now + 1500)).toBeLessThan(1000);
    expect(Date.parse(effective.at)).toBeGreaterThanOrEqual(now + 1500);
    expect(Date.parse(lifted.at)).toBeGreaterThanOrEqual(now + 3000);
    expect(received - (now + 3000)).toBeLessThan(2000);
    // Both instances' timers fired at both boundaries; the stream holds each change once.
    await new Promise((r) => setTimeout(r, 500));
    expect((await stream()).filter(([, , orderId]) => orderId === id).map(([, type]) => type)).toEqual([
      "block-effective",
      "block-lifted",
    ]);
  });

  it("holds each approval's event once, though both instances reconcile every change", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await approvedOn(i % 2 ? a : b, i % 2 ? b : a));
    // Let both instances install and reconcile the last ruleset.
    const version = (await api(a, "GET", "/v1/ruleset", "auditor")).body.version;
    for (let t = 0; t < 50; t++) {
      if ((await api(b, "GET", "/v1/ruleset", "auditor")).body.version >= version) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    const held = await stream();
    for (const id of ids) {
      expect(held.filter(([, , orderId]) => orderId === id).map(([, type]) => type)).toEqual([
        "block-effective",
      ]);
    }
  });

  it("answers 400 with the envelope for a cursor that is not a stream id", async () => {
    const res = await fetch(`${b.url}/v1/enforcement/events?since=12`, {
      headers: { authorization: `Bearer ${secret("checker")}` },
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({
      code: "BAD_REQUEST",
      issues: [{ path: "query.since" }],
    });
  });
});
