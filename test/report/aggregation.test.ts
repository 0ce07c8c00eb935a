/**
 * The report's incremental aggregation (I5: nothing lost, nothing counted twice), on real files and a real
 * redis-server: the file store and the Redis legacy aggregates deduplicate by decisionId, the Redis
 * partitions by stream position (memory that does not grow with the records); batches split across runs
 * give the numbers of one run, and a run killed anywhere (kill -9 of a child process) and run again gives
 * the numbers of a run that never stopped. The expected numbers come from `reference` below, written from
 * DESIGN.md "Report" independently of `accumulate`.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecisionCode, DecisionRecord } from "../../src/engine/index.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import type { AggregateStore } from "../../src/report/aggregate-store.js";
import type { MonthAggregate } from "../../src/report/model.js";
import { monthOf } from "../../src/report/periods.js";
import { runFromDecisionLog } from "../../src/report/runner.js";
import { FileAggregateStore } from "../../src/store/file/aggregate-store.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { RedisAggregateStore } from "../../src/store/redis/aggregate-store.js";
import { partitionOf, type RedisKeys, redisKeys } from "../../src/store/redis/keys.js";
import { runFromStream } from "../../src/store/redis/report-reader.js";
import { createReportGroup, StreamTrimmer } from "../../src/store/redis/stream-trimmer.js";
import { loggerFor } from "../support/logs.js";
import { PositionedLog } from "../support/positioned-log.js";
import { type RedisServer, startRedis } from "../support/redis.js";

const SRC = resolve(import.meta.dirname, "../../src");

// ---- records and the reference count ----

interface Spec {
  t: number;
  code: DecisionCode;
  jurisdiction: string | null;
  orderIds: string[];
  meetingId: string;
  ipHash: string | null;
}

function record(id: string, s: Spec): DecisionRecord {
  return {
    decisionId: id,
    at: new Date(s.t).toISOString(),
    meetingId: s.meetingId,
    decision: s.code === "BLOCKED" ? "deny" : "allow",
    code: s.code,
    orderIds: s.orderIds,
    jurisdiction: s.jurisdiction,
    country: s.jurisdiction?.slice(0, 2) ?? null,
    subdivision: s.jurisdiction?.includes("-") ? s.jurisdiction : null,
    ipPrefix: "49.32.10.0/24",
    ipHash: s.ipHash,
    rulesetVersion: 3,
    geoSource: "mmdb",
    geoDbVersion: "fixture",
  };
}

const JUNE_28 = Date.UTC(2023, 5, 28);
const AUG_3 = Date.UTC(2023, 7, 3);
const JULY_1 = Date.UTC(2023, 6, 1);

const specArb: fc.Arbitrary<Spec> = fc.record({
  // Across two month boundaries, with the instants on either side of one of them made likely.
  t: fc.oneof(fc.integer({ min: JUNE_28, max: AUG_3 }), fc.constantFrom(JULY_1 - 1, JULY_1)),
  code: fc.constantFrom<DecisionCode>("BLOCKED", "BLOCKED", "SHADOW_MATCH", "NO_ORDER", "GEO_UNKNOWN"),
  jurisdiction: fc.constantFrom("IN-MH", "RU", null),
  orderIds: fc.subarray(["ord_a", "ord_b", "ord_c"]),
  meetingId: fc.constantFrom("m1", "m2", "m3", "m4"),
  ipHash: fc.option(fc.constantFrom("h1", "h2", "h3", "h4", "h5"), { nil: null }),
});

/** Deterministic records for the runner tests: in time order, a month boundary every `perMonth`. */
function timeline(n: number, perMonth: number, prefix = "d"): DecisionRecord[] {
  const codes: DecisionCode[] = ["BLOCKED", "SHADOW_MATCH", "NO_ORDER", "BLOCKED", "OUTSIDE_JURISDICTION"];
  return Array.from({ length: n }, (_, i) => {
    const month = Math.floor(i / perMonth);
    const t = Date.UTC(2023, month, 1) + (i % perMonth) * 60_000;
    return record(`${prefix}-${i}`, {
      t,
      code: codes[i % codes.length] as DecisionCode,
      jurisdiction: i % 7 === 0 ? "RU" : "IN-MH",
      orderIds: i % 7 === 0 ? ["ord_ru"] : i % 3 === 0 ? ["ord_in", "ord_in2"] : ["ord_in"],
      meetingId: `m${i % 11}`,
      // Half of them as the service writes them (64 hex characters), half short: the file store keeps
      // the two forms apart (as 32 bytes, as strings).
      ipHash: i % 13 === 0 ? null : i % 2 === 0 ? `h${i % 17}` : sha256(`h${i % 17}`),
    });
  });
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

interface BucketView {
  denied: number;
  shadow: number;
  meetings: string[];
  participants: string[];
}
type View = Record<string, { records: number; j: Record<string, BucketView>; o: Record<string, BucketView> }>;

/**
 * What DESIGN.md says the report counts, per month: every distinct record; denied joins (BLOCKED) and
 * shadow matches (SHADOW_MATCH) per matched jurisdiction and per named order, with their distinct
 * meetings and participants (ipHash). Records are distinct by decisionId, the first one kept.
 */
function reference(records: readonly DecisionRecord[]): View {
  const seen = new Set<string>();
  const out: View = {};
  const sets = new Map<BucketView, { meetings: Set<string>; participants: Set<string> }>();
  for (const r of records) {
    if (seen.has(r.decisionId)) continue;
    seen.add(r.decisionId);
    const month = new Date(r.at).toISOString().slice(0, 7);
    out[month] ??= { records: 0, j: {}, o: {} };
    const m = out[month];
    m.records++;
    if (r.code !== "BLOCKED" && r.code !== "SHADOW_MATCH") continue;
    const buckets: [Record<string, BucketView>, string][] = r.orderIds.map((id) => [m.o, id]);
    if (r.jurisdiction !== null) buckets.push([m.j, r.jurisdiction]);
    for (const [into, key] of buckets) {
      into[key] ??= { denied: 0, shadow: 0, meetings: [], participants: [] };
      const b = into[key];
      if (!sets.has(b)) sets.set(b, { meetings: new Set(), participants: new Set() });
      const s = sets.get(b) as { meetings: Set<string>; participants: Set<string> };
      if (r.code !== "BLOCKED") {
        b.shadow++;
        continue;
      }
      b.denied++;
      s.meetings.add(r.meetingId);
      if (r.ipHash !== null) s.participants.add(r.ipHash);
    }
  }
  for (const [b, s] of sets) {
    b.meetings = [...s.meetings].sort();
    b.participants = [...s.participants].sort();
  }
  return out;
}

function view(months: readonly MonthAggregate[]): View {
  const out: View = {};
  const bucketView = (b: MonthAggregate["byOrder"]) =>
    Object.fromEntries(
      Object.entries(b).map(([k, v]) => [
        k,
        {
          denied: v.deniedJoins,
          shadow: v.shadowMatches,
          meetings: [...v.meetings].sort(),
          participants: [...v.participants].sort(),
        },
      ]),
    );
  for (const m of months) {
    if (m.records === 0) continue;
    out[m.month] = { records: m.records, j: bucketView(m.byJurisdiction), o: bucketView(m.byOrder) };
  }
  return out;
}

/** One order's denied joins and shadow matches summed over the months of a reference view. */
function totalsOf(reference: View, orderId: string): { deniedJoins: number; shadowMatches: number } {
  const totals = { deniedJoins: 0, shadowMatches: 0 };
  for (const month of Object.values(reference)) {
    totals.deniedJoins += month.o[orderId]?.denied ?? 0;
    totals.shadowMatches += month.o[orderId]?.shadow ?? 0;
  }
  return totals;
}

async function snapshot(store: AggregateStore): Promise<View> {
  return view(await store.months(await store.allMonths()));
}

function chunks<T>(list: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; at < list.length; i++) {
    const size = Math.max(1, sizes[i % Math.max(1, sizes.length)] ?? 7);
    out.push(list.slice(at, at + size));
    at += size;
  }
  return out;
}

// ---- fixtures ----

let redisServer: RedisServer;
let redis: RedisClient;
const tmpDirs: string[] = [];
let prefixes = 0;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cordon-report-"));
  tmpDirs.push(dir);
  return dir;
}

beforeAll(async () => {
  redisServer = await startRedis();
  redis = createRedis(redisServer.url, { name: "report-test", commandTimeoutMs: 10_000 });
  await new Promise((done) => redis.once("ready", done));
});

afterAll(async () => {
  redis?.disconnect();
  await redisServer?.close();
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/**
 * Each kind of store, fresh, and reopened on the same data (a second run of the CLI), with the log the
 * records are positioned in (the file store counts by position; the Redis store by decisionId).
 */
interface Kind {
  name: string;
  fresh(): Promise<{ store: AggregateStore; reopen(): Promise<AggregateStore>; log: PositionedLog }>;
}

const KINDS: Kind[] = [
  {
    name: "FileAggregateStore",
    async fresh() {
      const dir = await tempDir();
      const log = new PositionedLog();
      return {
        store: await FileAggregateStore.open(dir, { log }),
        reopen: () => FileAggregateStore.open(dir, { log }),
        log,
      };
    },
  },
  {
    // `apply`: the legacy aggregates, which drain the single stream of earlier versions.
    name: "RedisAggregateStore",
    async fresh() {
      const keys = redisKeys(`t${++prefixes}`, { partitions: 4 });
      return {
        store: new RedisAggregateStore(redis, keys),
        reopen: async () => new RedisAggregateStore(redis, keys),
        log: new PositionedLog(),
      };
    },
  },
];

describe.each(KINDS)("$name", (kind) => {
  const records = timeline(240, 90);

  it("changes nothing when the same batch is applied twice", async () => {
    const { store, log } = await kind.fresh();
    expect(await store.apply(records, "c1", log.positionsOf(records))).toEqual({
      applied: 240,
      duplicates: 0,
    });
    const first = await snapshot(store);
    expect(await store.apply(records, "c1", log.positionsOf(records))).toEqual({
      applied: 0,
      duplicates: 240,
    });
    expect(await snapshot(store)).toEqual(first);
    expect(first).toEqual(reference(records));
    expect(await store.checkpoint()).toBe("c1");
    await store.close();
  });

  it("gives the numbers of one run when the records come in two runs, the checkpoint kept between", async () => {
    const one = await kind.fresh();
    await one.store.apply(records, "end", one.log.positionsOf(records));
    const two = await kind.fresh();
    await two.store.apply(records.slice(0, 101), "half", two.log.positionsOf(records.slice(0, 101)));
    await two.store.close();
    const again = await two.reopen();
    expect(await again.checkpoint()).toBe("half");
    expect(await again.apply(records.slice(101), "end", two.log.positionsOf(records.slice(101)))).toEqual({
      applied: 139,
      duplicates: 0,
    });
    expect(await snapshot(again)).toEqual(await snapshot(one.store));
    expect(await again.allMonths()).toEqual(["2023-01", "2023-02", "2023-03"]);
    // A month without records comes back empty, not missing.
    expect(await again.months(["2022-12"])).toEqual([
      { month: "2022-12", records: 0, byJurisdiction: {}, byOrder: {} },
    ]);
    await Promise.all([one.store.close(), again.close()]);
  });

  it("counts in-meeting removals apart from denied joins, and where each order's meetings were hosted", async () => {
    const { store, reopen, log } = await kind.fresh();
    const base: Pick<Spec, "jurisdiction" | "orderIds" | "ipHash"> = {
      jurisdiction: "IN-MH",
      orderIds: ["ord_in"],
      ipHash: null,
    };
    const jan = Date.UTC(2023, 0, 10);
    const feb = Date.UTC(2023, 1, 10);
    const batch: DecisionRecord[] = [
      record("x-join", { ...base, t: jan, code: "BLOCKED", meetingId: "m1", ipHash: "p1" }),
      {
        ...record("x-rm1", { ...base, t: jan, code: "BLOCKED", meetingId: "m1", ipHash: "p1" }),
        phase: "in_meeting",
      },
      {
        ...record("x-rm2", { ...base, t: feb, code: "BLOCKED", meetingId: "m2", ipHash: "p2" }),
        phase: "in_meeting",
      },
      // Hosts: m1's inside (exempt, let in), m2's inside (refused: a denial too), m3's outside, twice.
      { ...record("x-h1", { ...base, t: jan, code: "EXEMPT", meetingId: "m1", ipHash: "h1" }), role: "host" },
      {
        ...record("x-h2", { ...base, t: feb, code: "BLOCKED", meetingId: "m2", ipHash: "h2" }),
        role: "host",
      },
      {
        ...record("x-h3", {
          ...base,
          t: jan,
          code: "OUTSIDE_JURISDICTION",
          jurisdiction: null,
          meetingId: "m3",
          ipHash: "h3",
        }),
        role: "host",
      },
      {
        ...record("x-h4", {
          ...base,
          t: feb,
          code: "OUTSIDE_JURISDICTION",
          jurisdiction: null,
          meetingId: "m3",
          ipHash: "h3",
        }),
        role: "host",
      },
      // A host who could not be placed says nothing of where the meeting was hosted.
      {
        ...record("x-h5", {
          ...base,
          t: feb,
          code: "GEO_UNKNOWN",
          jurisdiction: null,
          meetingId: "m4",
          ipHash: "h5",
        }),
        role: "host",
      },
    ];
    const sorted = [...batch].sort((a, b) => a.at.localeCompare(b.at));
    await store.apply(sorted, "c", log.positionsOf(sorted));
    const expected = {
      deniedJoins: 2,
      shadowMatches: 0,
      removedParticipants: 2,
      meetingsHostedInside: 2,
      meetingsHostedOutside: 1,
    };
    expect(await store.orderTotals("ord_in")).toEqual(expected);
    const [january, february] = await store.months(["2023-01", "2023-02"]);
    expect(january?.byJurisdiction["IN-MH"]).toMatchObject({ deniedJoins: 1, removedParticipants: 1 });
    expect(february?.byOrder.ord_in).toMatchObject({
      deniedJoins: 1,
      removedParticipants: 1,
      meetings: ["m2"],
      participants: expect.arrayContaining(["h2", "p2"]),
      hostedInside: ["m2"],
      hostedOutside: ["m3"],
    });
    expect(january?.byOrder.ord_in).toMatchObject({ hostedInside: ["m1"], hostedOutside: ["m3"] });
    // Applied again: nothing counted twice; read back from what was stored: the same.
    await store.apply(sorted, "c", log.positionsOf(sorted));
    expect(await store.orderTotals("ord_in")).toEqual(expected);
    await store.close();
    const again = await reopen();
    expect(await again.orderTotals("ord_in")).toEqual(expected);
    expect((await again.months(["2023-02"]))[0]?.byOrder.ord_in).toMatchObject({
      removedParticipants: 1,
      hostedInside: ["m2"],
    });
    await again.close();
  });

  it("totals one order over every month, and keeps the totals as later batches land", async () => {
    const { store, reopen, log } = await kind.fresh();
    expect(await store.orderTotals("ord_in")).toEqual({ deniedJoins: 0, shadowMatches: 0 });
    await store.apply(records.slice(0, 120), "a", log.positionsOf(records.slice(0, 120)));
    const early = reference(records.slice(0, 120));
    expect(await store.orderTotals("ord_in")).toEqual(totalsOf(early, "ord_in"));
    // Past the first month boundary, into months the first call did not see; duplicates change nothing.
    await store.apply(records.slice(100), "b", log.positionsOf(records.slice(100)));
    const all = reference(records);
    expect(Object.keys(all)).toHaveLength(3);
    for (const id of ["ord_in", "ord_in2", "ord_ru"]) {
      const totals = totalsOf(all, id);
      expect(totals.deniedJoins, id).toBeGreaterThan(0);
      expect(totals.shadowMatches, id).toBeGreaterThan(0);
      expect(await store.orderTotals(id), id).toEqual(totals);
    }
    expect(await store.orderTotals("ord_none")).toEqual({ deniedJoins: 0, shadowMatches: 0 });
    await store.close();
    // Read back from what was stored.
    const again = await reopen();
    expect(await again.orderTotals("ord_in")).toEqual(totalsOf(all, "ord_in"));
    await again.close();
  });

  it("counts a generated feed with records read again mixed in as its deduplicated set", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(specArb, { minLength: 1, maxLength: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 5 }),
        async (specs, dupes, sizes) => {
          const unique = specs.map((s, i) => record(`dec-${i}`, s));
          // Copies of random records at random places, at the position of their first appearance: the
          // log read again from an earlier cursor.
          const feed = [...unique];
          for (const [which, where] of dupes) {
            feed.splice(where % (feed.length + 1), 0, unique[which % unique.length] as DecisionRecord);
          }
          const { store, reopen, log } = await kind.fresh();
          let applied = 0;
          let duplicates = 0;
          let current = store;
          for (const [i, batch] of chunks(feed, sizes).entries()) {
            const r = await current.apply(batch, `c${i}`, log.positionsOf(batch));
            applied += r.applied;
            duplicates += r.duplicates;
            if (i === 1) {
              // A second run in the middle.
              await current.close();
              current = await reopen();
            }
          }
          expect({ applied, duplicates }).toEqual({ applied: unique.length, duplicates: dupes.length });
          expect(await snapshot(current)).toEqual(reference(unique));
          for (const id of ["ord_a", "ord_b", "ord_c"]) {
            expect(await current.orderTotals(id), id).toEqual(totalsOf(reference(unique), id));
          }
          await current.close();
        },
      ),
      { numRuns: 30 },
    );
  });
});

// ---- the file store with the decision log ----

/** A data directory whose decision log holds `records`, closed again (the report opens it). */
async function dataDirWith(records: readonly DecisionRecord[]): Promise<string> {
  const dir = await tempDir();
  const log = await FileStore.open(dir, { segmentBytes: 64 * 1024 });
  for (const batch of chunks(records, [97])) await log.append(batch);
  await log.close();
  return dir;
}

async function runToEnd(dataDir: string, batch = 100) {
  const log = await FileStore.open(dataDir);
  const store = await FileAggregateStore.open(join(dataDir, "report"), { log });
  try {
    const run = await runFromDecisionLog(log, store, { batch });
    return { run, view: await snapshot(store) };
  } finally {
    await store.close();
    await log.close();
  }
}

describe("runFromDecisionLog with FileAggregateStore", () => {
  it("reads from the checkpoint on: a second run reads nothing and the numbers stay", async () => {
    const records = timeline(500, 130);
    const dir = await dataDirWith(records);
    const first = await runToEnd(dir);
    expect(first.run).toMatchObject({ batches: 5, applied: 500, duplicates: 0 });
    expect(first.view).toEqual(reference(records));
    const second = await runToEnd(dir);
    expect(second.run).toMatchObject({
      batches: 0,
      applied: 0,
      duplicates: 0,
      checkpoint: first.run.checkpoint,
    });
    expect(second.view).toEqual(first.view);
  });

  it("recovers from a crash after some month files were written and before the checkpoint", async () => {
    // Months change at record 130, 260, 390; batches of 100: the third batch (200-299) spans two months.
    const records = timeline(500, 130);
    const dir = await dataDirWith(records);
    const report = join(dir, "report");
    const log = await FileStore.open(dir);
    let store = await FileAggregateStore.open(report);
    await runFromDecisionLog(log, store, { batch: 100, stopAfterBatches: 2 });
    await store.close();
    const before = await tempDir();
    await cp(report, before, { recursive: true });
    store = await FileAggregateStore.open(report);
    const third = await runFromDecisionLog(log, store, { batch: 100, stopAfterBatches: 1 });
    expect(third.applied).toBe(100);
    await store.close();
    await log.close();

    // What a kill -9 between the writes of that batch leaves: its first month (2023-02, records 200-259)
    // written, its second (2023-03, records 260-299) not yet, the checkpoint still the one before it.
    await writeFile(join(report, "checkpoint.json"), await readFile(join(before, "checkpoint.json")));
    await unlink(join(report, "months", "2023-03.json"));

    const rerun = await runToEnd(dir);
    expect(rerun.run).toMatchObject({ applied: 300 - 60, duplicates: 60 });
    expect(rerun.view).toEqual(reference(records));
    expect(rerun.view).toEqual((await runToEnd(await dataDirWith(records))).view);
  });

  it("gives the numbers of an uninterrupted run after being killed (SIGKILL) in the middle, several times", async () => {
    const records = timeline(3000, 700);
    const dir = await dataDirWith(records);
    const child = `
      const { FileStore } = await import(${JSON.stringify(`${SRC}/store/file/file-store.ts`)});
      const { FileAggregateStore } = await import(${JSON.stringify(`${SRC}/store/file/aggregate-store.ts`)});
      const { runFromDecisionLog } = await import(${JSON.stringify(`${SRC}/report/runner.ts`)});
      const dir = process.env.DATA_DIR;
      const log = await FileStore.open(dir);
      const agg = await FileAggregateStore.open(dir + "/report");
      const store = {
        apply: async (r, c, p) => { const x = await agg.apply(r, c, p); process.stdout.write("b\\n"); return x; },
        checkpoint: () => agg.checkpoint(),
        months: (m) => agg.months(m),
        allMonths: () => agg.allMonths(),
        close: () => agg.close(),
      };
      await runFromDecisionLog(log, store, { batch: 7 });
      process.stdout.write("done\\n");
      await agg.close();
      await log.close();
    `;
    let kills = 0;
    for (const afterBatches of [3, 40, 90]) {
      const proc = spawnChild(child, { DATA_DIR: dir });
      await waitForLines(proc, "b", afterBatches);
      // A little later still, so that the kill also lands inside an apply's writes, not only between.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 15)));
      if (!proc.output.includes("done")) {
        await killHard(proc);
        kills++;
      } else {
        await once(proc.child, "exit");
      }
    }
    expect(kills).toBeGreaterThan(0);
    const rerun = await runToEnd(dir);
    expect(rerun.run.applied).toBeGreaterThan(0);
    expect(rerun.view).toEqual(reference(records));
    expect(rerun.view).toEqual((await runToEnd(await dataDirWith(records))).view);
  }, 120_000);
});

describe("FileAggregateStore's month files", () => {
  /** Every record of one month, from the same few meetings and participants. */
  function sameMonth(n: number, prefix: string): DecisionRecord[] {
    return Array.from({ length: n }, (_, i) =>
      record(`${prefix}-${i}`, {
        t: Date.UTC(2023, 4, 1) + i * 1000,
        code: i % 4 === 0 ? "BLOCKED" : "NO_ORDER",
        jurisdiction: i % 4 === 0 ? "RU" : null,
        orderIds: i % 4 === 0 ? ["ord_ru"] : [],
        meetingId: `m${i % 5}`,
        ipHash: `h${i % 9}`,
      }),
    );
  }

  it("hold no decisionIds and stay the same size as a month's records grow", async () => {
    const first = sameMonth(2000, "a");
    const more = sameMonth(6000, "b");
    const dir = await dataDirWith([...first, ...more]);
    const log = await FileStore.open(dir);
    const store = await FileAggregateStore.open(join(dir, "report"), { log });
    const file = join(dir, "report", "months", "2023-05.json");
    try {
      await runFromDecisionLog(log, store, { batch: 500, stopAfterBatches: 4 });
      const small = await readFile(file, "utf8");
      await runFromDecisionLog(log, store, { batch: 500 });
      const large = await readFile(file, "utf8");
      expect(JSON.parse(large).aggregate.records).toBe(8000);
      for (const r of [first[0], first[1999], more[5999]]) expect(large).not.toContain(r?.decisionId);
      // Only the counts' digits and the position it counts through may differ.
      expect(Math.abs(large.length - small.length)).toBeLessThan(16);
    } finally {
      await store.close();
      await log.close();
    }
  });

  it("count nothing twice when a crash left a month ahead of the checkpoint and the re-run pages differently", async () => {
    const records = timeline(600, 150);
    const dir = await dataDirWith(records);
    const report = join(dir, "report");
    const log = await FileStore.open(dir);
    let store = await FileAggregateStore.open(report, { log });
    await runFromDecisionLog(log, store, { batch: 100, stopAfterBatches: 2 });
    await store.close();
    const checkpoint = await readFile(join(report, "checkpoint.json"));
    store = await FileAggregateStore.open(report, { log });
    // Records 200-399: the rest of 2023-02 (to 299) and 2023-03 (300-399), in one batch.
    await runFromDecisionLog(log, store, { batch: 200, stopAfterBatches: 1 });
    await store.close();
    // A kill -9 after 2023-02's file was written, before 2023-03's and the checkpoint.
    await writeFile(join(report, "checkpoint.json"), checkpoint);
    await unlink(join(report, "months", "2023-03.json"));
    await log.close();

    // Read again from the old checkpoint in pages of 37, which straddle what 2023-02 counts.
    const rerun = await runToEnd(dir, 37);
    expect(rerun.run).toMatchObject({ applied: 600 - 300, duplicates: 100 });
    expect(rerun.view).toEqual(reference(records));
  });

  it("give back a month's counted decisionIds from the decision log, late ones apart", async () => {
    const records = timeline(450, 150);
    const dir = await dataDirWith(records);
    const log = await FileStore.open(dir);
    const store = await FileAggregateStore.open(join(dir, "report"), { log });
    try {
      await runFromDecisionLog(log, store, { batch: 64 });
      await store.freeze(["2023-01", "2023-02"]);
      const lateOne = record("late-1", {
        t: Date.UTC(2023, 1, 10),
        code: "BLOCKED",
        jurisdiction: "RU",
        orderIds: ["ord_ru"],
        meetingId: "m1",
        ipHash: "h1",
      });
      await log.append([
        lateOne,
        ...timeline(10, 10, "march").map((r, i) => ({
          ...r,
          at: new Date(Date.UTC(2023, 2, 20) + i).toISOString(),
        })),
      ]);
      await runFromDecisionLog(log, store, { batch: 64 });
      const ids = (from: number, to: number) =>
        records
          .slice(from, to)
          .map((r) => r.decisionId)
          .sort();
      expect(await store.counted("2023-01")).toEqual({ records: ids(0, 150), late: [] });
      expect(await store.counted("2023-02")).toEqual({ records: ids(150, 300), late: [] });
      const march = await store.counted("2023-03");
      expect(march.late).toEqual(["late-1"]);
      expect(march.records).toEqual(
        [...ids(300, 450), ...Array.from({ length: 10 }, (_, i) => `march-${i}`)].sort(),
      );
      expect(await store.counted("2023-04")).toEqual({ records: [], late: [] });
    } finally {
      await store.close();
      await log.close();
    }
  });

  it("go on from month files written before positions (with seen ids), even ahead of the checkpoint", async () => {
    const records = timeline(500, 130);
    const dir = await dataDirWith(records);
    const report = join(dir, "report");
    const log = await FileStore.open(dir);
    let store = await FileAggregateStore.open(report, { log });
    await runFromDecisionLog(log, store, { batch: 100, stopAfterBatches: 2 });
    await store.close();
    const checkpoint = await readFile(join(report, "checkpoint.json"));
    store = await FileAggregateStore.open(report, { log });
    await runFromDecisionLog(log, store, { batch: 100, stopAfterBatches: 1 });
    await store.close();
    // What the previous version would have left after a kill -9 inside the third batch (records
    // 200-299): version-1 files (their ids in `seen`, their sets in the aggregate), 2023-02 holding
    // records 130-259, past the checkpoint; 2023-03 not written yet.
    store = await FileAggregateStore.open(report, { log });
    const [january, february] = await store.months(["2023-01", "2023-02"]);
    await store.close();
    const oldMonth = async (aggregate: MonthAggregate | undefined, from: number, to: number) => {
      const month = aggregate?.month as string;
      const seen = records.slice(from, to).map((r) => r.decisionId);
      await writeFile(
        join(report, "months", `${month}.json`),
        `${JSON.stringify({ version: 1, aggregate, seen })}\n`,
      );
      await unlink(join(report, "months", `${month}.sets`));
    };
    await oldMonth(january, 0, 130);
    await oldMonth(february, 130, 260);
    await unlink(join(report, "months", "2023-03.json"));
    await unlink(join(report, "months", "2023-03.sets"));
    await writeFile(join(report, "checkpoint.json"), checkpoint);
    await log.close();

    const rerun = await runToEnd(dir, 33);
    expect(rerun.run).toMatchObject({ applied: 300 - 60, duplicates: 60 });
    expect(rerun.view).toEqual(reference(records));
    const again = await FileStore.open(dir);
    store = await FileAggregateStore.open(report, { log: again });
    try {
      const ids = (from: number, to: number) =>
        records
          .slice(from, to)
          .map((r) => r.decisionId)
          .sort();
      expect((await store.counted("2023-01")).records).toEqual(ids(0, 130));
      expect((await store.counted("2023-02")).records).toEqual(ids(130, 260));
    } finally {
      await store.close();
      await again.close();
    }
  });
});

// ---- the Redis stream through the report consumer group ----

interface Child {
  child: ChildProcess;
  output: string;
}

function spawnChild(code: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: resolve(import.meta.dirname, "../.."),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const c: Child = { child, output: "" };
  child.stdout?.on("data", (d: Buffer) => {
    c.output += d.toString();
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  child.on("exit", (code) => {
    if (code !== 0 && code !== null) c.output += `\nexit ${code}: ${err}`;
  });
  return c;
}

async function waitForLines(c: Child, line: string, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const seen = c.output.split("\n").filter((l) => l === line).length;
    if (seen >= count || c.output.includes("done")) return;
    if (c.child.exitCode !== null) throw new Error(`child exited early: ${c.output}`);
    if (Date.now() > deadline) throw new Error(`child did not report ${count} x ${line}: ${c.output}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function killHard(c: Child): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = once(c.child, "exit");
  c.child.kill("SIGKILL");
  await exited;
}

/** XADDs each record to its partition's stream, as the shipper does; the entry ids, in `records` order. */
async function ship(keys: RedisKeys, records: readonly DecisionRecord[]): Promise<string[]> {
  const pipeline = redis.pipeline();
  for (const r of records) pipeline.xadd(streamOf(keys, r), "*", "id", r.decisionId, "r", JSON.stringify(r));
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, id]) => {
    if (err) throw err;
    return id as string;
  });
}

function streamOf(keys: RedisKeys, r: DecisionRecord): string {
  return (keys.partitions[partitionOf(r.decisionId, keys.partitions.length)] as RedisKeys["legacy"]).stream;
}

/** Pending entries of the report group over every partition. */
async function pending(keys: RedisKeys): Promise<{ count: number }> {
  let count = 0;
  for (const p of keys.partitions) {
    const [n] = (await redis.xpending(p.stream, keys.reportGroup)) as [number, string | null];
    count += Number(n);
  }
  return { count };
}

/**
 * A runner that counts one batch (the script ran), says so, and hangs before its XACK: killed there, it
 * never acknowledges.
 */
function killedAfterApply(prefix: string, partitions: number, consumer: string, batch: number): string {
  return `
    const { createRedis } = await import(${JSON.stringify(`${SRC}/platform/node/redis.ts`)});
    const { redisKeys } = await import(${JSON.stringify(`${SRC}/store/redis/keys.ts`)});
    const { RedisAggregateStore } = await import(${JSON.stringify(`${SRC}/store/redis/aggregate-store.ts`)});
    const { runFromStream } = await import(${JSON.stringify(`${SRC}/store/redis/report-reader.ts`)});
    const redis = createRedis(process.env.REDIS_URL, { name: "report-child" });
    await new Promise((r) => redis.once("ready", r));
    const keys = redisKeys(${JSON.stringify(prefix)}, { partitions: ${partitions} });
    const store = new RedisAggregateStore(redis, keys);
    const counted = store.applyEntries.bind(store);
    store.applyEntries = async (p, entries) => {
      const r = await counted(p, entries);
      if (r.gap) return r;
      process.stdout.write("applied\\n");
      setInterval(() => {}, 1000);
      await new Promise(() => {});
    };
    await runFromStream(redis, keys, store, { consumer: ${JSON.stringify(consumer)}, batch: ${batch} });
    process.stdout.write("done\\n");
  `;
}

/** Every key of a prefix with its size (members, fields, entries), largest first. */
async function keySizes(prefix: string): Promise<{ key: string; type: string; size: number }[]> {
  const out: { key: string; type: string; size: number }[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const size =
        type === "set"
          ? await redis.scard(key)
          : type === "hash"
            ? await redis.hlen(key)
            : type === "stream"
              ? await redis.xlen(key)
              : type === "zset"
                ? await redis.zcard(key)
                : type === "list"
                  ? await redis.llen(key)
                  : 1;
      out.push({ key, type, size });
    }
  } while (cursor !== "0");
  return out.sort((a, b) => b.size - a.size);
}

describe("runFromStream with RedisAggregateStore", () => {
  it("re-reads what a runner killed between the script and XACK left pending, and counts it once", async () => {
    const prefix = `s${++prefixes}`;
    const keys = redisKeys(prefix, { partitions: 4 });
    const records = timeline(300, 120);
    await ship(keys, records);

    const proc = spawnChild(killedAfterApply(prefix, 4, "runner-1", 20), { REDIS_URL: redisServer.url });
    await waitForLines(proc, "applied", 1);
    await killHard(proc);
    const store = new RedisAggregateStore(redis, keys);
    // Counted, but not acknowledged: the 20 entries are still pending at the killed consumer.
    expect((await store.months(["2023-01"]))[0]?.records).toBe(20);
    expect(await pending(keys)).toEqual({ count: 20 });

    const run = await runFromStream(redis, keys, store, { consumer: "runner-1", batch: 64 });
    // The 20 pending ones again (at or below their partition's checkpoint: duplicates), then the rest.
    expect(run).toMatchObject({ applied: 280, duplicates: 20, malformed: [], missing: 0 });
    expect(await pending(keys)).toEqual({ count: 0 });
    expect(await snapshot(store)).toEqual(reference(records));

    // The same numbers as a run that was never killed, over the same records under another prefix.
    const cleanKeys = redisKeys(`s${++prefixes}`, { partitions: 4 });
    await ship(cleanKeys, records);
    const clean = new RedisAggregateStore(redis, cleanKeys);
    await runFromStream(redis, cleanKeys, clean, { consumer: "clean" });
    expect(await snapshot(clean)).toEqual(await snapshot(store));

    // Running again finds nothing new and changes nothing.
    const again = await runFromStream(redis, keys, store, { consumer: "runner-1" });
    expect(again).toMatchObject({ batches: 0, applied: 0, duplicates: 0 });
    expect(await snapshot(store)).toEqual(reference(records));
  });

  it("changes nothing when the same stream entries are applied twice", async () => {
    const keys = redisKeys(`s${++prefixes}`, { partitions: 1 });
    const records = timeline(240, 90);
    const ids = await ship(keys, records);
    const entries = records.map((record, i) => ({ id: ids[i] as string, record }));
    const store = new RedisAggregateStore(redis, keys);
    expect(await store.applyEntries(0, entries)).toEqual({ applied: 240, duplicates: 0, gap: false });
    const first = await snapshot(store);
    expect(first).toEqual(reference(records));
    expect(await store.applyEntries(0, entries)).toEqual({ applied: 0, duplicates: 240, gap: false });
    // Overlapping the checkpoint: only the part above it counts.
    expect(await store.applyEntries(0, entries.slice(100))).toEqual({
      applied: 0,
      duplicates: 140,
      gap: false,
    });
    expect(await snapshot(store)).toEqual(first);
    expect(await store.partitionCheckpoint(0)).toBe(ids.at(-1));
  });

  it("refuses entries that do not continue the checkpoint, so that it never passes an uncounted one", async () => {
    const keys = redisKeys(`s${++prefixes}`, { partitions: 1 });
    const records = timeline(60, 60);
    const ids = await ship(keys, records);
    const entries = records.map((record, i) => ({ id: ids[i] as string, record }));
    const store = new RedisAggregateStore(redis, keys);
    expect(await store.applyEntries(0, entries.slice(0, 10))).toMatchObject({ applied: 10, gap: false });
    // Entries 10-19 are with another runner: counting 20-59 now would put them below the checkpoint.
    expect(await store.applyEntries(0, entries.slice(20))).toEqual({ applied: 0, duplicates: 0, gap: true });
    expect(await store.partitionCheckpoint(0)).toBe(ids[9]);
    expect(await store.applyEntries(0, entries.slice(10, 20))).toMatchObject({ applied: 10, gap: false });
    expect(await store.applyEntries(0, entries.slice(20))).toMatchObject({ applied: 40, gap: false });
    expect(await snapshot(store)).toEqual(reference(records));
  });

  it("counts what another consumer was delivered and never counted without waiting for it", async () => {
    const prefix = `s${++prefixes}`;
    const keys = redisKeys(prefix, { partitions: 2 });
    const records = timeline(200, 120);
    await ship(keys, records);
    const store = new RedisAggregateStore(redis, keys);
    await createReportGroup(redis, keys);
    // A runner that read 30 entries of each partition and died before counting them.
    for (const p of keys.partitions) {
      await redis.xreadgroup("GROUP", keys.reportGroup, "dead", "COUNT", 30, "STREAMS", p.stream, ">");
    }
    // Not idle long enough to be claimed, yet counted: from the stream, before the entries after them.
    const run = await runFromStream(redis, keys, store, {
      consumer: "alive",
      batch: 16,
      claimIdleMs: 60_000,
    });
    expect(run).toMatchObject({ applied: 200, duplicates: 0 });
    expect(await snapshot(store)).toEqual(reference(records));
    expect(await pending(keys)).toEqual({ count: 60 });
    // Claimed once idle: acknowledged, counted already.
    const claimed = await runFromStream(redis, keys, store, { consumer: "alive", claimIdleMs: 0 });
    expect(claimed).toMatchObject({ applied: 0, duplicates: 60 });
    expect(await pending(keys)).toEqual({ count: 0 });
    expect(await snapshot(store)).toEqual(reference(records));
  });

  it("keeps no key that grows with the records: after 10 000 only the stream holds 10 000", async () => {
    const prefix = `s${++prefixes}`;
    const keys = redisKeys(prefix, { partitions: 1 });
    const records = timeline(10_000, 4000).map((r, i) => ({
      ...r,
      meetingId: `m${i % 50}`,
      ipHash: `h${i % 50}`,
    }));
    await ship(keys, records);
    const store = new RedisAggregateStore(redis, keys);
    await runFromStream(redis, keys, store, { consumer: "r", batch: 500 });
    expect(await snapshot(store)).toEqual(reference(records));
    const sizes = await keySizes(prefix);
    expect(sizes[0]).toEqual({ key: keys.partitions[0]?.stream, type: "stream", size: 10_000 });
    // The largest of the rest: a month's counters or a bucket's 50 meetings, whatever the record count.
    expect(sizes[1]?.size).toBeLessThanOrEqual(60);
  });

  it("gives the same report with 1 partition or 16", async () => {
    const records = timeline(400, 150);
    const views = [];
    for (const partitions of [1, 16]) {
      const keys = redisKeys(`s${++prefixes}`, { partitions });
      await ship(keys, records);
      const store = new RedisAggregateStore(redis, keys);
      await runFromStream(redis, keys, store, { consumer: "r", batch: 32 });
      await store.freeze(["2023-01"]);
      views.push({
        view: await snapshot(store),
        totals: await Promise.all(["ord_in", "ord_in2", "ord_ru"].map((id) => store.orderTotals(id))),
        counted: await store.counted("2023-01"),
      });
    }
    expect(views[0]).toEqual(views[1]);
    expect(views[0]?.view).toEqual(reference(records));
    expect(views[0]?.counted.records).toHaveLength(150);
  });

  it("drains the legacy stream into the legacy aggregates, by decisionId, and merges them with the partitions", async () => {
    const keys = redisKeys(`s${++prefixes}`, { partitions: 4 });
    const records = timeline(300, 120);
    const old = records.slice(0, 180);
    // As an earlier version left it: the single stream (some records shipped twice) and its group.
    for (const r of [...old, ...old.slice(100, 150)]) {
      await redis.xadd(keys.legacy.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
    }
    await redis.xgroup("CREATE", keys.legacy.stream, keys.reportGroup, "0");
    await ship(keys, records.slice(180));
    const store = new RedisAggregateStore(redis, keys);
    const run = await runFromStream(redis, keys, store, { consumer: "r", batch: 64 });
    expect(run).toMatchObject({ applied: 300, duplicates: 50 });
    expect(await snapshot(store)).toEqual(reference(records));
    expect(await redis.scard(keys.legacy.report.seen("2023-01"))).toBe(120);
    for (const p of keys.partitions) expect(await redis.exists(p.report.seen("2023-01"))).toBe(0);
  });

  it("trims a partition only below what the report group acknowledged and the report counted", async () => {
    const prefix = `s${++prefixes}`;
    const keys = redisKeys(prefix, { partitions: 1 });
    const stream = keys.partitions[0]?.stream as string;
    const records = timeline(120, 60);
    const ids = await ship(keys, records);
    // The acknowledgement rule alone: keeping unarchived months (I9) is tested in finalization.test.ts.
    const trimmer = StreamTrimmer.start({ redis, keys, intervalMs: 3_600_000, keepUnarchived: false });
    try {
      // A runner killed after counting its first batch of 30: delivered, counted, not acknowledged.
      const proc = spawnChild(killedAfterApply(prefix, 1, "runner-1", 30), { REDIS_URL: redisServer.url });
      await waitForLines(proc, "applied", 1);
      await killHard(proc);
      expect(await trimmer.trimOnce()).toMatchObject({ trimmed: 0, minId: ids[0] });
      expect(await redis.xlen(stream)).toBe(120);

      // Another runner counts 40 more (batches of 20), then stops; the 30 stay pending at runner-1.
      const store = new RedisAggregateStore(redis, keys);
      await runFromStream(redis, keys, store, { consumer: "runner-2", batch: 20, stopAfterBatches: 2 });
      expect(await pending(keys)).toEqual({ count: 30 });
      expect((await trimmer.trimOnce()).trimmed).toBe(0);

      // runner-1 comes back: its pending entries are re-read and acknowledged. Everything up to entry 70
      // is now acknowledged and nothing is pending: the trim goes up to there, and no further.
      const back = await runFromStream(redis, keys, store, {
        consumer: "runner-1",
        batch: 30,
        stopAfterBatches: 1,
      });
      expect(back).toMatchObject({ applied: 0, duplicates: 30 });
      expect(await pending(keys)).toEqual({ count: 0 });
      expect((await trimmer.trimOnce()).trimmed).toBe(70);
      expect((await redis.xrange(stream, "-", "+")).map(([id]) => id)).toEqual(ids.slice(70));

      // Delivered and acknowledged by hand, never counted: the group alone would let them go.
      const rogue = (await redis.xreadgroup(
        "GROUP",
        keys.reportGroup,
        "rogue",
        "COUNT",
        10,
        "STREAMS",
        stream,
        ">",
      )) as [string, [string, string[]][]][];
      await redis.xack(stream, keys.reportGroup, ...(rogue[0]?.[1] ?? []).map(([id]) => id));
      expect(await trimmer.trimOnce()).toMatchObject({ trimmed: 0, minId: ids[70] });
      expect(await redis.xlen(stream)).toBe(50);

      // All of it counted (the rogue's 10 from the stream) and acknowledged: the whole stream goes.
      await runFromStream(redis, keys, store, { consumer: "runner-2" });
      expect(await trimmer.trimOnce()).toMatchObject({ trimmed: 50 });
      expect(await snapshot(store)).toEqual(reference(records));
    } finally {
      await trimmer.stop();
    }
  });

  it("claims what a dead consumer held once it has been idle long enough", async () => {
    const prefix = `s${++prefixes}`;
    const keys = redisKeys(prefix, { partitions: 2 });
    const records = timeline(80, 50);
    await ship(keys, records);
    const proc = spawnChild(killedAfterApply(prefix, 2, "dead", 25), { REDIS_URL: redisServer.url });
    await waitForLines(proc, "applied", 1);
    await killHard(proc);
    const store = new RedisAggregateStore(redis, keys);
    // Not idle long enough yet: left to its consumer, which may still be working on it.
    await runFromStream(redis, keys, store, { consumer: "other", claimIdleMs: 60_000 });
    expect(await pending(keys)).toEqual({ count: 25 });
    const run = await runFromStream(redis, keys, store, { consumer: "other", claimIdleMs: 0 });
    expect(run).toMatchObject({ applied: 0, duplicates: 25 });
    expect(await pending(keys)).toEqual({ count: 0 });
    expect(await snapshot(store)).toEqual(reference(records));
  });

  it("leaves entries that are not decision records pending, counted and reported, never dropped", async () => {
    const prefix = `s${++prefixes}`;
    const keys = redisKeys(prefix, { partitions: 1 });
    const stream = keys.partitions[0]?.stream as string;
    const records = timeline(20, 50);
    await ship(keys, records.slice(0, 10));
    const bad = [
      await redis.xadd(stream, "*", "id", "x1", "r", "{not json"),
      await redis.xadd(stream, "*", "id", "x2", "r", JSON.stringify({ decisionId: "x2" })),
      await redis.xadd(stream, "*", "id", "x3"),
    ];
    await ship(keys, records.slice(10));
    const warnings: string[] = [];
    const logger = loggerFor("warn", (m) => warnings.push(m));
    const store = new RedisAggregateStore(redis, keys);
    const run = await runFromStream(redis, keys, store, { consumer: "r", batch: 4, logger });
    expect(run).toMatchObject({ applied: 20, malformed: bad });
    expect(warnings.join("\n")).toMatch(/not decision records stay pending/);
    expect(await redis.xpending(stream, keys.reportGroup)).toEqual([3, bad[0], bad[2], [["r", "3"]]]);
    expect(await snapshot(store)).toEqual(reference(records));
    // Every run says so again, and the numbers stay.
    const again = await runFromStream(redis, keys, store, { consumer: "r", logger });
    expect(again).toMatchObject({ applied: 0, malformed: bad });
    expect(await snapshot(store)).toEqual(reference(records));
  });
});

describe("monthOf routing", () => {
  it("puts the last millisecond of June in June and the first of July in July", async () => {
    for (const kind of KINDS) {
      const { store, log } = await kind.fresh();
      const spec: Spec = {
        t: JULY_1 - 1,
        code: "BLOCKED",
        jurisdiction: "RU",
        orderIds: ["o"],
        meetingId: "m",
        ipHash: "h",
      };
      const both = [record("a", spec), record("b", { ...spec, t: JULY_1 })];
      await store.apply(both, undefined, log.positionsOf(both));
      expect(await store.allMonths()).toEqual([monthOf(JULY_1 - 1), monthOf(JULY_1)]);
      expect(await store.checkpoint()).toBeUndefined();
      await store.close();
    }
  });
});
