/**
 * FileAggregateStore's distinct sets: the compact exact sets a month keeps its meetings and participants
 * in (member-set.ts), and the month's sets file (month-sets.ts), appended with what each batch adds and
 * counted by the month's counts file. A crash between the append and the counts file's rename, or inside
 * the append, and a month file of version 2 met in the middle of a catch-up, all give the numbers of a
 * run that never stopped. The numbers are checked against sets built here with plain strings, and the
 * held-out half-year's report from the store against the one from `accumulate` alone, byte for byte.
 */
import { createHash } from "node:crypto";
import { appendFile, cp, mkdtemp, readFile, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { StoreUnavailableError } from "../../src/kernel/errors.js";
import { accumulate } from "../../src/report/accumulate.js";
import { emptyMonth } from "../../src/report/aggregate-store.js";
import { buildReport } from "../../src/report/build.js";
import type { MonthAggregate } from "../../src/report/model.js";
import { monthOf } from "../../src/report/periods.js";
import { renderCsv, renderHtml, renderJson } from "../../src/report/render.js";
import { runFromDecisionLog } from "../../src/report/runner.js";
import { FileAggregateStore } from "../../src/store/file/aggregate-store.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { Hash32Set, isHexHash, MemberSet } from "../../src/store/file/member-set.js";
import { H1, ORDERS, RECORDS } from "../report/half-year.js";

const tmpDirs: string[] = [];
afterAll(() => Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cordon-sets-"));
  tmpDirs.push(dir);
  return dir;
}

const hex = (seed: string) => createHash("sha256").update(seed).digest("hex");

describe("MemberSet", () => {
  it("counts 64-hex values exactly, however alike: values differing in one bit are two members", () => {
    const set = new MemberSet();
    const base = hex("p");
    const values = [base];
    for (let i = 0; i < 64; i++) {
      // The same hash with one hex digit changed, at every position.
      const digit = ((Number.parseInt(base[i] as string, 16) ^ 1) >>> 0).toString(16);
      values.push(`${base.slice(0, i)}${digit}${base.slice(i + 1)}`);
    }
    for (const v of values) expect(set.add(v)).toBe(true);
    for (const v of values) expect(set.add(v)).toBe(false);
    expect(set.size).toBe(65);
    expect(set.values().sort()).toEqual([...values].sort());
  });

  it("keeps other values as strings, exactly as given (upper-case hex is not its lower-case twin)", () => {
    const lower = hex("q");
    const set = new MemberSet();
    for (const v of [lower, lower.toUpperCase(), lower.slice(1), "h1", "mtg-1", "", "é"]) set.add(v);
    expect(isHexHash(lower)).toBe(true);
    expect(isHexHash(lower.toUpperCase())).toBe(false);
    expect(set.size).toBe(7);
    expect(set.add("h1")).toBe(false);
    expect(set.values().sort()).toEqual(
      [lower, lower.toUpperCase(), lower.slice(1), "h1", "mtg-1", "", "é"].sort(),
    );
  });

  it("gives back, batch by batch, only what was added since it was last saved: each member once", () => {
    const value = fc.oneof(
      fc.integer({ min: 0, max: 300 }).map((i) => hex(`v${i}`)),
      fc.constantFrom("h1", "h2", "m-3", "ABC"),
    );
    fc.assert(
      fc.property(fc.array(fc.array(value, { maxLength: 40 }), { maxLength: 8 }), (batches) => {
        const set = new MemberSet();
        const stored: string[] = [];
        const expected = new Set<string>();
        for (const batch of batches) {
          for (const v of batch) {
            set.add(v);
            expected.add(v);
          }
          const { hashes, strings } = set.unsaved();
          for (let off = 0; off < hashes.length; off += 32)
            stored.push(hashes.toString("hex", off, off + 32));
          stored.push(...strings);
          set.markSaved();
          expect(set.hasUnsaved).toBe(false);
        }
        expect(stored.length).toBe(expected.size);
        expect(new Set(stored)).toEqual(expected);
        expect(set.size).toBe(expected.size);
      }),
    );
  });

  it("stays exact through many rehashes (100 000 members)", () => {
    const set = new Hash32Set();
    const bytes = Buffer.alloc(32);
    for (let i = 0; i < 100_000; i++) {
      bytes.writeUInt32BE(i, 28); // only the last four bytes differ
      expect(set.add(bytes)).toBe(true);
    }
    for (let i = 0; i < 100_000; i += 997) {
      bytes.writeUInt32BE(i, 28);
      expect(set.add(bytes)).toBe(false);
    }
    expect(set.size).toBe(100_000);
  });
});

// ---- a month's sets file ----

/**
 * Denials in 2023-05 and 2023-06 (a boundary at record `perMonth`), from `people` distinct participants
 * (ip hashes as the service writes them, some without one, a few of another form) in 20 meetings.
 */
function denials(n: number, perMonth: number, people: number, prefix = "d"): DecisionRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const month = Math.floor(i / perMonth);
    const person = (i * 7919) % people;
    return {
      decisionId: `${prefix}-${i}`,
      at: new Date(Date.UTC(2023, 4 + month, 1) + (i % perMonth) * 1000).toISOString(),
      meetingId: `m${i % 20}`,
      decision: i % 9 === 0 ? "allow" : "deny",
      code: i % 9 === 0 ? "SHADOW_MATCH" : "BLOCKED",
      orderIds: i % 5 === 0 ? ["ord_a", "ord_b"] : ["ord_a"],
      jurisdiction: i % 3 === 0 ? "RU" : "IN-MH",
      country: i % 3 === 0 ? "RU" : "IN",
      subdivision: i % 3 === 0 ? null : "IN-MH",
      ipPrefix: "49.32.10.0/24",
      ipHash: i % 31 === 0 ? null : person % 50 === 0 ? `h${person}` : hex(`person-${person}`),
      rulesetVersion: 3,
      geoSource: "mmdb",
      geoDbVersion: "2023-01-01",
    } as DecisionRecord;
  });
}

/** Per month, per bucket: counts and sorted sets, built with plain strings. */
function expected(records: readonly DecisionRecord[]) {
  const out: Record<string, { records: number; buckets: Record<string, Bucket> }> = {};
  for (const r of records) {
    const month = r.at.slice(0, 7);
    out[month] ??= { records: 0, buckets: {} };
    const m = out[month];
    m.records++;
    const keys = r.orderIds.map((o) => `o:${o}`);
    if (r.jurisdiction !== null) keys.push(`j:${r.jurisdiction}`);
    for (const key of keys) {
      m.buckets[key] ??= { denied: 0, shadow: 0, meetings: [], participants: [] };
      const b = m.buckets[key];
      if (r.code === "SHADOW_MATCH") b.shadow++;
      else {
        b.denied++;
        if (!b.meetings.includes(r.meetingId)) b.meetings.push(r.meetingId);
        if (r.ipHash !== null && !b.participants.includes(r.ipHash)) b.participants.push(r.ipHash);
      }
    }
  }
  for (const m of Object.values(out)) {
    for (const b of Object.values(m.buckets)) {
      b.meetings.sort();
      b.participants.sort();
    }
  }
  return out;
}

interface Bucket {
  denied: number;
  shadow: number;
  meetings: string[];
  participants: string[];
}

function viewOf(months: readonly MonthAggregate[]) {
  const out: ReturnType<typeof expected> = {};
  for (const m of months) {
    const buckets: Record<string, Bucket> = {};
    for (const [prefix, by] of [
      ["o", m.byOrder],
      ["j", m.byJurisdiction],
    ] as const) {
      for (const [key, b] of Object.entries(by)) {
        buckets[`${prefix}:${key}`] = {
          denied: b.deniedJoins,
          shadow: b.shadowMatches,
          meetings: [...b.meetings].sort(),
          participants: [...b.participants].sort(),
        };
      }
    }
    out[m.month] = { records: m.records, buckets };
  }
  return out;
}

async function dataDirWith(records: readonly DecisionRecord[]): Promise<string> {
  const dir = await tempDir();
  const log = await FileStore.open(dir, { segmentBytes: 64 * 1024 });
  for (let i = 0; i < records.length; i += 97) await log.append(records.slice(i, i + 97));
  await log.close();
  return dir;
}

/** Runs the aggregation (all of it, or `batches` batches of `batch`), then reads every month back. */
async function run(dir: string, batch: number, batches?: number) {
  const log = await FileStore.open(dir);
  const store = await FileAggregateStore.open(join(dir, "report"), { log });
  try {
    const result = await runFromDecisionLog(log, store, {
      batch,
      ...(batches === undefined ? {} : { stopAfterBatches: batches }),
    });
    return { result, view: viewOf(await store.months(await store.allMonths())) };
  } finally {
    await store.close();
    await log.close();
  }
}

const monthsDir = (dir: string) => join(dir, "report", "months");
const countsFile = async (dir: string, month: string) =>
  JSON.parse(await readFile(join(monthsDir(dir), `${month}.json`), "utf8"));

describe("FileAggregateStore's sets files", () => {
  it("are appended with only the members a batch adds, 32 bytes a participant, never rewritten", async () => {
    // 2000 denials of May from 300 participants: the later batches bring no one new.
    const records = denials(2000, 2000, 300);
    const dir = await dataDirWith(records);
    const sets = join(monthsDir(dir), "2023-05.sets");
    let before = Buffer.alloc(0);
    const growth: number[] = [];
    for (let i = 0; i < 8; i++) {
      await run(dir, 250, 1);
      const now = await readFile(sets);
      // Append-only: what was there stays, byte for byte.
      expect(now.subarray(0, before.length).equals(before)).toBe(true);
      growth.push(now.length - before.length);
      before = now;
      const counts = await countsFile(dir, "2023-05");
      expect(counts.version).toBe(3);
      expect(counts.setsBytes).toBe(now.length);
    }
    // 250 records reach all 300 participants' hashes only over the first batches; then nothing is new.
    expect(growth[0]).toBeGreaterThan(0);
    expect(growth.slice(-3)).toEqual([0, 0, 0]);
    // The counts file holds counts, not members.
    const text = await readFile(join(monthsDir(dir), "2023-05.json"), "utf8");
    expect(text).not.toContain(hex("person-1"));
    expect(text.length).toBeLessThan(1000);
    // Compact: each distinct (bucket, participant or meeting) once, hashes as 32 bytes, plus block heads.
    const want = expected(records)["2023-05"];
    let members = 0;
    let bytes = 0;
    for (const b of Object.values(want?.buckets ?? {})) {
      members += b.meetings.length + b.participants.length;
      bytes += b.participants.reduce((n, p) => n + (p.length === 64 ? 32 : 4 + p.length), 0);
      bytes += b.meetings.reduce((n, m) => n + 4 + m.length, 0);
    }
    expect(members).toBeGreaterThan(600);
    // Each block head is at most 3 + 4 + 5 + 4 bytes; a batch writes at most 4 blocks per bucket.
    expect(before.length - bytes).toBeGreaterThanOrEqual(0);
    expect(before.length - bytes).toBeLessThanOrEqual(8 * 4 * 4 * 16);
    const { view } = await run(dir, 250);
    expect(view).toEqual(expected(records));
  });

  it("give the numbers of an uninterrupted run after a crash between the append and the counts file's rename", async () => {
    const records = denials(900, 500, 400);
    const dir = await dataDirWith(records);
    const report = join(dir, "report");
    await run(dir, 200, 2);
    const before = await tempDir();
    await cp(report, before, { recursive: true });
    // Records 400-599: the end of May and the start of June.
    await run(dir, 200, 1);
    const mayLonger = (await stat(join(monthsDir(dir), "2023-05.sets"))).size;
    const mayBefore = JSON.parse(await readFile(join(before, "months", "2023-05.json"), "utf8"));
    expect(mayLonger).toBeGreaterThan(mayBefore.setsBytes);
    // A kill -9 after both months' sets were appended and synced, before either counts file was renamed:
    // the old counts files and checkpoint, the longer sets files (June's without a counts file at all).
    for (const name of ["checkpoint.json", "months/2023-05.json"]) {
      await writeFile(join(report, name), await readFile(join(before, name)));
    }
    await unlink(join(monthsDir(dir), "2023-06.json"));
    expect((await stat(join(monthsDir(dir), "2023-06.sets"))).size).toBeGreaterThan(0);

    const rerun = await run(dir, 200);
    expect(rerun.result).toMatchObject({ applied: 500, duplicates: 0 });
    expect(rerun.view).toEqual(expected(records));
    expect(rerun.view).toEqual((await run(await dataDirWith(records), 200)).view);
    for (const month of ["2023-05", "2023-06"]) {
      const size = (await stat(join(monthsDir(dir), `${month}.sets`))).size;
      expect(size).toBe((await countsFile(dir, month)).setsBytes);
    }
  });

  it("give the numbers of an uninterrupted run after an append torn by a crash, and cut the tail off", async () => {
    const records = denials(900, 500, 400);
    const dir = await dataDirWith(records);
    await run(dir, 200, 2);
    const sets = join(monthsDir(dir), "2023-05.sets");
    const counted = (await countsFile(dir, "2023-05")).setsBytes;
    // Half a block: a head that promises more members than follow.
    const head = Buffer.from([1, 1, 0, 5, 0, 0, 0, ...Buffer.from("ord_a"), 200, 0, 0, 0, 1, 2, 3]);
    await appendFile(sets, head);
    // Read before anything is appended: the tail is not part of the month.
    const log = await FileStore.open(dir);
    const store = await FileAggregateStore.open(join(dir, "report"), { log });
    const partial = viewOf(await store.months(["2023-05"]));
    expect(partial["2023-05"]).toEqual(expected(records.slice(0, 400))["2023-05"]);
    await store.close();
    await log.close();

    const rerun = await run(dir, 200);
    expect(rerun.view).toEqual(expected(records));
    const after = await readFile(sets);
    expect(after.length).toBe((await countsFile(dir, "2023-05")).setsBytes);
    expect(after.length).toBeGreaterThanOrEqual(counted);
    expect(after.subarray(counted, counted + head.length).equals(head)).toBe(false);
  });

  it("stop the run when a sets file holds less than its month counts (damage, not a crash)", async () => {
    const records = denials(300, 500, 100);
    const dir = await dataDirWith(records);
    await run(dir, 100);
    const sets = join(monthsDir(dir), "2023-05.sets");
    await truncate(sets, (await stat(sets)).size - 1);
    const log = await FileStore.open(dir);
    const store = await FileAggregateStore.open(join(dir, "report"), { log });
    try {
      await expect(store.months(["2023-05"])).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
      await log.close();
    }
  });

  it("go on from version-2 month files (sets inside) in the middle of a catch-up, even ahead of the checkpoint", async () => {
    const records = denials(900, 700, 400);
    const dir = await dataDirWith(records);
    const report = join(dir, "report");
    await run(dir, 200, 2);
    const checkpoint = await readFile(join(report, "checkpoint.json"));
    await run(dir, 200, 1);
    // What the previous version would have left after a kill -9 after the third batch's months were
    // written (records 400-599, all of May) and before its checkpoint: May through record 599.
    const log = await FileStore.open(dir);
    const store = await FileAggregateStore.open(report, { log });
    const [may] = await store.months(["2023-05"]);
    await store.close();
    await log.close();
    const { from, through } = await countsFile(dir, "2023-05");
    await writeFile(
      join(monthsDir(dir), "2023-05.json"),
      `${JSON.stringify({ version: 2, aggregate: may, from, through })}\n`,
    );
    await unlink(join(monthsDir(dir), "2023-05.sets"));
    await writeFile(join(report, "checkpoint.json"), checkpoint);

    const rerun = await run(dir, 150);
    expect(rerun.result).toMatchObject({ applied: 900 - 600, duplicates: 200 });
    expect(rerun.view).toEqual(expected(records));
    // May took records 600-699 on top: written as version 3, its version-2 sets now in its sets file.
    expect((await countsFile(dir, "2023-05")).version).toBe(3);
    expect((await stat(join(monthsDir(dir), "2023-05.sets"))).size).toBeGreaterThan(32 * 300);
    // Read back from the new files alone.
    expect((await run(dir, 150)).view).toEqual(expected(records));
  });
});

describe("FileAggregateStore's report", () => {
  /** The held-out half-year's report from the given months, in every format. */
  const rendered = (m: MonthAggregate[]) => {
    const report = buildReport({
      period: H1,
      orders: ORDERS,
      months: m,
      history: m,
      generatedAt: "2026-07-20T08:00:00Z",
    });
    return [renderJson(report), renderCsv(report), renderHtml(report, "en"), renderHtml(report, "nl")];
  };

  /** The months as `accumulate` alone counts them into plain aggregates (sets as string arrays). */
  const plain = (records: readonly DecisionRecord[]) => {
    const byMonth = new Map(H1.months.map((m) => [m, emptyMonth(m)]));
    for (const r of records) accumulate(byMonth.get(monthOf(Date.parse(r.at))) as MonthAggregate, r);
    return [...byMonth.values()];
  };

  it.each([
    ["as in the fixture", (h: string) => h],
    ["as the service writes them (64 hex characters)", (h: string) => hex(h)],
  ])("is the held-out half-year byte for byte, ip hashes %s", async (_, hashOf) => {
    const records = RECORDS.map((r) => ({ ...r, ipHash: r.ipHash === null ? null : hashOf(r.ipHash) }));
    const dir = await dataDirWith(records);
    const log = await FileStore.open(dir);
    const store = await FileAggregateStore.open(join(dir, "report"), { log });
    try {
      // Small batches: every month's sets come in several appends, read back between them.
      await runFromDecisionLog(log, store, { batch: 3 });
      expect(rendered(await store.months(H1.months))).toEqual(rendered(plain(records)));
    } finally {
      await store.close();
      await log.close();
    }
  });
});
