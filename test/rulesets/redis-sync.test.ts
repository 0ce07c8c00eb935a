/**
 * Ruleset distribution over a real redis-server: two "instances" in one process (each its own
 * RulesetCompiler, RulesetSync, Redis channel with its clients, and disk mirror). Instance A compiles
 * from an in-memory list of orders built with the real engine, as `refresh()` does after an order
 * change; B only receives.
 * Faults are real too: the server is killed, paused, and restarted with its data gone.
 */

import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  compile,
  createOrder,
  decide,
  fromDocument,
  type Order,
  OrderInput,
  type Ruleset,
  toDocument,
  transition,
} from "../../src/engine/index.js";
import { type Logger, SILENT_LOGGER } from "../../src/kernel/logger.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { encodeRulesetFile } from "../../src/platform/node/ruleset-file.js";
import { RulesetCompiler } from "../../src/rulesets/compiler.js";
import { DiskMirror } from "../../src/rulesets/disk-mirror.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { DOCUMENT_FORMAT, RedisRulesetChannel } from "../../src/rulesets/redis-channel.js";
import type { RulesetSync } from "../../src/rulesets/redis-sync.js";
import { rulesetJson } from "../../src/rulesets/ruleset-json.js";
import type { AuditEntry } from "../../src/store/interface.js";
import { type RedisKeys, redisKeys } from "../../src/store/redis/keys.js";
import { registerTestMetrics, type TestMetrics } from "../support/metrics.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { rehash } from "../support/ruleset-hash.js";

const HOUR = 3_600_000;
const T0 = Date.parse("2026-03-01T12:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const MUMBAI = { country: "IN", subdivisions: ["IN-MH"] } as const;

let telemetry: TestMetrics;
let server: RedisServer;
let admin: RedisClient;
let dir: string;
// Imported after the meter provider is registered, so its instruments are real (the API's are not proxies).
let Sync: typeof RulesetSync;

beforeAll(async () => {
  telemetry = registerTestMetrics();
  Sync = (await import("../../src/rulesets/redis-sync.js")).RulesetSync;
  server = await startRedis();
  // Queues while the server is away, so a test can read Redis right after restarting it.
  admin = createRedis(server.url, {
    name: "test-admin",
    overrides: { enableOfflineQueue: true, retryStrategy: () => 50, maxRetriesPerRequest: null },
  });
  admin.on("error", () => {});
  dir = await mkdtemp(join(tmpdir(), "cordon-sync-"));
});
afterAll(async () => {
  admin.disconnect();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** One approved order blocking Maharashtra from `meetingId`, through the real life cycle. */
function approvedOrder(id: string, meetingId: string, overrides: Record<string, unknown> = {}): Order {
  const input = OrderInput.parse({
    reference: `WP/${id}`,
    authority: { name: "High Court", jurisdiction: "IN", kind: "court" },
    jurisdictions: ["IN-MH"],
    target: { kind: "meeting", meetingIds: [meetingId] },
    receivedAt: iso(T0 - 48 * HOUR),
    ...overrides,
  });
  const order = createOrder(input, { id, actor: "responder-1", at: iso(T0 - 47 * HOUR) });
  return transition(order, { type: "approve" }, "approver-1", iso(T0 - 24 * HOUR));
}

/** The order store as `refresh` sees it; each `approve` stands for one order change (one store seq). */
class MemoryOrders {
  orders: Order[] = [];
  seq = 0;
  /** The history's epoch, as the Redis store reports it; none, as the embedded store. */
  history: string | undefined;
  async epoch() {
    return this.history;
  }
  async head() {
    return { seq: this.seq, hash: "" };
  }
  async listOrders() {
    return [...this.orders];
  }
  /** The changes since a version, as the stores give them: what makes the compiles incremental. */
  async readAudit({ after, limit }: { after: number; limit: number }) {
    return this.orders
      .map((order, i) => ({ seq: i + 1, order }))
      .filter((e) => e.seq > after)
      .slice(0, limit) as unknown as AuditEntry[];
  }
  approve(meetingId: string): void {
    this.seq++;
    this.orders.push(approvedOrder(`o-${this.seq}`, meetingId));
  }
}

type LogLine = { level: string; message: string; fields?: Record<string, unknown> };

interface Instance {
  name: string;
  orders: MemoryOrders;
  compiler: RulesetCompiler;
  sync: RulesetSync;
  redis: RedisClient;
  subscriber: RedisClient;
  localPath: string;
  logs: LogLine[];
}

interface InstanceOptions {
  keys: RedisKeys;
  pollMs?: number;
  localPath?: string;
  compiler?: RulesetCompiler;
  orders?: MemoryOrders;
  commandTimeoutMs?: number;
  /** Delay before the subscriber reconnects (to make it miss messages for a while). */
  subscriberRetryMs?: number;
  trustsEpoch?: (epoch: string) => boolean;
}

const open: { syncs: RulesetSync[]; clients: RedisClient[] } = { syncs: [], clients: [] };
afterEach(async () => {
  if (!server.running()) await server.start();
  server.resume();
  await Promise.all(open.syncs.splice(0).map((s) => s.stop()));
  for (const c of open.clients.splice(0)) c.disconnect();
});

let seq = 0;
function keysForTest(): RedisKeys {
  return redisKeys(`t${++seq}`);
}

async function instance(name: string, opts: InstanceOptions): Promise<Instance> {
  const logs: LogLine[] = [];
  const logger = Object.fromEntries(
    (["debug", "info", "warn", "error"] as const).map((level) => [
      level,
      (message: string, fields?: Record<string, unknown>) =>
        logs.push({ level, message, ...(fields ? { fields } : {}) }),
    ]),
  ) as unknown as Logger;
  const orders = opts.orders ?? new MemoryOrders();
  const compiler = opts.compiler ?? new RulesetCompiler(orders, new RulesetHolder(() => T0), () => T0);
  const prefix = opts.keys.ruleset.split(":")[0];
  const redis = createRedis(server.url, {
    name: `${prefix}-${name}`,
    commandTimeoutMs: opts.commandTimeoutMs ?? 1000,
    overrides: { retryStrategy: () => 50 },
  });
  const subscriber = createRedis(server.url, {
    name: `${prefix}-${name}-sub`,
    commandTimeoutMs: opts.commandTimeoutMs ?? 1000,
    overrides: { retryStrategy: () => opts.subscriberRetryMs ?? 50 },
  });
  open.clients.push(redis, subscriber);
  const localPath = opts.localPath ?? join(dir, `${prefix}-${name}`, "ruleset.json");
  const sync = await Sync.start({
    compiler,
    channel: new RedisRulesetChannel(redis, subscriber, opts.keys),
    mirror: new DiskMirror(localPath.replace(/\.json$/, ".mirror"), logger, { legacyPath: localPath }),
    pollMs: opts.pollMs ?? 60_000,
    connectWaitMs: 1000,
    ...(opts.trustsEpoch ? { trustsEpoch: opts.trustsEpoch } : {}),
    logger,
    clock: () => T0,
  });
  open.syncs.push(sync);
  return { name, orders, compiler, sync, redis, subscriber, localPath, logs };
}

async function stopInstance(i: Instance): Promise<void> {
  await i.sync.stop();
  i.redis.disconnect();
  i.subscriber.disconnect();
}

async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - start;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const verdict = (ruleset: Ruleset, meetingId: string) =>
  decide(ruleset, { meetingId, location: MUMBAI }, T0).decision;

/** The version an instance whose mirror is at `path` (its legacy `ruleset.json`) would start from. */
async function fileVersion(path: string): Promise<number> {
  const mirror = new DiskMirror(path.replace(/\.json$/, ".mirror"), SILENT_LOGGER, { legacyPath: path });
  return (await mirror.load())?.version ?? -1;
}

const collect = (name: string) => telemetry.points(name);

/** Two instances on fresh keys (on one order store when given), both at v1 (an order approved on A). */
async function twoAtVersionOne(
  orders?: MemoryOrders,
): Promise<{ keys: RedisKeys; a: Instance; b: Instance }> {
  const keys = keysForTest();
  const a = await instance("a", { keys, ...(orders ? { orders } : {}) });
  const b = await instance("b", { keys, ...(orders ? { orders } : {}) });
  a.orders.approve("m-1");
  await a.compiler.refresh();
  await waitFor("B at v1", () => b.compiler.holder.current().version === 1);
  return { keys, a, b };
}

/** How many times any instance read the ruleset document whole while `run` ran. */
async function wholeReadsDuring(run: () => Promise<void>): Promise<number> {
  const reads = vi.spyOn(RedisRulesetChannel.prototype, "readDocument");
  try {
    await run();
    return reads.mock.calls.length;
  } finally {
    reads.mockRestore();
  }
}

describe("distribution", () => {
  it("denies on B an order approved on A, within a second at p99, through the pub/sub message", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys });
    const b = await instance("b", { keys });
    const latencies: number[] = [];
    for (let i = 1; i <= 60; i++) {
      const meetingId = `m-${i}`;
      const start = performance.now();
      a.orders.approve(meetingId);
      // What the orders service does before it answers the approval.
      await a.compiler.refresh();
      await waitFor(
        `B to deny ${meetingId}`,
        () => verdict(b.compiler.holder.current(), meetingId) === "deny",
      );
      latencies.push(performance.now() - start);
    }
    latencies.sort((x, y) => x - y);
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1] ?? Number.POSITIVE_INFINITY;
    expect(p99).toBeLessThan(1000);

    expect(b.compiler.holder.current().version).toBe(60);
    expect(b.compiler.holder.current().hash).toBe(a.compiler.holder.current().hash);
    expect(await admin.get(keys.rulesetVersion)).toBe("60");
    expect(b.sync.status()).toMatchObject({
      source: "redis",
      version: 60,
      redisVersion: 60,
      degraded: false,
    });
    expect(a.sync.status()).toMatchObject({ source: "redis", version: 60, degraded: false });
    await b.sync.stop();
    expect(await fileVersion(b.localPath)).toBe(60);
    expect(await fileVersion(a.localPath)).toBe(60);
  });

  it("brings B each change by the delta Redis keeps beside the document, never reading the document whole", async () => {
    const { keys, a, b } = await twoAtVersionOne();
    const wholeReads = await wholeReadsDuring(async () => {
      for (let i = 2; i <= 6; i++) {
        a.orders.approve(`m-${i}`);
        await a.compiler.refresh();
        await waitFor(`B at v${i}`, () => b.compiler.holder.current().version === i);
        expect(verdict(b.compiler.holder.current(), `m-${i}`)).toBe("deny");
      }
    });
    // Each change travelled as its delta: a few hundred bytes, not the document of every order.
    expect(wholeReads).toBe(0);
    expect(b.compiler.holder.current().hash).toBe(a.compiler.holder.current().hash);
    expect(await admin.xlen(keys.rulesetDeltas)).toBe(5);
    expect(b.sync.status()).toMatchObject({ source: "redis", version: 6, redisVersion: 6, degraded: false });
  });

  it("sends a delta for a change made on either instance of one store, each building on the other's version", async () => {
    const orders = new MemoryOrders();
    const { keys, a, b } = await twoAtVersionOne(orders);
    const wholeReads = await wholeReadsDuring(async () => {
      for (let i = 2; i <= 5; i++) {
        // Changes made through either instance in turn, as behind a load balancer.
        const [maker, other] = i % 2 === 0 ? [b, a] : [a, b];
        orders.approve(`m-${i}`);
        await maker.compiler.refresh();
        await waitFor(`${other.name} at v${i}`, () => other.compiler.holder.current().version === i);
        expect(verdict(other.compiler.holder.current(), `m-${i}`)).toBe("deny");
      }
    });
    expect(wholeReads).toBe(0);
    expect(a.compiler.holder.current().hash).toBe(b.compiler.holder.current().hash);
    expect(await admin.xlen(keys.rulesetDeltas)).toBe(4);
  });

  it("takes Redis as an earlier release left it (its document key, deltas by time) and moves it on", async () => {
    const keys = keysForTest();
    const orders = new MemoryOrders();
    orders.approve("m-1");
    const v1 = compile(orders.orders, { version: 1, compiledAt: iso(T0) });
    await admin.set(keys.rulesetEarlierDocument, rulesetJson(v1));
    await admin.set(keys.rulesetVersion, "1");
    // An entry B must not take for a delta of v1.
    await admin.xadd(keys.rulesetDeltas, "*", "v", "2", "d", '{"not":"a delta"}');
    const a = await instance("a", { keys, orders });
    const b = await instance("b", { keys, orders });
    expect(b.compiler.holder.current().hash).toBe(v1.hash);
    orders.approve("m-2");
    await a.compiler.refresh();
    await waitFor("B at v2", () => b.compiler.holder.current().version === 2);
    expect(b.compiler.holder.current().hash).toBe(a.compiler.holder.current().hash);
    expect(verdict(b.compiler.holder.current(), "m-2")).toBe("deny");
    // The document at its key now, the earlier one gone (an instance of that release says it finds none).
    expect(await admin.get(keys.rulesetDocumentVersion)).toBe("2");
    expect(await admin.get(keys.rulesetEarlierDocument)).toBeNull();
    for (const [id] of await admin.xrange(keys.rulesetDeltas, "-", "+")) expect(id).toBe("2-0");
  });

  it("catches up from the document and the deltas after it when its own version is not among them", async () => {
    const { keys, a } = await twoAtVersionOne();
    for (let i = 2; i <= 4; i++) {
      a.orders.approve(`m-${i}`);
      await a.compiler.refresh();
    }
    // An instance whose file holds a ruleset no delta is based on (compiled elsewhere, never stored).
    const localPath = join(dir, `${keys.ruleset.split(":")[0]}-stray`, "ruleset.json");
    const stray = compile([approvedOrder("o-x", "m-x")], { version: 2, compiledAt: iso(T0) });
    await mkdir(join(localPath, ".."), { recursive: true });
    await writeFile(localPath, JSON.stringify(toDocument(stray)));
    const c = await instance("c", { keys, localPath });
    await waitFor("C at v4", () => c.compiler.holder.current().version === 4);
    expect(c.compiler.holder.current().hash).toBe(a.compiler.holder.current().hash);
    expect(verdict(c.compiler.holder.current(), "m-x")).toBe("allow");
    expect(c.sync.status()).toMatchObject({ source: "redis", degraded: false });
  });
  it("never lets a compile that finishes late overwrite a newer ruleset", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys });
    const b = await instance("b", { keys });
    for (const m of ["m-1", "m-2", "m-3", "m-4", "m-5"]) a.orders.approve(m);
    const at = (version: number) =>
      compile(a.orders.orders.slice(0, version), { version, compiledAt: iso(T0) });

    await a.sync.publish(at(3));
    await a.sync.publish(at(2));
    expect(await admin.get(keys.rulesetVersion)).toBe("3");
    // Two compiles racing: whichever lands second, the newer one stays.
    await Promise.all([a.sync.publish(at(5)), a.sync.publish(at(4))]);
    expect(await admin.get(keys.rulesetVersion)).toBe("5");
    expect((await documentIn(keys))?.hash).toBe(at(5).hash);

    await waitFor("B at v5", () => b.compiler.holder.current().version === 5);
    await sleep(100);
    expect(b.compiler.holder.current().hash).toBe(at(5).hash);
    expect(b.compiler.holder.install(at(2), "redis")).toBe(false);
    expect(b.compiler.holder.current().version).toBe(5);
  });

  it("catches up by version check when its subscriber reconnects after missing messages", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys });
    const b = await instance("b", { keys, subscriberRetryMs: 400 });
    a.orders.approve("m-1");
    await a.compiler.refresh();
    await waitFor("B at v1", () => b.compiler.holder.current().version === 1);

    const list = (await admin.client("LIST")) as string;
    const line = list
      .split("\n")
      .find((l) => l.includes(` name=cordon-${keys.ruleset.split(":")[0]}-b-sub `));
    const id = line?.match(/^id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await admin.client("KILL", "ID", id ?? "");
    for (const m of ["m-2", "m-3", "m-4", "m-5"]) {
      a.orders.approve(m);
      await a.compiler.refresh();
    }
    // Every message went out while B's subscriber was gone, and its poll is a minute away.
    expect(b.compiler.holder.current().version).toBe(1);
    expect(verdict(b.compiler.holder.current(), "m-5")).toBe("allow");
    const waited = await waitFor(
      "B to catch up to v5",
      () => b.compiler.holder.current().version === 5,
      3000,
    );
    expect(waited).toBeLessThan(3000);
    expect(verdict(b.compiler.holder.current(), "m-5")).toBe("deny");
    await waitFor("B healthy again", () => !b.sync.status().degraded);
  });

  it("catches up from its file and then Redis when an instance that was stopped starts again", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys });
    const b = await instance("b", { keys });
    a.orders.approve("m-1");
    await a.compiler.refresh();
    await waitFor("B at v1", () => b.compiler.holder.current().version === 1);
    await stopInstance(b);
    for (const m of ["m-2", "m-3"]) {
      a.orders.approve(m);
      await a.compiler.refresh();
    }
    const again = await instance("b", { keys, localPath: b.localPath });
    expect(again.compiler.holder.current().version).toBe(3);
    expect(again.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining(["ruleset installed from local file", "ruleset installed from redis"]),
    );
    expect(again.sync.status()).toMatchObject({ source: "redis", degraded: false });
  });

  it("catches up by polling when no message arrives at all", async () => {
    const keys = keysForTest();
    const b = await instance("b", { keys, pollMs: 200 });
    const orders = [approvedOrder("o-1", "m-1"), approvedOrder("o-2", "m-2")];
    const v7 = compile(orders, { version: 7, compiledAt: iso(T0) });
    // Written behind Cordon's back: no PUBLISH, so only the poll can find it.
    await admin.set(keys.ruleset, encodeRulesetFile(DOCUMENT_FORMAT, v7, {}));
    await admin.set(keys.rulesetVersion, "7");
    const waited = await waitFor("B at v7", () => b.compiler.holder.current().version === 7, 2000);
    expect(waited).toBeLessThan(1000);
    expect(b.compiler.holder.current().hash).toBe(v7.hash);
    expect(verdict(b.compiler.holder.current(), "m-2")).toBe("deny");
  });

  it("swaps atomically: every check sees a whole ruleset, its contents matching its version", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys });
    const b = await instance("b", { keys });
    const N = 30;
    const expected = new Map<number, string>([[0, b.compiler.holder.current().hash]]);
    const scratch = new MemoryOrders();
    for (let v = 1; v <= N; v++) {
      scratch.approve(`m-${v}`);
      expected.set(v, compile(scratch.orders, { version: v, compiledAt: iso(T0) }).hash);
    }

    const seen = new Set<number>();
    let checks = 0;
    let done = false;
    const checker = (async () => {
      while (!done) {
        const r = b.compiler.holder.current();
        seen.add(r.version);
        checks++;
        // Version k holds exactly the orders for m-1..m-k: the hash, the count and the verdicts agree.
        expect(r.hash).toBe(expected.get(r.version));
        expect(fromDocument(toDocument(r)).hash).toBe(r.hash);
        expect(r.orders.length).toBe(r.version);
        if (r.version > 0) expect(verdict(r, `m-${r.version}`)).toBe("deny");
        expect(verdict(r, `m-${r.version + 1}`)).toBe("allow");
        // A snapshot held across an await stays what it was (frozen, never patched in place).
        const hash = r.hash;
        await new Promise((resolve) => setImmediate(resolve));
        expect(r.hash).toBe(hash);
        expect(r.orders.length).toBe(r.version);
      }
    })();
    for (let v = 1; v <= N; v++) {
      a.orders.approve(`m-${v}`);
      void a.compiler.refresh();
      await sleep(1);
    }
    await waitFor(`B at v${N}`, () => b.compiler.holder.current().version === N);
    done = true;
    await checker;
    // The checks ran while versions were being swapped in: they saw intermediate ones, not only the ends.
    // (How many turns the loop made depends on the machine's load, so it is not asserted.)
    expect(seen.size).toBeGreaterThan(2);
    expect(checks).toBeGreaterThanOrEqual(seen.size);
  });
});

/** An instance on fresh keys at v`n` (n orders, approved at once: one compile, stored whole). */
async function seeded(n: number, pollMs?: number): Promise<{ keys: RedisKeys; a: Instance }> {
  const keys = keysForTest();
  const a = await instance("a", { keys, ...(pollMs ? { pollMs } : {}) });
  for (let i = 1; i <= n; i++) a.orders.approve(`m-${i}`);
  await a.compiler.refresh();
  return { keys, a };
}

/** Approves one order on `a` per version up to `last`, each compiled and published. */
async function changeUpTo(a: Instance, last: number): Promise<void> {
  while (a.orders.seq < last) {
    a.orders.approve(`m-${a.orders.seq + 1}`);
    await a.compiler.refresh();
  }
}

async function uploadsLeft(keys: RedisKeys): Promise<string[]> {
  return admin.keys(keys.rulesetUpload("*"));
}

/** The document Redis holds, read and verified as an instance reads it. */
function documentIn(keys: RedisKeys): Promise<Ruleset | null> {
  return new RedisRulesetChannel(admin, admin, keys).readDocument();
}

describe("the document and the deltas after it", () => {
  it("stores a change of one order as its delta alone: the document stays, and a new instance reads both", async () => {
    const { keys, a } = await seeded(200);
    const document = await admin.getBuffer(keys.ruleset);
    expect(await admin.get(keys.rulesetDocumentVersion)).toBe("200");
    await changeUpTo(a, 205);
    // Five changes: Redis holds v205, and the document of v200 untouched (170 MB at a million orders).
    expect(await admin.get(keys.rulesetVersion)).toBe("205");
    expect(await admin.getBuffer(keys.ruleset)).toEqual(document);
    expect(await admin.get(keys.rulesetDocumentVersion)).toBe("200");
    const deltas = await admin.xrange(keys.rulesetDeltas, "-", "+");
    expect(deltas.map(([id]) => id)).toEqual(["201-0", "202-0", "203-0", "204-0", "205-0"]);
    const chars = deltas.reduce((sum, [, fields]) => sum + (fields[3] as string).length, 0);
    expect(await admin.hgetall(keys.rulesetChain)).toEqual({ n: "5", chars: String(chars) });

    let c: Instance | undefined;
    const wholeReads = await wholeReadsDuring(async () => {
      c = await instance("c", { keys });
    });
    expect(wholeReads).toBe(1);
    expect(c?.compiler.holder.current().hash).toBe(a.compiler.holder.current().hash);
    expect(verdict(c?.compiler.holder.current() as Ruleset, "m-205")).toBe("deny");
    expect(c?.sync.status()).toMatchObject({ version: 205, redisVersion: 205, degraded: false });
  });

  it("stores a newer document in pieces once the deltas after it are long enough, trimming the ones well before", async () => {
    // One order: its document is a few hundred characters, so the first delta makes a new one due.
    const { keys, a, b } = await twoAtVersionOne();
    await changeUpTo(a, 4);
    // Stored in the background, after the publish that made it due.
    let documentVersion = 1;
    for (const start = performance.now(); documentVersion < 2 && performance.now() - start < 3000; ) {
      documentVersion = Number(await admin.get(keys.rulesetDocumentVersion));
      await sleep(5);
    }
    expect(documentVersion).toBeGreaterThanOrEqual(2);
    await a.sync.stop();
    expect(await uploadsLeft(keys)).toEqual([]);
    expect(await admin.ttl(keys.ruleset)).toBe(-1);
    // The document is that version's, whole and verified, and the counts are those of the deltas after it.
    documentVersion = Number(await admin.get(keys.rulesetDocumentVersion));
    const document = (await documentIn(keys)) as Ruleset;
    expect(document.version).toBe(documentVersion);
    expect(document.hash).toBe(
      compile(a.orders.orders.slice(0, documentVersion), { version: documentVersion, compiledAt: iso(T0) })
        .hash,
    );
    const after = await admin.xrange(keys.rulesetDeltas, `${documentVersion + 1}-0`, "+");
    expect((await admin.hgetall(keys.rulesetChain)).n).toBe(String(after.length));
    const c = await instance("c", { keys });
    expect(c.compiler.holder.current().hash).toBe(b.compiler.holder.current().hash);
    expect(c.compiler.holder.current().version).toBe(4);
  });

  it("stores the document whole with the change once the deltas after it are at their bound", async () => {
    const { keys, a } = await seeded(200);
    await changeUpTo(a, 201);
    await admin.hset(keys.rulesetChain, "n", "1024");
    await changeUpTo(a, 202);
    expect(await admin.get(keys.rulesetDocumentVersion)).toBe("202");
    expect((await documentIn(keys))?.hash).toBe(a.compiler.holder.current().hash);
    // The delta joined the stream all the same, for instances at v201.
    expect((await admin.xrange(keys.rulesetDeltas, "-", "+")).map(([id]) => id)).toEqual(["201-0", "202-0"]);
    expect(await admin.hgetall(keys.rulesetChain)).toEqual({ n: "0", chars: "0" });
  });

  it("drops an upload that is not whole, expired, or no longer one the deltas lead on from", async () => {
    const { keys, a } = await seeded(200);
    await changeUpTo(a, 202);
    // Small pieces: a ruleset of 200 orders is a few of them.
    const channel = new RedisRulesetChannel(admin, admin, keys, { pieceBytes: 1024 });
    const document = await admin.getBuffer(keys.ruleset);
    const v202 = a.compiler.holder.current();
    const at = (version: number) =>
      compile(a.orders.orders.slice(0, version), { version, compiledAt: iso(T0) });
    const between = async () => {};
    // Not newer than the document held, and past the version in force.
    expect(await channel.storeDocument(at(200), between)).toBe(false);
    expect(await channel.storeDocument(at(203), between)).toBe(false);
    // Another writer's bytes slipped in between two pieces: not the length sent.
    const tampered = async () => {
      for (const upload of await uploadsLeft(keys)) await admin.append(upload, "x");
    };
    expect(await channel.storeDocument(v202, tampered)).toBe(false);
    // Expired between two pieces: the rest never starts a new upload.
    const expiring = async () => {
      for (const upload of await uploadsLeft(keys)) await admin.del(upload);
    };
    await expect(channel.storeDocument(v202, expiring)).rejects.toThrow(/expired/);
    expect(await uploadsLeft(keys)).toEqual([]);
    expect(await admin.getBuffer(keys.ruleset)).toEqual(document);
    expect(await admin.get(keys.rulesetDocumentVersion)).toBe("200");
    // The one that will do, in pieces.
    let pieces = 1;
    expect(await channel.storeDocument(v202, async () => void pieces++)).toBe(true);
    expect(pieces).toBeGreaterThan(3);
    expect(await admin.getBuffer(keys.ruleset)).toEqual(encodeRulesetFile(DOCUMENT_FORMAT, v202, {}));
    expect(await admin.get(keys.rulesetDocumentVersion)).toBe("202");
    expect((await channel.readDocument())?.hash).toBe(v202.hash);
  });

  it("refuses a document whose orders are not those its bucket digests stand for", async () => {
    const { keys, a } = await seeded(200);
    const v200 = a.compiler.holder.current();
    // Every byte accounted for (the trailer's checksum recomputed), but an order's blocks widened
    // inside its authority: only the digest of its bucket, made from the orders, can tell.
    const text = encodeRulesetFile(DOCUMENT_FORMAT, v200, {}).toString("utf8").split("\n");
    const line = text.findIndex((l) => l.startsWith("[") && l.includes('"m-7"'));
    const tables = JSON.parse(text[text.length - 3] as string);
    tables.jurisdictions.push(["IN-MH", "IN-KA"]);
    const bucket = JSON.parse(text[line] as string);
    bucket[6] = bucket[6].map(() => tables.jurisdictions.length - 1);
    text[line] = JSON.stringify(bucket);
    text[text.length - 3] = JSON.stringify(tables);
    const body = `${text.slice(0, -2).join("\n")}\n`;
    const forged = `${body}${JSON.stringify({ sha256: createHash("sha256").update(body).digest("hex") })}\n`;
    await admin.set(keys.ruleset, forged);
    const c = await instance("c", { keys });
    expect(c.compiler.holder.isLoaded()).toBe(false);
    expect(c.sync.status().reason).toMatch(/unreadable ruleset document .*digest is not that of its orders/);
  });

  it("keeps what it reached and says so when the deltas do not lead on, until the publisher stores a document", async () => {
    const { keys, a } = await seeded(200, 500);
    await changeUpTo(a, 201);
    // A delta that is not one (a bug, or a hand in Redis): nothing after the document can follow on.
    await admin.del(keys.rulesetDeltas);
    await admin.xadd(keys.rulesetDeltas, "201-0", "v", "201", "d", '{"not":"a delta"}');
    let c: Instance = a;
    const wholeReads = await wholeReadsDuring(async () => {
      c = await instance("c", { keys, pollMs: 50 });
      // Asked for; A, which stored v201, uploads its document at its next poll, with no order changing.
      await waitFor("C at v201", () => c.compiler.holder.current().version === 201);
    });
    // The document of v200 once (its polls meanwhile do not read it again), then the new one.
    expect(wholeReads).toBe(2);
    expect(c.compiler.holder.current().hash).toBe(a.compiler.holder.current().hash);
    expect(await admin.get(keys.rulesetDocumentVersion)).toBe("201");
    await waitFor("C no longer degraded", () => !c.sync.status().degraded);
    expect(await admin.hget(keys.rulesetChain, "wanted")).toBeNull();
    // Until then C enforced v200, the furthest it could verify, and said why.
    const installed = c.logs.filter((l) => l.message === "ruleset installed from redis");
    expect(installed.map((l) => l.fields?.version)).toEqual([200, 201]);
    expect(c.logs.filter((l) => l.message === "ruleset in redis refused; keeping ours")).toEqual([
      expect.objectContaining({
        fields: {
          reason: "redis holds ruleset v201, but its document and the deltas after it lead only to v200",
        },
      }),
    ]);
  });
});

describe("faults", () => {
  it("starts from its local file when Redis is down, ready but degraded, and recovers when Redis returns", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys });
    const b = await instance("b", { keys });
    a.orders.approve("m-1");
    a.orders.approve("m-2");
    await a.compiler.refresh();
    await waitFor("B at v2", () => b.compiler.holder.current().version === 2);
    await stopInstance(a);
    await stopInstance(b);
    expect(await fileVersion(b.localPath)).toBe(2);

    const installs = async (source: string) =>
      ((await collect("cordon.ruleset.installs")).find((p) => p.attributes.source === source)?.value as
        | number
        | undefined) ?? 0;
    const diskBefore = await installs("disk");

    await server.kill();
    const fresh = await instance("b", { keys, localPath: b.localPath, pollMs: 100 });
    expect(fresh.compiler.holder.isLoaded()).toBe(true);
    expect(fresh.compiler.holder.current().version).toBe(2);
    expect(fresh.compiler.holder.current().hash).toBe(a.compiler.holder.current().hash);
    expect(verdict(fresh.compiler.holder.current(), "m-2")).toBe("deny");
    const status = fresh.sync.status();
    expect(status).toMatchObject({ source: "disk", version: 2, connected: false, degraded: true });
    expect(status.reason).toMatch(/^redis unavailable/);
    expect(fresh.sync.readiness()).toMatchObject({ name: "ruleset-sync", ready: true });
    expect(await installs("disk")).toBe(diskBefore + 1);
    expect((await collect("cordon.ruleset.degraded"))[0]?.value).toBe(1);
    expect((await collect("cordon.ruleset.version"))[0]?.value).toBe(2);
    const errors = await collect("cordon.redis.errors");
    expect(errors.find((p) => p.attributes.component === "ruleset")?.value).toBeGreaterThan(0);

    await server.start();
    await waitFor("B healthy", () => !fresh.sync.status().degraded);
    expect(fresh.sync.status()).toMatchObject({
      source: "disk",
      version: 2,
      redisVersion: 2,
      connected: true,
    });
    expect((await collect("cordon.ruleset.degraded"))[0]?.value).toBe(0);
  });

  it("keeps enforcing while Redis is down, retries an approval's publish, and recovers when it returns", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys, pollMs: 100 });
    const b = await instance("b", { keys, pollMs: 100 });
    a.orders.approve("m-1");
    await a.compiler.refresh();
    await waitFor("B at v1", () => b.compiler.holder.current().version === 1);

    await server.kill();
    await waitFor("B degraded", () => b.sync.status().degraded);
    expect(b.sync.status()).toMatchObject({ version: 1, connected: false });
    expect(verdict(b.compiler.holder.current(), "m-1")).toBe("deny");

    // An approval committed while Redis is away (the store was reachable a moment before): answered,
    // enforced on A, and published once Redis is back.
    a.orders.approve("m-2");
    await expect(a.compiler.refresh()).resolves.toMatchObject({ version: 2 });
    expect(verdict(a.compiler.holder.current(), "m-2")).toBe("deny");
    expect(a.sync.status()).toMatchObject({ source: "local", version: 2, degraded: true });

    await server.start();
    await waitFor("B at v2", () => b.compiler.holder.current().version === 2, 5000);
    expect(verdict(b.compiler.holder.current(), "m-2")).toBe("deny");
    await waitFor("both healthy", () => !a.sync.status().degraded && !b.sync.status().degraded);
    expect(a.sync.status()).toMatchObject({ source: "redis", redisVersion: 2 });
    expect(await admin.get(keys.rulesetVersion)).toBe("2");
  });

  it("keeps answering from its ruleset while Redis is too slow, degraded until it answers again", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys });
    const b = await instance("b", { keys, pollMs: 100, commandTimeoutMs: 200 });
    a.orders.approve("m-1");
    await a.compiler.refresh();
    await waitFor("B at v1", () => b.compiler.holder.current().version === 1);

    server.pause();
    try {
      await waitFor("B degraded", () => b.sync.status().degraded);
      expect(b.sync.status().reason).toMatch(/timed out/i);
      expect(verdict(b.compiler.holder.current(), "m-1")).toBe("deny");
    } finally {
      server.resume();
    }
    await waitFor("B healthy", () => !b.sync.status().degraded);
  });

  it("keeps the last ruleset when Redis comes back empty, says so, and does not re-seed it", async () => {
    const keys = keysForTest();
    const a = await instance("a", { keys, pollMs: 100 });
    const b = await instance("b", { keys, pollMs: 100 });
    for (const m of ["m-1", "m-2", "m-3"]) a.orders.approve(m);
    await a.compiler.refresh();
    await waitFor("B at v3", () => b.compiler.holder.current().version === 3);

    await server.kill();
    await server.start({ fresh: true });
    await waitFor("B to notice the loss", () => /data loss/.test(b.sync.status().reason ?? ""));
    expect(b.sync.status()).toMatchObject({
      version: 3,
      degraded: true,
      reason: "redis holds no ruleset; v3 enforced here (data loss?)",
    });
    expect(verdict(b.compiler.holder.current(), "m-3")).toBe("deny");
    await sleep(400);
    // Neither instance put its ruleset back: the orders behind it are gone from Redis.
    expect(await admin.get(keys.rulesetVersion)).toBeNull();
    expect(b.logs.filter((l) => l.level === "error" && /behind/.test(l.message))).toHaveLength(1);
    expect(a.sync.status().reason).toBe("redis holds no ruleset; v3 enforced here (data loss?)");

    // A new instance whose store lost the orders as well compiles v1 of the new history: it reaches
    // RedisClient, and B, holding v3, keeps v3 and reports the gap.
    const c = await instance("c", { keys });
    c.orders.approve("m-9");
    await c.compiler.refresh();
    expect(await admin.get(keys.rulesetVersion)).toBe("1");
    await waitFor("B to see v1", () => b.sync.status().redisVersion === 1);
    expect(b.sync.status().reason).toBe("redis holds ruleset v1 older than v3 enforced here (data loss?)");
    expect(b.compiler.holder.current().version).toBe(3);
  });

  it("takes a ruleset of a new epoch with a lower version, and Redis refuses the old epoch's compiles", async () => {
    const keys = keysForTest();
    await admin.set(keys.epoch, "epoch-one");
    const a = await instance("a", { keys, pollMs: 100 });
    const b = await instance("b", { keys, pollMs: 100 });
    a.orders.history = "epoch-one";
    for (const m of ["m-1", "m-2", "m-3"]) a.orders.approve(m);
    await a.compiler.refresh();
    await waitFor("B at v3", () => b.compiler.holder.current().version === 3);
    expect(b.compiler.holder.current().epoch).toBe("epoch-one");

    // A new history (Redis emptied, and an operator chose to start again): its v1 is the newer ruleset.
    await admin.del(keys.ruleset, keys.rulesetVersion, keys.rulesetEpoch);
    await admin.set(keys.epoch, "epoch-two");
    const c = await instance("c", { keys });
    c.orders.history = "epoch-two";
    c.orders.approve("m-9");
    await c.compiler.refresh();
    expect(await admin.mget(keys.rulesetVersion, keys.rulesetEpoch)).toEqual(["1", "epoch-two"]);
    await waitFor("B at v1 of epoch two", () => b.compiler.holder.current().epoch === "epoch-two");
    expect(b.compiler.holder.current().version).toBe(1);
    expect(verdict(b.compiler.holder.current(), "m-9")).toBe("deny");
    expect(verdict(b.compiler.holder.current(), "m-3")).toBe("allow");
    await waitFor("B healthy", () => !b.sync.status().degraded);
    expect(b.sync.status()).toMatchObject({ version: 1, epoch: "epoch-two", redisEpoch: "epoch-two" });

    // A compile of the old history, higher version or not, never goes back into Redis.
    a.orders.approve("m-4");
    await a.compiler.refresh();
    expect(await admin.mget(keys.rulesetVersion, keys.rulesetEpoch)).toEqual(["1", "epoch-two"]);
    await waitFor("A at v1 of epoch two", () => a.compiler.holder.current().epoch === "epoch-two");
  });

  it("keeps its ruleset when a new epoch is one its audit mirror does not trust", async () => {
    const keys = keysForTest();
    await admin.set(keys.epoch, "epoch-one");
    const a = await instance("a", { keys });
    const b = await instance("b", { keys, pollMs: 100, trustsEpoch: (e) => e === "epoch-one" });
    a.orders.history = "epoch-one";
    for (const m of ["m-1", "m-2"]) a.orders.approve(m);
    await a.compiler.refresh();
    await waitFor("B at v2", () => b.compiler.holder.current().version === 2);

    await admin.set(keys.epoch, "epoch-two");
    const c = await instance("c", { keys });
    c.orders.history = "epoch-two";
    c.orders.approve("m-9");
    await c.compiler.refresh();
    await waitFor("B to refuse it", () => /another order history/.test(b.sync.status().reason ?? ""));
    expect(b.compiler.holder.current()).toMatchObject({ version: 2, epoch: "epoch-one" });
    expect(verdict(b.compiler.holder.current(), "m-2")).toBe("deny");
    expect(b.sync.status().reason).toMatch(/cordon restore/);
  });

  describe("ignores a local file it cannot trust", () => {
    const good = () =>
      toDocument(compile([approvedOrder("o-1", "m-1")], { version: 4, compiledAt: iso(T0) }));
    const cases: { name: string; content: () => string; error: RegExp }[] = [
      { name: "not JSON", content: () => "{ruleset", error: /JSON/ },
      { name: "truncated", content: () => JSON.stringify(good()).slice(0, 60), error: /JSON/ },
      { name: "not a ruleset document", content: () => JSON.stringify({ version: 4 }), error: /orders|hash/ },
      {
        name: "edited without a new hash",
        content: () => {
          const doc = good();
          const order = doc.orders[0];
          if (order) doc.orders[0] = { ...order, meetingIds: ["m-2"] };
          return JSON.stringify(doc);
        },
        error: /hash mismatch/,
      },
      {
        name: "rehashed but blocking outside the authority (I1)",
        content: () => {
          const doc = good();
          const order = doc.orders[0];
          if (order) doc.orders[0] = { ...order, jurisdictions: ["RU"] };
          return JSON.stringify(rehash(doc));
        },
        error: /outside its authority/,
      },
    ];
    for (const c of cases) {
      it(`ignores a local file that is ${c.name}`, async () => {
        const keys = keysForTest();
        const localPath = join(dir, `${keys.ruleset.split(":")[0]}-tampered.json`);
        await writeFile(localPath, c.content());
        const b = await instance("b", { keys, localPath });
        expect(b.compiler.holder.isLoaded()).toBe(false);
        expect(b.compiler.holder.current().version).toBe(0);
        expect(b.sync.readiness().ready).toBe(false);
        const logged = b.logs.find((l) => l.level === "error" && /local ruleset file/.test(l.message));
        expect(String(logged?.fields?.error)).toMatch(c.error);

        // The next install replaces it with a good one.
        const a = await instance("a", { keys });
        a.orders.approve("m-1");
        await a.compiler.refresh();
        await waitFor("B at v1", () => b.compiler.holder.current().version === 1);
        await b.sync.stop();
        expect(await fileVersion(localPath)).toBe(1);
      });
    }
  });
});
