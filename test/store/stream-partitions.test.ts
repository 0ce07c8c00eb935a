/**
 * The decision partitions (keys.ts) against a real redis-server: the shipper spreads records over N
 * streams by decisionId and forwards the outbox's lines as written, keeps an edge record that two
 * outboxes hold to one stream entry, refuses to scatter records under another partition count, repairs
 * the lost tail of one partition without touching the others, and takes over from the single stream of
 * earlier versions without sending anything twice.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { createLogger } from "../../src/kernel/logger.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { SegmentLog } from "../../src/store/file/segment-log.js";
import { edgeDecisionId } from "../../src/store/ingest-index.js";
import { partitionOf, type RedisKeys, redisKeys } from "../../src/store/redis/keys.js";
import {
  SHIPPER_REDIS_OVERRIDES,
  StreamShipper,
  type StreamShipperOptions,
} from "../../src/store/redis/shipper/stream-shipper.js";
import { type RedisServer, startRedis } from "../support/redis.js";

let server: RedisServer;
let dir: string;
let prefix: string;
let testNo = 0;
let logs: { level: string; message: string; fields?: Record<string, unknown> }[];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => server.close());

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-partitions-"));
  prefix = `p${++testNo}`;
  logs = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

const logger = createLogger("info", ({ level, message, fields }) => logs.push({ level, message, fields }));

function client(name: string, overrides: Record<string, unknown> = {}): RedisClient {
  const redis = createRedis(server.url, { name, commandTimeoutMs: 1000, overrides });
  redis.on("error", () => undefined);
  cleanups.push(async () => redis.disconnect());
  return redis;
}

async function ready(redis: RedisClient): Promise<RedisClient> {
  await expect.poll(() => redis.status, { timeout: 5_000, interval: 20 }).toBe("ready");
  return redis;
}

async function openOutbox(at = dir): Promise<SegmentLog> {
  const outbox = await SegmentLog.open(at, { logger });
  cleanups.push(() => outbox.close());
  return outbox;
}

async function startShipper(
  outbox: SegmentLog,
  keys: RedisKeys,
  opts: Partial<StreamShipperOptions> = {},
): Promise<StreamShipper & { connection: RedisClient }> {
  const redis = client("shipper", SHIPPER_REDIS_OVERRIDES);
  const shipper = await StreamShipper.start({
    outbox,
    redis,
    keys,
    dataDir: dir,
    batchSize: 100,
    intervalMs: 20,
    maxBackoffMs: 200,
    logger,
    ...opts,
  });
  cleanups.push(() => shipper.stop(500));
  return Object.assign(shipper, { connection: redis });
}

let recordNo = 0;
function record(decisionId = `d_${String(recordNo++).padStart(7, "0")}`): DecisionRecord {
  return {
    decisionId,
    at: new Date().toISOString(),
    meetingId: "81234567890",
    decision: "allow",
    code: "NO_ORDER",
    orderIds: [],
    jurisdiction: null,
    country: "IN",
    subdivision: "IN-MH",
    ipPrefix: "49.32.10.0/24",
    ipHash: "ab".repeat(32),
    rulesetVersion: 2,
    geoSource: "mmdb",
    geoDbVersion: "GeoIP2-City@2026-11-24",
  };
}
const records = (n: number) => Array.from({ length: n }, () => record());

/** Every entry of a stream: [entry id, decisionId, the `r` field]. */
async function entries(redis: RedisClient, stream: string): Promise<[string, string, string][]> {
  const out: [string, string, string][] = [];
  let from = "-";
  for (;;) {
    const page = (await redis.xrange(stream, from, "+", "COUNT", 1000)) as [string, string[]][];
    for (const [id, fields] of page) {
      out.push([id, fields[fields.indexOf("id") + 1] as string, fields[fields.indexOf("r") + 1] as string]);
    }
    if (page.length < 1000) return out;
    from = `(${(page[page.length - 1] as [string, string[]])[0]}`;
  }
}

/** decisionIds over every partition. */
async function allIds(redis: RedisClient, keys: RedisKeys): Promise<string[]> {
  const ids: string[] = [];
  for (const p of keys.partitions) ids.push(...(await entries(redis, p.stream)).map(([, id]) => id));
  return ids;
}

function expectOnce(ids: string[], expected: Iterable<string>): void {
  const want = new Set(expected);
  expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  expect(new Set(ids)).toEqual(want);
  expect(ids.length).toBe(want.size);
}

describe("decision partitions", () => {
  it("spreads records over the partitions by decisionId, each line as the outbox holds it", async () => {
    const keys = redisKeys(prefix, { partitions: 8 });
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox, keys);
    const written = records(2000);
    await outbox.append(written);
    expect(await shipper.drain(10_000)).toBe(true);

    const redis = await ready(client("check"));
    const lines = new Map(written.map((r) => [r.decisionId, JSON.stringify(r)]));
    const counts: number[] = [];
    for (const p of keys.partitions) {
      const got = await entries(redis, p.stream);
      counts.push(got.length);
      for (const [, id, r] of got) {
        expect(partitionOf(id, 8)).toBe(p.index);
        expect(r).toBe(lines.get(id)); // byte for byte: never parsed and written again
      }
    }
    expectOnce(await allIds(redis, keys), lines.keys());
    // FNV-1a spreads 2000 ids over 8 partitions within a few percent of 250 each.
    for (const n of counts) expect(n).toBeGreaterThan(180);
    expect(await redis.get(keys.partitionCount)).toBe("8");
  });

  it("ships lines of another shape as they are, with their ids, beside the check's own", async () => {
    const keys = redisKeys(prefix, { partitions: 4 });
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox, keys, { batchSize: 1000 });
    // An ingested record keeps the order its fields arrived in; ids with an escape or a non-ASCII byte.
    const reorder = ({ decisionId, at, ...rest }: DecisionRecord) =>
      ({ at, ...rest, decisionId }) as unknown as DecisionRecord;
    const written = [
      ...records(100),
      ...Array.from({ length: 20 }, () => reorder(record())),
      ...Array.from({ length: 20 }, () => reorder(record(edgeDecisionId(crypto.randomUUID())))),
      record('d_"quoted"'),
      record("d_é_雪"),
      ...records(100),
    ];
    await outbox.append(written);
    expect(await shipper.drain(10_000)).toBe(true);

    const redis = await ready(client("check"));
    const lines = new Map(written.map((r) => [r.decisionId, JSON.stringify(r)]));
    for (const p of keys.partitions) {
      for (const [, id, r] of await entries(redis, p.stream)) {
        expect(partitionOf(id, 4)).toBe(p.index);
        expect(r).toBe(lines.get(id));
      }
    }
    expectOnce(await allIds(redis, keys), lines.keys());
  });

  it("adds an edge record once when two outboxes hold it (a delivery retried after a crash)", async () => {
    const keys = redisKeys(prefix, { partitions: 4 });
    const edge = Array.from({ length: 50 }, () => record(edgeDecisionId(crypto.randomUUID())));
    const outboxA = await openOutbox();
    const dirB = await mkdtemp(join(tmpdir(), "cordon-partitions-b-"));
    cleanups.push(() => rm(dirB, { recursive: true, force: true }));
    const outboxB = await openOutbox(dirB);
    const a = await startShipper(outboxA, keys);
    const b = await startShipper(outboxB, keys, { dataDir: dirB });
    const own = records(30);
    await outboxA.append([...edge, ...own]);
    await outboxB.append(edge.slice(0, 20)); // ingest on another instance appended 20 of them again
    expect(await a.drain(10_000)).toBe(true);
    expect(await b.drain(10_000)).toBe(true);
    expectOnce(
      await allIds(await ready(client("check")), keys),
      [...edge, ...own].map((r) => r.decisionId),
    );
  });

  it("ships nothing under another partition count than the deployment's, and says why", async () => {
    const first = await startShipper(await openOutbox(), redisKeys(prefix, { partitions: 4 }));
    expect(await first.drain(10_000)).toBe(true);

    const dirB = await mkdtemp(join(tmpdir(), "cordon-partitions-b-"));
    cleanups.push(() => rm(dirB, { recursive: true, force: true }));
    const outboxB = await openOutbox(dirB);
    const keysB = redisKeys(prefix, { partitions: 8 });
    const b = await startShipper(outboxB, keysB, { dataDir: dirB });
    await outboxB.append(records(10));
    expect(await b.drain(1_000)).toBe(false);
    expect(await allIds(await ready(client("check")), keysB)).toEqual([]);
    expect(b.status().lastError).toMatch(
      /CORDON_DECISION_PARTITIONS.*4.*8|4.*8.*CORDON_DECISION_PARTITIONS/s,
    );
    expect(b.status().degraded).toBe(true);
  });

  it("re-ships only what one partition lost when it comes back with an older copy (a failover)", async () => {
    const keys = redisKeys(prefix, { partitions: 4 });
    const outbox = await openOutbox();
    const shipper = await startShipper(outbox, keys);
    const redis = await ready(client("check"));
    const early = records(400);
    await outbox.append(early);
    expect(await shipper.drain(10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100)); // a mark of this moment (marks are a second apart)
    const late = records(400);
    await outbox.append(late);
    expect(await shipper.drain(10_000)).toBe(true);

    // Partition 2 comes back as a replica that had the early records and 10 of the late ones.
    const lost = keys.partitions[2] as RedisKeys["partitions"][number];
    const before = await entries(redis, lost.stream);
    const lateIds = new Set(late.map((r) => r.decisionId));
    const keep = before.filter(([, id]) => !lateIds.has(id));
    keep.push(...before.filter(([, id]) => lateIds.has(id)).slice(0, 10));
    const lostCount = before.length - keep.length;
    expect(lostCount).toBeGreaterThan(50);
    await redis.del(lost.stream);
    for (const [id, decisionId, r] of keep) await redis.xadd(lost.stream, id, "id", decisionId, "r", r);
    const others = await Promise.all(keys.partitions.map((p) => redis.xlen(p.stream)));

    // The shipper's connection drops and comes back, as it would in a failover: it checks at once.
    await redis.call("CLIENT", "KILL", "ID", String(await shipper.connection.client("ID")));
    await expect
      .poll(() => logs.some((l) => /re-shipped what a partition lost/.test(l.message)), { timeout: 15_000 })
      .toBe(true);
    expect(await shipper.drain(10_000)).toBe(true);

    expectOnce(
      await allIds(redis, keys),
      [...early, ...late].map((r) => r.decisionId),
    );
    const repair = logs.find((l) => /re-shipped what a partition lost/.test(l.message))?.fields;
    expect(repair?.partition).toBe(2);
    expect(repair?.resent).toBe(lostCount);
    // From the mark, not from the outbox's start: the early records were not even looked at again.
    expect(Number(repair?.skipped)).toBeLessThanOrEqual(10);
    const after = await Promise.all(keys.partitions.map((p) => redis.xlen(p.stream)));
    keys.partitions.forEach((p, i) => {
      if (p.index !== 2) expect(after[i]).toBe(others[i]);
    });
  });

  it("takes over from a shipper of the single stream without sending again what it sent", async () => {
    const keys = redisKeys(prefix, { partitions: 4 });
    const outbox = await openOutbox();
    const redis = await ready(client("check"));
    const shipped = records(100);
    const inDoubt = records(50);
    const fresh = records(60);
    await outbox.append(shipped);
    const afterShipped = (await outbox.pageLines({ limit: 100 })).next as string;
    await outbox.append([...inDoubt, ...fresh]);
    // An earlier version shipped 100 and checkpointed, then sent 50 more and died before its checkpoint.
    for (const r of shipped)
      await redis.xadd(keys.legacy.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    const fence = (await redis.xrevrange(keys.legacy.stream, "+", "-", "COUNT", 1))[0]?.[0] as string;
    for (const r of inDoubt)
      await redis.xadd(keys.legacy.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    await writeFile(
      join(dir, "stream-shipper.json"),
      JSON.stringify({
        version: 1,
        stream: keys.legacy.stream,
        cursor: afterShipped,
        fence,
        lastAckedId: fence,
        epoch: null,
      }),
    );

    const shipper = await startShipper(outbox, keys);
    expect(await shipper.drain(10_000)).toBe(true);
    expectOnce(
      await allIds(redis, keys),
      fresh.map((r) => r.decisionId),
    );
    const checkpoint = JSON.parse(await readFile(join(dir, "stream-shipper.json"), "utf8"));
    expect(checkpoint.version).toBe(2);
    expect(checkpoint.legacyFence).toBeUndefined();
  });
});
