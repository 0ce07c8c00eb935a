/**
 * The Redis decision log (I5) against a real redis-server: the outbox ships to the stream exactly once and
 * in order, appends never wait on RedisClient, and killing, pausing or wiping Redis (or killing the shipping
 * process) loses nothing and adds nothing twice. Also the trimmer's safe point and cursor paging.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { InvalidCursorError, StoreUnavailableError } from "../../src/kernel/errors.js";
import { createLogger } from "../../src/kernel/logger.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { SegmentLog, type SegmentLogOptions } from "../../src/store/file/segment-log.js";
import { RedisDecisionLog } from "../../src/store/redis/decision-log.js";
import { type RedisKeys, redisKeys } from "../../src/store/redis/keys.js";
import {
  SHIPPER_REDIS_OVERRIDES,
  StreamShipper,
  type StreamShipperOptions,
} from "../../src/store/redis/shipper/stream-shipper.js";
import {
  createReportGroup,
  type GroupState,
  StreamTrimmer,
  safeTrimPoint,
} from "../../src/store/redis/stream-trimmer.js";
import { type RedisServer, startRedis } from "../support/redis.js";

let server: RedisServer;
let dir: string;
let keys: RedisKeys;
let prefix: string;
let testNo = 0;
let logs: { level: string; message: string; fields?: Record<string, unknown> }[];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => server.close());

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-shipper-"));
  prefix = `t${++testNo}`;
  // One partition: these tests follow one lane through every fault; "partitions" below spreads records.
  keys = redisKeys(prefix, { partitions: 1 });
  logs = [];
  if (!server.running()) await server.start();
});

afterEach(async () => {
  server.resume();
  // Last made, first stopped: shippers before the outboxes and clients they use.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

const logger = createLogger("info", ({ level, message, fields }) => logs.push({ level, message, fields }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Short timeouts: a paused or killed Redis shows within a test's time. */
function client(name: string, overrides: Record<string, unknown> = {}): RedisClient {
  const redis = createRedis(server.url, {
    name,
    commandTimeoutMs: 300,
    overrides: { connectTimeout: 300, ...overrides },
  });
  redis.on("error", () => undefined); // connection errors while Redis is down are the point of the tests
  cleanups.push(async () => redis.disconnect());
  return redis;
}

async function openOutbox(at = dir, opts: SegmentLogOptions = {}): Promise<SegmentLog> {
  const outbox = await SegmentLog.open(at, { logger, ...opts });
  cleanups.push(() => outbox.close());
  return outbox;
}

async function startShipper(
  outbox: SegmentLog,
  opts: Partial<StreamShipperOptions> = {},
): Promise<StreamShipper> {
  const shipper = await StreamShipper.start({
    outbox,
    redis: client("shipper", SHIPPER_REDIS_OVERRIDES),
    keys,
    dataDir: dir,
    batchSize: 200,
    intervalMs: 20,
    maxBackoffMs: 200,
    logger,
    ...opts,
  });
  cleanups.push(() => shipper.stop(500));
  return shipper;
}

let recordNo = 0;
function record(tag = "d"): DecisionRecord {
  const i = recordNo++;
  return {
    decisionId: `${tag}_${String(i).padStart(7, "0")}`,
    at: new Date().toISOString(),
    meetingId: "81234567890",
    decision: i % 7 === 0 ? "deny" : "allow",
    code: i % 7 === 0 ? "BLOCKED" : "NO_ORDER",
    orderIds: i % 7 === 0 ? ["ord_1"] : [],
    jurisdiction: i % 7 === 0 ? "IN-MH" : null,
    country: "IN",
    subdivision: "IN-MH",
    ipPrefix: "49.32.10.0/24",
    ipHash: "ab".repeat(32),
    rulesetVersion: 2,
    geoSource: "mmdb",
    geoDbVersion: "GeoIP2-City@2026-11-24",
  };
}
const records = (n: number, tag?: string) => Array.from({ length: n }, () => record(tag));

async function readyClient(redis: RedisClient): Promise<RedisClient> {
  await expect.poll(() => redis.status, { timeout: 5_000, interval: 20 }).toBe("ready");
  return redis;
}

/** The stream of the first partition (the only one, unless a test says otherwise). */
const stream0 = () => (keys.partitions[0] as { stream: string }).stream;

/** decisionIds in the stream, in stream order. */
async function streamIds(redis: RedisClient, key = stream0()): Promise<string[]> {
  const ids: string[] = [];
  let from = "-";
  for (;;) {
    const entries = await redis.xrange(key, from, "+", "COUNT", 2000);
    for (const [, fields] of entries) ids.push(fields[fields.indexOf("id") + 1] as string);
    if (entries.length < 2000) return ids;
    from = `(${(entries[entries.length - 1] as [string, string[]])[0]}`;
  }
}

/** decisionIds in the outbox, in write order. */
async function outboxIds(outbox: SegmentLog): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await outbox.page({ limit: 5000, ...(after === undefined ? {} : { after }) });
    ids.push(...page.records.map((r) => r.decisionId));
    if (page.records.length === 0) return ids;
    after = page.next as string;
  }
}

function expectExactlyOnce(inStream: string[], expected: Iterable<string>): void {
  const duplicates = inStream.filter((id, i) => inStream.indexOf(id) !== i);
  expect(duplicates).toEqual([]);
  const want = [...expected];
  expect(inStream.length).toBe(want.length);
  expect(new Set(inStream)).toEqual(new Set(want));
}

/**
 * Four loops appending 3 records at a time, as concurrent checks would. Tracks what was acknowledged and
 * the slowest append: appends touch only the outbox, so a dead or stalled Redis must not slow them.
 */
function startAppender(log: RedisDecisionLog) {
  const state = { acked: [] as string[], failures: 0, slowestMs: 0, stop: false };
  const loop = async () => {
    while (!state.stop) {
      const batch = records(3);
      const started = performance.now();
      try {
        await log.append(batch);
        state.acked.push(...batch.map((r) => r.decisionId));
      } catch {
        state.failures++;
      }
      state.slowestMs = Math.max(state.slowestMs, performance.now() - started);
      await sleep(2);
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  return {
    state,
    stop: async () => {
      state.stop = true;
      await Promise.all(loops);
    },
  };
}

describe("shipping", () => {
  it("ships 5000 concurrently appended records exactly once, in append order", async () => {
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox, { batchSize: 500 });
    const log = new RedisDecisionLog({ outbox, redis: client("reader"), keys, shipper });
    const reader = await readyClient(client("check"));

    await Promise.all(Array.from({ length: 500 }, () => log.append(records(10))));
    expect(await shipper.drain(20_000)).toBe(true);

    const order = await outboxIds(outbox);
    expect(order).toHaveLength(5000);
    expect(await streamIds(reader)).toEqual(order);
    expect(shipper.status()).toMatchObject({ connected: true, backlog: 0, degraded: false });
    expect(shipper.status().lastShippedAt).not.toBeNull();
  }, 30_000);

  it("counts the backlog while Redis is down and ships it when Redis is back", async () => {
    const outbox = await openOutbox();
    await outbox.append(records(250)); // left by an earlier run, before any shipper
    await server.kill();
    const shipper = await startShipper(outbox, { degradedAfterMs: 200 });
    await outbox.append(records(100));
    await sleep(400);
    expect(shipper.status()).toMatchObject({ connected: false, backlog: 350, degraded: true });
    expect(shipper.status().lastError).toBeDefined();

    await server.start();
    expect(await shipper.drain(10_000)).toBe(true);
    expect(shipper.status()).toMatchObject({ connected: true, backlog: 0, degraded: false });
    expectExactlyOnce(await streamIds(await readyClient(client("check"))), await outboxIds(outbox));
  }, 30_000);

  it("ships what was written while no shipper ran after a restart, then goes on, exactly once and in order", async () => {
    const outbox = await openOutbox();
    const first = await startShipper(outbox);
    const log = new RedisDecisionLog({ outbox, redis: client("reader"), keys, shipper: first });
    await Promise.all(Array.from({ length: 50 }, () => log.append(records(4))));
    expect(await first.drain(5_000)).toBe(true);
    await first.stop();

    await outbox.append(records(300)); // while no shipper runs
    const second = await startShipper(outbox);
    const again = new RedisDecisionLog({ outbox, redis: client("reader"), keys, shipper: second });
    await Promise.all(Array.from({ length: 50 }, () => again.append(records(4))));
    expect(await second.drain(10_000)).toBe(true);
    const order = await outboxIds(outbox);
    expect(order).toHaveLength(700);
    expect(await streamIds(await readyClient(client("check")))).toEqual(order);
  }, 30_000);

  it("refuses a Redis client that would resend unacknowledged XADDs after a reconnect", async () => {
    const outbox = await openOutbox();
    await expect(
      StreamShipper.start({ outbox, redis: client("plain"), keys, dataDir: dir, logger }),
    ).rejects.toThrow(/autoResendUnfulfilledCommands/);
  });
});

describe("Redis faults", () => {
  it("keeps appending while Redis is killed, and ships each record exactly once after it restarts", async () => {
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox);
    const log = new RedisDecisionLog({ outbox, redis: client("reader"), keys, shipper });
    const reader = await readyClient(client("check"));
    const appender = startAppender(log);
    try {
      await expect.poll(() => reader.xlen(stream0()), { timeout: 10_000 }).toBeGreaterThan(300);
      await server.kill();
      const ackedAtKill = appender.state.acked.length;
      await sleep(2500);
      expect(appender.state.acked.length - ackedAtKill).toBeGreaterThan(100); // appends went on
      expect(shipper.status()).toMatchObject({ connected: false, degraded: true });
      expect(shipper.status().backlog).toBeGreaterThan(0);
      await server.start();
      await sleep(500);
    } finally {
      await appender.stop();
    }
    expect(appender.state.failures).toBe(0);
    // No append waited for Redis: the slowest took well under the 2.5 s Redis was gone (a loaded CI
    // machine can stretch one to a few hundred ms, so the bound is relative to the outage).
    expect(appender.state.slowestMs).toBeLessThan(1000);
    expect(await shipper.drain(15_000)).toBe(true);

    const stored = await outboxIds(outbox);
    expect(new Set(stored)).toEqual(new Set(appender.state.acked));
    expectExactlyOnce(await streamIds(await readyClient(reader)), stored);
  }, 40_000);

  it("keeps appending while Redis is stalled (SIGSTOP), and ships exactly once after it resumes", async () => {
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox);
    const log = new RedisDecisionLog({ outbox, redis: client("reader"), keys, shipper });
    const reader = await readyClient(client("check"));
    const appender = startAppender(log);
    let during: ReturnType<StreamShipper["status"]>;
    try {
      await expect.poll(() => reader.xlen(stream0()), { timeout: 10_000 }).toBeGreaterThan(300);
      server.pause();
      const ackedAtPause = appender.state.acked.length;
      await sleep(2000);
      during = shipper.status();
      // Acknowledged while Redis answered nothing at all: no append waits on Redis.
      expect(appender.state.acked.length - ackedAtPause).toBeGreaterThan(100);
      server.resume();
      await sleep(300);
    } finally {
      server.resume();
      await appender.stop();
    }
    expect(during.connected).toBe(false);
    expect(during.lastError).toMatch(/timed out/i);
    expect(appender.state.failures).toBe(0);
    // Well under the 2 s stall: no append waited on Redis (the bound leaves room for a loaded machine).
    expect(appender.state.slowestMs).toBeLessThan(1000);
    expect(await shipper.drain(15_000)).toBe(true);

    const stored = await outboxIds(outbox);
    expect(new Set(stored)).toEqual(new Set(appender.state.acked));
    expectExactlyOnce(await streamIds(reader), stored);
  }, 40_000);

  it("re-ships the outbox when Redis comes back without its data, one entry per record", async () => {
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox);
    const log = new RedisDecisionLog({ outbox, redis: client("reader"), keys, shipper });
    await log.append(records(600));
    expect(await shipper.drain(10_000)).toBe(true);

    await server.kill();
    await server.start({ fresh: true });
    await log.append(records(200));
    expect(await shipper.drain(15_000)).toBe(true);

    const reader = await readyClient(client("check"));
    expectExactlyOnce(await streamIds(reader), await outboxIds(outbox));
    expect(logs.some((l) => l.level === "warn" && /lost acknowledged/.test(l.message))).toBe(true);
  }, 30_000);

  it("ships only what an older copy of the stream lacks when Redis comes back with part of its data", async () => {
    const outbox = await openOutbox();
    const first = await startShipper(outbox);
    await outbox.append(records(300));
    expect(await first.drain(10_000)).toBe(true);
    await first.stop();

    // An older snapshot comes back (the AOF lost its tail, a replica behind took over): the first 100
    // entries with their ids, the epoch token as it was.
    const redis = await readyClient(client("snapshot"));
    const kept = await redis.xrange(stream0(), "-", "+", "COUNT", 100);
    await redis.del(stream0());
    for (const [id, fields] of kept) await redis.xadd(stream0(), id, ...fields);

    const second = await startShipper(outbox);
    await outbox.append(records(50));
    expect(await second.drain(10_000)).toBe(true);
    const ids = await streamIds(redis);
    expectExactlyOnce(ids, await outboxIds(outbox));
    expect(logs.find((l) => /lost acknowledged/.test(l.message))?.fields?.reason).toMatch(/ends before/);
    expect(logs.find((l) => /re-shipped what a partition lost/.test(l.message))?.fields?.skipped).toBe(100);
  }, 30_000);

  it("notices lost data even when another instance wrote to the new stream first", async () => {
    const outboxA = await openOutbox();
    const shipperA = await startShipper(outboxA);
    const dirB = await mkdtemp(join(tmpdir(), "cordon-shipper-b-"));
    cleanups.push(() => rm(dirB, { recursive: true, force: true }));
    const outboxB = await openOutbox(dirB);
    const shipperB = await startShipper(outboxB, { dataDir: dirB });
    await outboxA.append(records(300, "a"));
    await outboxB.append(records(300, "b"));
    expect(await shipperA.drain(10_000)).toBe(true);
    expect(await shipperB.drain(10_000)).toBe(true);

    // B is stopped while Redis is replaced, and A writes to the new stream before B looks: B's last id is
    // then below the stream's end, and only the epoch token tells B its records are gone.
    await shipperB.stop(500);
    await server.kill();
    await server.start({ fresh: true });
    await outboxA.append(records(50, "a"));
    expect(await shipperA.drain(10_000)).toBe(true);
    const shipperB2 = await startShipper(outboxB, { dataDir: dirB });
    expect(await shipperB2.drain(10_000)).toBe(true);

    const reader = await readyClient(client("check"));
    expectExactlyOnce(await streamIds(reader), [
      ...(await outboxIds(outboxA)),
      ...(await outboxIds(outboxB)),
    ]);
  }, 30_000);
});

describe("a shipper that dies between XADD and checkpoint", () => {
  it("does not add again the batches a stale checkpoint does not know about", async () => {
    const outbox = await openOutbox();
    const first = await startShipper(outbox);
    await outbox.append(records(1000));
    expect(await first.drain(10_000)).toBe(true);
    await first.stop();
    const checkpoint = join(dir, "stream-shipper.json");
    await copyFile(checkpoint, `${checkpoint}.old`);

    const second = await startShipper(outbox);
    await outbox.append(records(700));
    expect(await second.drain(10_000)).toBe(true);
    await second.stop();
    // As if `second` had died after its XADDs, before any of its checkpoints reached the disk.
    await copyFile(`${checkpoint}.old`, checkpoint);

    const third = await startShipper(outbox);
    await outbox.append(records(100));
    expect(await third.drain(10_000)).toBe(true);
    const reader = await readyClient(client("check"));
    expectExactlyOnce(await streamIds(reader), await outboxIds(outbox));
    const skipped = logs
      .filter((l) => /skipped records/.test(l.message))
      .reduce((n, l) => n + Number(l.fields?.skipped), 0);
    expect(skipped).toBe(700);
  }, 30_000);

  it("ships an outbox whose checkpoint is gone without adding what the stream holds", async () => {
    const outbox = await openOutbox();
    const first = await startShipper(outbox);
    await outbox.append(records(300));
    expect(await first.drain(10_000)).toBe(true);
    await first.stop();
    await rm(join(dir, "stream-shipper.json"));

    const second = await startShipper(outbox);
    await outbox.append(records(20));
    expect(await second.drain(10_000)).toBe(true);
    expectExactlyOnce(await streamIds(await readyClient(client("check"))), await outboxIds(outbox));
    expect(logs.some((l) => /no checkpoint/.test(l.message))).toBe(true);
  }, 30_000);

  it("skips the part of a batch that landed before the crash, and ships the rest", async () => {
    const outbox = await openOutbox();
    const first = await startShipper(outbox);
    await outbox.append(records(400));
    expect(await first.drain(10_000)).toBe(true);
    await first.stop();

    // The next batch's pipeline was cut after 50 of its XADDs.
    const next = records(300);
    await outbox.append(next);
    const writer = await readyClient(client("writer"));
    for (const r of next.slice(0, 50))
      await writer.xadd(stream0(), "*", "id", r.decisionId, "r", JSON.stringify(r));

    const second = await startShipper(outbox);
    expect(await second.drain(10_000)).toBe(true);
    const ids = await streamIds(writer);
    expectExactlyOnce(ids, await outboxIds(outbox));
    expect(ids.slice(400)).toEqual(next.map((r) => r.decisionId)); // still in outbox order
  }, 30_000);

  it("loses nothing and duplicates nothing when the shipping process is killed with SIGKILL", async () => {
    const url = (path: string) => JSON.stringify(pathToFileURL(join(process.cwd(), path)).href);
    const script = join(dir, "child.mts");
    await writeFile(
      script,
      `import { SegmentLog } from ${url("src/store/file/segment-log.ts")};
import { createRedis } from ${url("src/platform/node/redis.ts")};
import { RedisDecisionLog } from ${url("src/store/redis/decision-log.ts")};
import { redisKeys } from ${url("src/store/redis/keys.ts")};
import { SHIPPER_REDIS_OVERRIDES, StreamShipper } from ${url("src/store/redis/shipper/stream-shipper.ts")};
const [, , tag] = process.argv;
const quiet = { info() {}, warn() {} };
const outbox = await SegmentLog.open(${JSON.stringify(dir)}, { logger: quiet });
const redis = createRedis(${JSON.stringify(server.url)}, { name: "child", overrides: SHIPPER_REDIS_OVERRIDES });
redis.on("error", () => {});
const keys = redisKeys(${JSON.stringify(prefix)}, { partitions: 1 });
const shipper = await StreamShipper.start({ outbox, redis, keys, dataDir: ${JSON.stringify(dir)}, batchSize: 40, intervalMs: 5, logger: quiet });
const log = new RedisDecisionLog({ outbox, redis, keys, shipper });
const template = ${JSON.stringify(record())};
let next = 0;
async function loop() {
  for (;;) {
    const batch = [0, 1, 2].map(() => ({ ...template, decisionId: tag + "_" + next++, at: new Date().toISOString() }));
    await log.append(batch);
    await new Promise((r) => setTimeout(r, 1));
  }
}
for (let i = 0; i < 4; i++) void loop();
`,
    );
    const reader = await readyClient(client("check"));
    for (const tag of ["r1", "r2", "r3"]) {
      const before = await reader.xlen(stream0());
      const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script, tag], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      const exited = new Promise((resolve) => child.on("close", resolve));
      try {
        await expect
          .poll(() => reader.xlen(stream0()), { timeout: 20_000, interval: 10 })
          .toBeGreaterThan(before + 800);
        await sleep(Math.random() * 20);
      } finally {
        child.kill("SIGKILL");
        await exited;
      }
    }

    const outbox = await openOutbox();
    const shipper = await startShipper(outbox);
    expect(await shipper.drain(10_000)).toBe(true);
    expectExactlyOnce(await streamIds(reader), await outboxIds(outbox));
  }, 60_000);
});

describe("outbox retention", () => {
  /** Small segments: a few dozen records each, so a test fills many. */
  const SMALL = { segmentBytes: 16 * 1024 };
  const segments = async () => (await readdir(join(dir, "decisions"))).sort();
  const pruneLogs = () => logs.filter((l) => /pruned shipped segments/.test(l.message));

  async function appendInBatches(outbox: SegmentLog, n: number, tag?: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 50) {
      const batch = records(50, tag);
      ids.push(...batch.map((r) => r.decisionId));
      await outbox.append(batch);
    }
    return ids;
  }

  it("deletes shipped segments once they are older than the retention, never before", async () => {
    const outbox = await openOutbox(dir, SMALL);
    const shipper = await startShipper(outbox, { retentionMs: 3000, pruneIntervalMs: 20 });
    const startedAt = Date.now();
    const appended = await appendInBatches(outbox, 1000);
    expect(await shipper.drain(10_000)).toBe(true);
    const written = await segments();
    expect(written.length).toBeGreaterThan(15);

    // Shipped, but younger than the retention: all kept, though the shipper has tried many times.
    await sleep(300);
    expect(Date.now() - startedAt).toBeLessThan(2500); // else this machine is too slow for the check
    expect(await segments()).toEqual(written);
    expect(pruneLogs()).toEqual([]);

    // Past the retention: everything before the checkpoint's segment goes, the active segment stays.
    await expect.poll(segments, { timeout: 10_000, interval: 50 }).toHaveLength(1);
    expect(await segments()).toEqual(written.slice(-1));
    const kept = await outboxIds(outbox);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).toEqual(appended.slice(-kept.length));
    const pruned = pruneLogs().reduce((n, l) => n + Number(l.fields?.segmentsRemoved), 0);
    expect(pruned).toBe(written.length - 1);

    // The checkpoint still fits the outbox: new records ship exactly once, nothing is re-shipped.
    const more = await appendInBatches(outbox, 200);
    expect(await shipper.drain(10_000)).toBe(true);
    expectExactlyOnce(await streamIds(await readyClient(client("check"))), [...appended, ...more]);
    expect(logs.some((l) => /does not fit|re-shipping/.test(l.message))).toBe(false);
  }, 30_000);

  it("never deletes what is not shipped: nothing while Redis is down, only the shipped part after", async () => {
    await server.kill();
    const outbox = await openOutbox(dir, SMALL);
    const first = await appendInBatches(outbox, 600);
    const written = await segments();
    expect(written.length).toBeGreaterThan(10);
    // A retention of 1 ms: anything the shipper may delete, it deletes at once.
    const shipper = await startShipper(outbox, { retentionMs: 1, pruneIntervalMs: 10 });
    await sleep(800);
    expect(shipper.status().connected).toBe(false);
    expect(await segments()).toEqual(written);
    expect(await outboxIds(outbox)).toEqual(first);

    await server.start();
    expect(await shipper.drain(10_000)).toBe(true);
    await expect.poll(segments, { timeout: 5_000, interval: 20 }).toHaveLength(1);

    // Down again after shipping: what comes now is past the checkpoint, and stays however old it gets.
    await server.kill();
    const second = await appendInBatches(outbox, 600);
    await sleep(800);
    expect(shipper.status().connected).toBe(false);
    const waiting = await outboxIds(outbox);
    expect(waiting.slice(-second.length)).toEqual(second);
    expect((await segments()).length).toBeGreaterThan(10);

    await server.start();
    expect(await shipper.drain(10_000)).toBe(true);
    expectExactlyOnce(await streamIds(await readyClient(client("check"))), [...first, ...second]);
    await expect.poll(segments, { timeout: 5_000, interval: 20 }).toHaveLength(1);
  }, 30_000);

  it("repairs a Redis data loss only as far back as the outbox still reaches", async () => {
    const outbox = await openOutbox(dir, SMALL);
    const shipper = await startShipper(outbox, { retentionMs: 1, pruneIntervalMs: 10 });
    const appended = await appendInBatches(outbox, 600);
    expect(await shipper.drain(10_000)).toBe(true);
    await expect.poll(segments, { timeout: 5_000, interval: 20 }).toHaveLength(1);
    const kept = await outboxIds(outbox);
    expect(kept.length).toBeLessThan(appended.length);

    await server.kill();
    await server.start({ fresh: true });
    const more = await appendInBatches(outbox, 100);
    expect(await shipper.drain(15_000)).toBe(true);
    expect(logs.some((l) => l.level === "warn" && /lost acknowledged/.test(l.message))).toBe(true);
    // What the outbox still held is back in the stream, once each; what retention deleted is not.
    expectExactlyOnce(await streamIds(await readyClient(client("check"))), [...kept, ...more]);
  }, 30_000);

  it("keeps everything with an infinite retention, and refuses a negative one", async () => {
    const outbox = await openOutbox(dir, SMALL);
    const shipper = await startShipper(outbox, {
      retentionMs: Number.POSITIVE_INFINITY,
      pruneIntervalMs: 10,
    });
    const appended = await appendInBatches(outbox, 600);
    expect(await shipper.drain(10_000)).toBe(true);
    await sleep(200);
    expect(await outboxIds(outbox)).toEqual(appended);
    await expect(startShipper(outbox, { retentionMs: -1 })).rejects.toThrow(RangeError);
  }, 30_000);
});

describe("trimming", () => {
  async function shipped(n: number) {
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox);
    await outbox.append(records(n));
    expect(await shipper.drain(10_000)).toBe(true);
    const redis = await readyClient(client("trimmer"));
    const trimmer = StreamTrimmer.start({ redis, keys, intervalMs: 60_000, logger });
    cleanups.push(() => trimmer.stop());
    return { redis, trimmer };
  }

  const entryIds = async (redis: RedisClient) => (await redis.xrange(stream0(), "-", "+")).map(([id]) => id);

  it("trims nothing while no report group exists", async () => {
    const { redis, trimmer } = await shipped(50);
    expect(await trimmer.trimOnce()).toMatchObject({ trimmed: 0, minId: null });
    expect(await redis.xlen(stream0())).toBe(50);
  }, 20_000);

  it("trims only entries the report group acknowledged, keeping pending and undelivered ones", async () => {
    const { redis, trimmer } = await shipped(100);
    expect(await createReportGroup(redis, keys)).toBe(true);
    expect(await createReportGroup(redis, keys)).toBe(false);
    const all = await entryIds(redis);
    const read = async (count: number) => {
      const reply = (await redis.xreadgroup(
        "GROUP",
        keys.reportGroup,
        "reporter-1",
        "COUNT",
        count,
        "STREAMS",
        stream0(),
        ">",
      )) as [string, [string, string[]][]][];
      return (reply[0]?.[1] ?? []).map(([id]) => id);
    };
    const delivered = await read(60);
    expect(delivered).toEqual(all.slice(0, 60));
    // The report counted everything (its checkpoint bounds the trim as well; aggregation.test.ts).
    await redis.set(
      (keys.partitions[0] as { report: { checkpoint: string } }).report.checkpoint,
      all[99] as string,
    );

    // Acknowledged out of order: entries 0-9 are still pending, so nothing may go.
    await redis.xack(stream0(), keys.reportGroup, ...delivered.slice(10, 40));
    expect((await trimmer.trimOnce()).trimmed).toBe(0);

    await redis.xack(stream0(), keys.reportGroup, ...delivered.slice(0, 10));
    expect(await trimmer.trimOnce()).toMatchObject({ trimmed: 40, minId: all[40] });
    expect(await entryIds(redis)).toEqual(all.slice(40)); // 40-59 pending, 60-99 undelivered

    await redis.xack(stream0(), keys.reportGroup, ...delivered.slice(40));
    expect((await trimmer.trimOnce()).trimmed).toBe(20);
    expect(await entryIds(redis)).toEqual(all.slice(60)); // undelivered entries stay

    // A second group that has read nothing holds everything from here on.
    await redis.xgroup("CREATE", stream0(), "archive", "0");
    expect(await read(40)).toEqual(all.slice(60));
    await redis.xack(stream0(), keys.reportGroup, ...all.slice(60));
    expect((await trimmer.trimOnce()).trimmed).toBe(0);
    expect(await redis.xlen(stream0())).toBe(40);
  }, 20_000);

  it.each<{ name: string; groups: GroupState[]; expected: string | null }>([
    { name: "no groups", groups: [], expected: null },
    {
      name: "only another group",
      groups: [{ name: "archive", lastDeliveredId: "5-0", pending: 0, minPendingId: null }],
      expected: null,
    },
    {
      name: "report group, nothing pending",
      groups: [{ name: "report", lastDeliveredId: "5-3", pending: 0, minPendingId: null }],
      expected: "5-4",
    },
    {
      name: "report group with pending entries",
      groups: [{ name: "report", lastDeliveredId: "9-0", pending: 2, minPendingId: "7-1" }],
      expected: "7-1",
    },
    {
      name: "the lowest point over all groups",
      groups: [
        { name: "report", lastDeliveredId: "9-0", pending: 0, minPendingId: null },
        { name: "archive", lastDeliveredId: "3-0", pending: 0, minPendingId: null },
      ],
      expected: "3-1",
    },
  ])("puts the safe trim point right with $name", ({ groups, expected }) => {
    expect(safeTrimPoint(groups, "report")).toBe(expected);
  });
});

describe("paging through the stream", () => {
  it("pages through every partition and the legacy stream with one cursor, and keeps its place at the end", async () => {
    keys = redisKeys(prefix, { partitions: 3 });
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox);
    const reader = await readyClient(client("reader"));
    const log = new RedisDecisionLog({ outbox, redis: reader, keys, shipper });
    expect(await log.page({ limit: 10 })).toEqual({ records: [], next: "v2.,,," });

    // What an earlier version left in the single stream is read too.
    const legacy = records(5, "old");
    for (const r of legacy)
      await reader.xadd(keys.legacy.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    const written = records(25);
    await log.append(written);
    expect(await shipper.drain(10_000)).toBe(true);
    for (const p of keys.partitions) expect(await reader.xlen(p.stream)).toBeGreaterThan(0);

    const seen: DecisionRecord[] = [];
    let cursor: string | undefined;
    const sizes: number[] = [];
    for (;;) {
      const page = await log.page({ limit: 10, ...(cursor === undefined ? {} : { after: cursor }) });
      sizes.push(page.records.length);
      seen.push(...page.records);
      if (page.records.length === 0) {
        expect(page.next).toBe(cursor); // at the end the cursor stays, for polling
        break;
      }
      cursor = page.next;
    }
    expect(sizes).toEqual([10, 10, 10, 0]);
    // In arrival order: the legacy records were added first; the partitions' records are each once.
    const byId = (list: DecisionRecord[]) =>
      [...list].sort((a, b) => a.decisionId.localeCompare(b.decisionId));
    expect(seen.slice(0, 5)).toEqual(legacy);
    expect(byId(seen.slice(5))).toEqual(byId(written));
    // A cursor of earlier versions is a position in the legacy stream.
    const firstLegacy = (await reader.xrange(keys.legacy.stream, "-", "+", "COUNT", 1))[0]?.[0] as string;
    const fromOld = (await log.page({ after: firstLegacy, limit: 100 })).records;
    expect(byId(fromOld)).toEqual(byId([...legacy.slice(1), ...written]));

    await log.append(records(3));
    expect(await shipper.drain(10_000)).toBe(true);
    expect((await log.page({ after: cursor as string, limit: 10 })).records).toHaveLength(3);
  }, 20_000);

  it("refuses a cursor that is not a stream id, and reports an unreachable Redis as unavailable", async () => {
    const outbox = await openOutbox();
    const reader = await readyClient(client("reader"));
    const log = new RedisDecisionLog({ outbox, redis: reader, keys });
    for (const bad of ["abc", "1-", "-1-0", "1-0-0", "99999999999999999999999-0", "", "v2.0-0", "v2.0-0,x"]) {
      await expect(log.page({ after: bad, limit: 10 })).rejects.toBeInstanceOf(InvalidCursorError);
    }
    await expect(log.page({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
    await server.kill();
    await expect(log.page({ limit: 10 })).rejects.toBeInstanceOf(StoreUnavailableError);
  }, 20_000);
});
