/**
 * Console sessions in Redis (REDIS_URL): two apps on one real Redis, each with its own client, as two
 * instances are. A sign-in on A is served by B, outlives A being rebuilt, ends after the idle and the
 * absolute timeout, and the per-principal cap holds whichever instance is signed in on. Redis holds a
 * hash of the session id, never the cookie value, and never the token the user signed in with. (The
 * store's own expectations, on both stores: test/store/session-store-contract.test.ts.)
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { IDLE_MS, MAX_AGE_MS, SESSIONS_PER_PRINCIPAL } from "../../src/console/session.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { RedisSessionStore } from "../../src/store/redis/session-store.js";
import { type ConsoleClient, type Send, signInHttp } from "../support/console-http.js";
import { type Harness, makeHarness, secretOf } from "../support/harness.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

const BASE = "http://localhost";
let redis: RedisServer;
let inspect: Redis;
const clients: RedisClient[] = [];
const harnesses: Harness[] = [];
let run = 0;

beforeAll(async () => {
  redis = await startRedis();
  inspect = new Redis(redis.url);
}, 30_000);

afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
  for (const c of clients.splice(0)) c.disconnect();
});

afterAll(async () => {
  inspect.disconnect();
  await redis.close();
});

/** A fresh key prefix per test: each starts with an empty session table. */
function deployment() {
  const prefix = `sessions-${++run}`;
  return { prefix, keys: redisKeys(prefix) };
}

/** One Cordon instance: its own app and its own Redis client, on the shared Redis. */
async function instance(prefix: string, opts: { idleMs?: number; maxAgeMs?: number } = {}) {
  const client = new Redis(redis.url);
  clients.push(client);
  const h = await makeHarness({
    sessions: (clock) =>
      new RedisSessionStore({ redis: client, keys: redisKeys(prefix).sessions, clock, ...opts }),
  });
  harnesses.push(h);
  const send: Send = async (path, init) => h.app.request(path, init);
  return { h, send };
}

const cookieValue = (client: ConsoleClient) => client.cookie.split("=")[1] as string;
const get = (send: Send, cookie: string, path = "/console/orders") =>
  send(path, { headers: { cookie }, redirect: "manual" });

async function expectSignedIn(send: Send, cookie: string, who = "responder") {
  const res = await get(send, cookie);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain(who);
}

async function expectSignedOut(send: Send, cookie: string) {
  const res = await get(send, cookie);
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/console/sign-in");
}

describe("console sessions on Redis, several instances", () => {
  it("serves on instance B a session signed in on instance A, forms included", async () => {
    const { prefix } = deployment();
    const a = await instance(prefix);
    const b = await instance(prefix);
    const signedIn = await signInHttp(a.send, BASE, secretOf("responder"));
    await expectSignedIn(b.send, signedIn.cookie);
    // The CSRF token A handed out is the one B checks: signing out on B ends the session on A too.
    const out = await b.send("/console/sign-out", {
      method: "POST",
      redirect: "manual",
      headers: { origin: BASE, cookie: signedIn.cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: signedIn.csrf }).toString(),
    });
    expect(out.status).toBe(303);
    await expectSignedOut(a.send, signedIn.cookie);
  });

  it("keeps a session when the instance that signed it in is rebuilt", async () => {
    const { prefix } = deployment();
    const a = await instance(prefix);
    const signedIn = await signInHttp(a.send, BASE, secretOf("approver"));
    for (const h of harnesses.splice(0)) await h.close();
    for (const c of clients.splice(0)) c.disconnect();
    const again = await instance(prefix);
    await expectSignedIn(again.send, signedIn.cookie, "approver");
  });

  it("keeps the language picked on one instance on the other", async () => {
    const { prefix } = deployment();
    const a = await instance(prefix);
    const b = await instance(prefix);
    const signedIn = await signInHttp(a.send, BASE, secretOf("responder"));
    expect((await get(a.send, signedIn.cookie, "/console/orders?lang=nl")).status).toBe(200);
    expect(await (await get(b.send, signedIn.cookie)).text()).toMatch(/<html lang="nl"/);
  });

  it("ends a session unused for the idle timeout, on every instance", async () => {
    const { prefix } = deployment();
    const a = await instance(prefix);
    const b = await instance(prefix);
    const signedIn = await signInHttp(a.send, BASE, secretOf("responder"));
    // Used on B just before the idle timeout: pushed forward for A as well.
    a.h.clock.now += IDLE_MS - 1000;
    b.h.clock.now += IDLE_MS - 1000;
    await expectSignedIn(b.send, signedIn.cookie);
    a.h.clock.now += IDLE_MS - 1000;
    await expectSignedIn(a.send, signedIn.cookie);
    b.h.clock.now = a.h.clock.now + IDLE_MS;
    await expectSignedOut(b.send, signedIn.cookie);
    await expectSignedOut(a.send, signedIn.cookie);
  });

  it("ends a session at the absolute timeout however much it is used", async () => {
    const { prefix } = deployment();
    const a = await instance(prefix);
    const signedIn = await signInHttp(a.send, BASE, secretOf("responder"));
    const signedInAt = a.h.clock.now;
    while (a.h.clock.now + IDLE_MS / 2 < signedInAt + MAX_AGE_MS) {
      a.h.clock.now += IDLE_MS / 2;
      await expectSignedIn(a.send, signedIn.cookie);
    }
    a.h.clock.now = signedInAt + MAX_AGE_MS;
    await expectSignedOut(a.send, signedIn.cookie);
  });

  it("lets Redis drop an idle session by itself (PEXPIRE), with short timeouts", async () => {
    const { prefix, keys } = deployment();
    const a = await instance(prefix, { idleMs: 300 });
    const signedIn = await signInHttp(a.send, BASE, secretOf("responder"));
    const key = keys.sessions.session(createHash("sha256").update(cookieValue(signedIn)).digest("hex"));
    const ttl = await inspect.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    await new Promise((done) => setTimeout(done, 500));
    expect(await inspect.exists(key)).toBe(0);
  });

  it("holds the per-principal cap across instances and ends only that principal's oldest session", async () => {
    const { prefix, keys } = deployment();
    const a = await instance(prefix);
    const b = await instance(prefix);
    const approver = await signInHttp(b.send, BASE, secretOf("approver"));
    const mine: ConsoleClient[] = [];
    for (let i = 0; i <= SESSIONS_PER_PRINCIPAL; i++) {
      mine.push(await signInHttp(i % 2 === 0 ? a.send : b.send, BASE, secretOf("responder")));
    }
    await expectSignedOut(a.send, (mine[0] as ConsoleClient).cookie);
    await expectSignedOut(b.send, (mine[0] as ConsoleClient).cookie);
    for (const s of mine.slice(1)) await expectSignedIn(b.send, s.cookie);
    await expectSignedIn(a.send, approver.cookie, "approver");
    expect(await inspect.zcard(keys.sessions.byPrincipal("responder"))).toBe(SESSIONS_PER_PRINCIPAL);
  });

  it("keys a session by a hash of its id and keeps neither the id nor the signing-in token", async () => {
    const { prefix, keys } = deployment();
    const a = await instance(prefix);
    const signedIn = await signInHttp(a.send, BASE, secretOf("responder"));
    const id = cookieValue(signedIn);
    const all = await inspect.keys(`${prefix}:*`);
    expect(all.length).toBeGreaterThan(0);
    for (const key of all) expect(key).not.toContain(id);
    const key = keys.sessions.session(createHash("sha256").update(id).digest("hex"));
    expect(all).toContain(key);
    const fields = await inspect.hgetall(key);
    expect(fields).toMatchObject({ name: "responder", role: "responder", lang: "en", csrf: signedIn.csrf });
    const stored = JSON.stringify(fields);
    expect(stored).not.toContain(id);
    expect(stored).not.toContain(secretOf("responder"));
    // 256 bits of randomness in the cookie.
    expect(Buffer.from(id, "base64url").length).toBeGreaterThanOrEqual(16);
  });
});

describe("console sessions while Redis is down", () => {
  it("shows the error page to a signed-in user and refuses sign-ins, and serves the session again once Redis is back", async () => {
    const { prefix } = deployment();
    // As `npm start` makes its clients: fail at once while disconnected, never queue.
    const client = createRedis(redis.url, { name: "sessions-test" });
    client.on("error", () => undefined);
    clients.push(client);
    const h = await makeHarness({
      sessions: (clock) => new RedisSessionStore({ redis: client, keys: redisKeys(prefix).sessions, clock }),
    });
    harnesses.push(h);
    const send: Send = async (path, init) => h.app.request(path, init);
    const signedIn = await signInHttp(send, BASE, secretOf("responder"));

    await redis.kill();
    const page = await get(send, signedIn.cookie);
    expect(page.status).toBe(503);
    expect(await page.text()).not.toContain("responder");
    await expect(signInHttp(send, BASE, secretOf("approver"))).rejects.toThrow(/sign-in failed: 503/);

    await redis.start();
    await waitFor(async () => (await get(send, signedIn.cookie)).status === 200, "the session again", 10_000);
    await expectSignedIn(send, signedIn.cookie);
  }, 30_000);
});
