/**
 * Finalization in the stores and the pure parts (I9): frozen months and late records in both aggregate
 * stores (and in the Redis partitions, counted by stream position), the Merkle construction, and the
 * stream trimmer keeping what no finalization has archived.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { type AggregateStore, lateMonth } from "../../src/report/aggregate-store.js";
import { parsePeriod } from "../../src/report/periods.js";
import { REPORT_KEY_FILE, reportSigner } from "../../src/runtime/node/report-key.js";
import { FileAggregateStore } from "../../src/store/file/aggregate-store.js";
import { merkleRoot } from "../../src/store/merkle.js";
import { RedisAggregateStore } from "../../src/store/redis/aggregate-store.js";
import { RedisFrozenReportStore } from "../../src/store/redis/frozen-store.js";
import { type PartitionKeys, partitionOf, type RedisKeys, redisKeys } from "../../src/store/redis/keys.js";
import { runFromStream } from "../../src/store/redis/report-reader.js";
import { keepFloor, StreamTrimmer } from "../../src/store/redis/stream-trimmer.js";
import { decisionRecord } from "../support/fixtures.js";
import { PositionedLog } from "../support/positioned-log.js";
import { type RedisServer, startRedis } from "../support/redis.js";

const rec = (id: string, at: string, code: DecisionRecord["code"] = "BLOCKED") =>
  decisionRecord({ decisionId: id, at, code, orderIds: ["ord_in"] });

let server: RedisServer;
let redis: Redis;
let prefixes = 0;
const dirs: string[] = [];
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Each store with the log its records are positioned in (see aggregation.test.ts). */
const STORES: {
  name: string;
  open: () => Promise<{ store: AggregateStore; reopen: () => Promise<AggregateStore>; log: PositionedLog }>;
}[] = [
  {
    name: "FileAggregateStore",
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), "cordon-freeze-"));
      dirs.push(dir);
      const log = new PositionedLog();
      const store = await FileAggregateStore.open(dir, { log });
      return {
        store,
        reopen: async () => {
          await store.close();
          return FileAggregateStore.open(dir, { log });
        },
        log,
      };
    },
  },
  {
    // `apply`: the legacy aggregates, by decisionId.
    name: "RedisAggregateStore",
    open: async () => {
      const keys = redisKeys(`f${++prefixes}`, { partitions: 2 });
      return {
        store: new RedisAggregateStore(redis, keys),
        reopen: async () => new RedisAggregateStore(redis, keys),
        log: new PositionedLog(),
      };
    },
  },
];

describe.each(STORES)("$name with frozen months", ({ open }) => {
  it("counts a record of a frozen month late, in the first month after it that is not frozen, once", async () => {
    const opened = await open();
    let store = opened.store;
    const apply = (records: DecisionRecord[]) =>
      store.apply(records, undefined, opened.log.positionsOf(records));
    await apply([rec("a", "2026-03-02T00:00:00Z"), rec("b", "2026-04-02T00:00:00Z")]);
    await store.freeze(parsePeriod("2026-Q1")?.months as string[]);
    await store.freeze(["2026-04"]);
    const [marchBefore] = await store.months(["2026-03"]);

    const result = await apply([
      rec("a", "2026-03-02T00:00:00Z"), // counted before the freeze: a duplicate
      rec("late-1", "2026-03-05T00:00:00Z"),
      rec("late-2", "2026-01-05T00:00:00Z", "SHADOW_MATCH"),
      rec("late-1", "2026-03-05T00:00:00Z"), // the same late record again
      rec("may", "2026-05-01T00:00:00Z"),
    ]);
    expect(result).toEqual({ applied: 3, duplicates: 2 });
    store = await opened.reopen();
    // A replay after a reopen is still a duplicate.
    expect(await apply([rec("late-2", "2026-01-05T00:00:00Z")])).toEqual({
      applied: 0,
      duplicates: 1,
    });
    const [march, may] = await store.months(["2026-03", "2026-05"]);
    expect(march).toEqual(marchBefore);
    expect(may?.records).toBe(1);
    expect(may?.late).toEqual({ records: 2, deniedJoins: 1, shadowMatches: 1 });
    expect(await store.frozenMonths()).toEqual(["2026-01", "2026-02", "2026-03", "2026-04"]);
    expect(await store.counted("2026-03")).toEqual({ records: ["a"], late: [] });
    expect(await store.counted("2026-05")).toEqual({ records: ["may"], late: ["late-1", "late-2"] });
    expect(await store.allMonths()).toEqual(["2026-03", "2026-04", "2026-05"]);
    await store.close();
  });
});

describe("RedisAggregateStore partitions with frozen months", () => {
  /** XADDs records to their partitions and counts them as the report's runner does. */
  async function shipAndRun(keys: RedisKeys, store: RedisAggregateStore, records: DecisionRecord[]) {
    for (const r of records) {
      const p = keys.partitions[partitionOf(r.decisionId, keys.partitions.length)] as PartitionKeys;
      await redis.xadd(p.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    }
    return runFromStream(redis, keys, store, { consumer: "c" });
  }

  it("counts a record of a frozen month late, and lists the month's records from the streams up to the checkpoints", async () => {
    const keys = redisKeys(`f${++prefixes}`, { partitions: 4 });
    const store = new RedisAggregateStore(redis, keys);
    const march = ["a", "b", "c", "d", "e"].map((id) => rec(id, "2026-03-02T00:00:00Z"));
    await shipAndRun(keys, store, [...march, rec("apr", "2026-04-02T00:00:00Z")]);
    await store.freeze(parsePeriod("2026-Q1")?.months as string[]);
    await store.freeze(parsePeriod("2026-Q1")?.months as string[]); // a finalization repeated
    // Every partition holds its copy of the frozen months, for its script's check; the legacy keys too.
    for (const p of [...keys.partitions, keys.legacy]) {
      expect((await redis.smembers(p.report.frozen)).sort()).toEqual(["2026-01", "2026-02", "2026-03"]);
    }
    const [marchBefore] = await store.months(["2026-03"]);
    const run = await shipAndRun(keys, store, [
      rec("late-1", "2026-03-05T00:00:00Z"),
      rec("late-2", "2026-01-05T00:00:00Z", "SHADOW_MATCH"),
      rec("may", "2026-05-01T00:00:00Z"),
    ]);
    expect(run).toMatchObject({ applied: 3, duplicates: 0 });
    const [marchAfter, april] = await store.months(["2026-03", "2026-04"]);
    expect(marchAfter).toEqual(marchBefore);
    expect(april?.late).toEqual({ records: 2, deniedJoins: 1, shadowMatches: 1 });
    expect(await store.counted("2026-03")).toEqual({ records: ["a", "b", "c", "d", "e"], late: [] });
    expect(await store.counted("2026-04")).toEqual({ records: ["apr"], late: ["late-1", "late-2"] });
    expect(await store.frozenMonths()).toEqual(["2026-01", "2026-02", "2026-03"]);
  });

  it("refuses to list a month whose counted records are no longer all in the stream", async () => {
    const keys = redisKeys(`f${++prefixes}`, { partitions: 1 });
    const store = new RedisAggregateStore(redis, keys);
    await shipAndRun(
      keys,
      store,
      ["a", "b", "c"].map((id) => rec(id, "2026-03-02T00:00:00Z")),
    );
    const stream = keys.partitions[0]?.stream as string;
    const [[first]] = (await redis.xrange(stream, "-", "+", "COUNT", 1)) as [[string, string[]]];
    await redis.xdel(stream, first);
    await expect(store.counted("2026-03")).rejects.toThrow(
      /counted 3 record\(s\) in 2026-03 but its stream holds 2/,
    );
  });
});

describe("lateMonth", () => {
  it.each([
    ["2026-03", [], "2026-04"],
    ["2026-03", ["2026-04", "2026-05"], "2026-06"],
    ["2026-12", [], "2027-01"],
  ])("takes a late record of %s with %j frozen in %s", (month, frozen, expected) => {
    expect(lateMonth(month, new Set(frozen))).toBe(expected);
  });
});

describe("merkleRoot", () => {
  const h = (...parts: (number | string | Uint8Array)[]) => {
    const bytes = parts.flatMap((p) =>
      typeof p === "number" ? [p] : typeof p === "string" ? [...utf8ToBytes(p)] : [...p],
    );
    return sha256(Uint8Array.from(bytes));
  };
  const leaf = (s: string) => h(0, s);
  const node = (a: Uint8Array, b: Uint8Array) => h(1, a, b);

  it("is RFC 6962's tree: leaves prefixed 0x00, nodes 0x01 (against second preimages), an odd node moved up", () => {
    expect(merkleRoot([])).toBe(bytesToHex(sha256(new Uint8Array(0))));
    expect(merkleRoot(["a"])).toBe(bytesToHex(leaf("a")));
    const [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map(leaf) as Uint8Array[];
    expect(merkleRoot(["a", "b", "c"])).toBe(bytesToHex(node(node(a as never, b as never), c as never)));
    expect(merkleRoot(["a", "b", "c", "d", "e"])).toBe(
      bytesToHex(node(node(node(a as never, b as never), node(c as never, d as never)), e as never)),
    );
  });

  it("never pairs an odd node with itself: [a, b, c] and [a, b, c, c] differ", () => {
    expect(merkleRoot(["a", "b", "c"])).not.toBe(merkleRoot(["a", "b", "c", "c"]));
  });
});

describe("the stream trimmer and finalization", () => {
  it("computes the floor from the oldest month with records that is not archived", () => {
    expect(keepFloor(["2026-03", "2026-01"], [])).toBe(`${Date.UTC(2025, 11, 31)}-0`);
    expect(keepFloor(["2026-03", "2026-01"], ["2026-01"])).toBe(`${Date.UTC(2026, 1, 28)}-0`);
    expect(keepFloor(["2026-01"], ["2026-01"])).toBeNull();
  });

  it("keeps a counted and acknowledged month's records until a finalization archives them", async () => {
    const keys = redisKeys(`t${++prefixes}`, { partitions: 1 });
    const stream = keys.partitions[0]?.stream as string;
    const now = Date.now();
    const records = Array.from({ length: 4 }, (_, i) =>
      rec(`r${i}`, new Date(now - 60_000 + i).toISOString()),
    );
    for (const r of records) await redis.xadd(stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    const store = new RedisAggregateStore(redis, keys);
    await runFromStream(redis, keys, store, { consumer: "c" });
    const trimmer = StreamTrimmer.start({ redis, keys, intervalMs: 3_600_000 });
    try {
      expect((await trimmer.trimOnce()).trimmed).toBe(0);
      expect(await redis.xlen(stream)).toBe(4);
      const month = parsePeriod(new Date(now - 60_000).toISOString().slice(0, 7));
      if (!month) throw new Error("no month");
      await new RedisFrozenReportStore(redis, keys).putArchive(month, { records, late: [] });
      expect((await trimmer.trimOnce()).trimmed).toBe(4);
    } finally {
      await trimmer.stop();
    }
  });
});

describe("the report signing key on the embedded default", () => {
  it("is generated in the data directory at first need (mode 0600) and kept", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cordon-key-"));
    dirs.push(dir);
    const path = join(dir, REPORT_KEY_FILE);
    const signer = reportSigner(dir, { key: undefined, keyId: undefined });
    await expect(stat(path)).rejects.toThrow(); // nothing before it is needed
    const first = await signer();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const again = await reportSigner(dir, { key: undefined, keyId: undefined })();
    expect(again.signer).toEqual(first.signer);
  });
});
