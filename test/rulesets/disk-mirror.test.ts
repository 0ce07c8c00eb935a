/**
 * The Redis mode's disk mirror on real files: a change after a checkpoint appends one short line to the
 * journal and leaves the checkpoint alone; a checkpoint is written in slices; a start reads back exactly
 * the last version written, and after a crash at any point a version that was written (never another);
 * a tampered checkpoint or journal line is refused and logged; an instance upgraded from the whole JSON
 * document (`ruleset.json`) starts from it.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { syntheticOrders } from "../../bench/synthetic-orders.js";
import {
  bucketDocuments,
  compile,
  fromDocument,
  type Order,
  type Ruleset,
  recompile,
  toDocument,
  transition,
} from "../../src/engine/index.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { nodeSha256 } from "../../src/platform/node/sha256-stream.js";
import { DiskMirror, type DiskMirrorOptions } from "../../src/rulesets/disk-mirror.js";
import { rulesetJson } from "../../src/rulesets/ruleset-json.js";
import { HOUR, iso, NOON } from "../support/fixtures.js";
import { type LogLine, recordingLogger } from "../support/logs.js";
import { apply, change, expectSame } from "../support/order-changes.js";
import { rehash } from "../support/ruleset-hash.js";
import { approved, forMeeting } from "../support/rulesets.js";

const NODE = { sha256: nodeSha256 };
const meta = (version: number) => ({ version, compiledAt: iso(NOON + version) });

let dir: string;
let logs: LogLine[];
const CHECKPOINT = () => join(dir, "ruleset.mirror");
const JOURNAL = () => join(dir, "ruleset.mirror-deltas");
const LEGACY = () => join(dir, "ruleset.json");

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-disk-mirror-"));
  logs = [];
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function mirror(options: DiskMirrorOptions = {}, at = dir): DiskMirror {
  const { logger } = recordingLogger(logs);
  return new DiskMirror(join(at, "ruleset.mirror"), logger, options);
}

/** `n` approved orders on meetings m-0 .. m-(n-1). */
const orders = (n: number, from = 0): Order[] =>
  Array.from({ length: n }, (_, i) => approved(`o-${from + i}`, forMeeting(`m-${from + i}`)));

const withdrawn = (order: Order) => transition(order, { type: "withdraw" }, "responder-1", iso(NOON - HOUR));

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, "utf8")).split("\n").filter((l) => l !== "");
}

describe("a change after a checkpoint", () => {
  it("appends one line of the change's size and leaves the checkpoint as it was", async () => {
    const all = orders(300);
    const v1 = compile(all, meta(1), NODE);
    const m = mirror();
    expect(await m.write(v1)).toBeUndefined();
    await m.flush();
    const before = await stat(CHECKPOINT());
    const bytes = await readFile(CHECKPOINT());

    const v2 = recompile(v1, [withdrawn(all[7] as Order)], meta(2), NODE);
    expect(await m.write(v2)).toBeUndefined();
    await m.flush();

    const after = await stat(CHECKPOINT());
    expect({ ino: after.ino, mtime: after.mtimeMs, size: after.size }).toEqual({
      ino: before.ino,
      mtime: before.mtimeMs,
      size: before.size,
    });
    expect(await readFile(CHECKPOINT())).toEqual(bytes);
    const journal = await lines(JOURNAL());
    expect(journal).toHaveLength(1);
    expect(JSON.parse(journal[0] as string)).toMatchObject({ version: 2, removed: ["o-7"], upserts: [] });
    // One order's worth, not three hundred.
    expect((journal[0] as string).length).toBeLessThan(1000);
    expect((journal[0] as string).length * 20).toBeLessThan(before.size);
    expectSame((await mirror().load()) as Ruleset, v2);
  });

  it("writes a new checkpoint once the journal reaches its bound, and the journal starts again", async () => {
    const all = orders(20);
    let ruleset = compile(all, meta(1), NODE);
    const m = mirror({ journalLines: 3 });
    await m.write(ruleset);
    for (let v = 2; v <= 5; v++) {
      ruleset = recompile(ruleset, [withdrawn(all[v] as Order)], meta(v), NODE);
      await m.write(ruleset);
    }
    await m.flush();
    // v2..v4 journaled; the third line made v4 (the newest then) a checkpoint; v5 follows it.
    const journal = (await lines(JOURNAL())).map((l) => JSON.parse(l).version);
    expect(journal).toEqual([5]);
    expectSame((await mirror().load()) as Ruleset, ruleset);
  });

  it("a ruleset not made from the one written before (compiled afresh) is written as a checkpoint", async () => {
    const m = mirror();
    await m.write(compile(orders(5), meta(1), NODE));
    await m.write(recompile(compile(orders(5), meta(1), NODE), orders(1, 5), meta(2), NODE));
    await m.flush();
    expect(await lines(JOURNAL())).toEqual([]);
    expect((await mirror().load())?.version).toBe(2);
  });

  it("appends go on while a checkpoint is being written, and the journal after it keeps them", async () => {
    const all = orders(40);
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let yields = 0;
    const m = mirror({
      sliceMs: 0,
      yieldToLoop: async () => {
        if (++yields === 2) await gate;
      },
    });
    let ruleset = compile(all, meta(1), NODE);
    const first = m.write(ruleset);
    let settled = false;
    void first.then(() => {
      settled = true;
    });
    for (let v = 2; v <= 4; v++) {
      ruleset = recompile(ruleset, [withdrawn(all[v] as Order)], meta(v), NODE);
      // Each append is done while the checkpoint waits at its gate.
      expect(await m.write(ruleset)).toBeUndefined();
    }
    expect(settled).toBe(false);
    release();
    expect(await first).toBeUndefined();
    await m.flush();
    expect((await lines(JOURNAL())).map((l) => JSON.parse(l).version)).toEqual([2, 3, 4]);
    expectSame((await mirror().load()) as Ruleset, ruleset);
  });

  it("skips a checkpoint a newer one replaced before it started", async () => {
    const all = orders(30);
    const buckets = [...bucketDocuments(compile(all, meta(1), NODE))].length;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let yields = 0;
    let started = () => {};
    const underWay = new Promise<void>((resolve) => {
      started = resolve;
    });
    const m = mirror({
      sliceMs: 0,
      yieldToLoop: async () => {
        if (++yields > 1) return;
        started();
        await gate;
      },
    });
    const first = m.write(compile(all, meta(1), NODE));
    await underWay;
    // Compiled afresh, each: no delta from the one before, each a checkpoint.
    const skipped = m.write(compile(all, meta(2), NODE));
    const last = compile(all, meta(3), NODE);
    const newest = m.write(last);
    release();
    expect(await Promise.all([first, skipped, newest])).toEqual([undefined, undefined, undefined]);
    await m.flush();
    // Slices of the first checkpoint and the newest (with no time to a slice, one after each line: the
    // header, the buckets, the tables); none of the one in between.
    expect(yields).toBe(2 * (buckets + 2));
    expectSame((await mirror().load()) as Ruleset, last);
  });

  it("ignores a version older than one written", async () => {
    const m = mirror();
    await m.write(compile(orders(3), meta(3), NODE));
    expect(await m.write(compile(orders(2), meta(2), NODE))).toBeUndefined();
    await m.flush();
    expect((await mirror().load())?.version).toBe(3);
  });
});

describe("a checkpoint at size", () => {
  let big: Ruleset;
  beforeAll(() => {
    big = compile(syntheticOrders(50_000), meta(1), NODE);
  });

  it("lets the event loop run between slices, and a slice holds at most what it is given", async () => {
    let yields = 0;
    const m = mirror({
      sliceMs: 0,
      yieldToLoop: async () => {
        yields++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
    });
    expect(await m.write(big)).toBeUndefined();
    await m.flush();
    // A slice of 0 ms yields after every bucket: at 50 000 orders each of the 4096 buckets holds some.
    expect(yields).toBeGreaterThanOrEqual(4000);
    const loaded = (await mirror().load()) as Ruleset;
    expect(loaded.hash).toBe(big.hash);
    expect(loaded.orders.length).toBe(50_000);
  }, 60_000);

  it("by default yields as it goes: several slices, and the change after it appends one line", async () => {
    let yields = 0;
    const m = mirror({
      yieldToLoop: async () => {
        yields++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
    });
    await m.write(big);
    await m.flush();
    expect(yields).toBeGreaterThan(0);
    const after = yields;
    const next = recompile(big, [withdrawn(syntheticOrders(1)[0] as Order)], meta(2), NODE);
    await m.write(next);
    await m.flush();
    expect(yields).toBe(after);
    expect(await lines(JOURNAL())).toHaveLength(1);
  }, 60_000);
});

/** The files of the mirror after a write. */
interface State {
  checkpoint: Buffer | undefined;
  journal: Buffer | undefined;
}

async function restore(state: State, at: string): Promise<void> {
  await rm(at, { recursive: true, force: true });
  await mkdir(at, { recursive: true });
  if (state.checkpoint) await writeFile(join(at, "ruleset.mirror"), state.checkpoint);
  if (state.journal) await writeFile(join(at, "ruleset.mirror-deltas"), state.journal);
}

const crash = fc.oneof(
  fc.constant({ kind: "none" as const }),
  // A journal append cut short, at any byte.
  fc.record({ kind: fc.constant("torn" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  // A checkpoint write cut short: its temporary file left beside.
  fc.record({ kind: fc.constant("tmp" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  // Renamed a checkpoint, then stopped before the journal restarted: the journal before it stays.
  fc.constant({ kind: "stale" as const }),
);

describe("a start after a crash", () => {
  it("loads exactly the last version written, or after a crash a version that was written", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(change, { minLength: 1, maxLength: 5 }),
        fc.array(
          fc.record({ changes: fc.array(change, { minLength: 1, maxLength: 3 }), whole: fc.boolean() }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.integer({ min: 1, max: 4 }),
        crash,
        fc.nat(),
        async (first, batches, journalLines, mishap, pick) => {
          const at = join(dir, `run-${Math.random().toString(36).slice(2)}`);
          await mkdir(at);
          const current = new Map<string, Order>();
          for (const c of first) apply(current, c);
          const m = new DiskMirror(join(at, "ruleset.mirror"), SILENT_LOGGER, { journalLines });
          let ruleset = compile([...current.values()], meta(1), NODE);
          const written = new Map<number, Ruleset>([[1, ruleset]]);
          await m.write(ruleset);
          await m.flush();
          const read = (path: string) => readFile(join(at, path)).catch(() => undefined);
          const states: State[] = [
            { checkpoint: await read("ruleset.mirror"), journal: await read("ruleset.mirror-deltas") },
          ];
          for (const [i, batch] of batches.entries()) {
            const changed = batch.changes.map((c) => apply(current, c));
            const version = i + 2;
            ruleset = batch.whole
              ? compile([...current.values()], meta(version), NODE)
              : recompile(ruleset, changed, meta(version), NODE);
            written.set(version, ruleset);
            expect(await m.write(ruleset)).toBeUndefined();
            await m.flush();
            states.push({
              checkpoint: await read("ruleset.mirror"),
              journal: await read("ruleset.mirror-deltas"),
            });
          }
          // Without a crash: exactly the last version.
          expectSame(
            (await new DiskMirror(join(at, "ruleset.mirror"), SILENT_LOGGER).load()) as Ruleset,
            ruleset,
          );

          // A crash at some state, in some way.
          const n = pick % states.length;
          const state = states[n] as State;
          const lastWritten = n + 1;
          const target = join(at, "crashed");
          let lowest = 1;
          if (mishap.kind === "stale" && n > 0) {
            // The checkpoint of state n with the journal of state n - 1.
            await restore({ ...state, journal: (states[n - 1] as State).journal }, target);
          } else if (mishap.kind === "torn" && state.journal && state.journal.length > 0) {
            const cut = Math.floor(mishap.at * state.journal.length);
            await restore({ ...state, journal: state.journal.subarray(0, cut) }, target);
          } else {
            await restore(state, target);
            if (mishap.kind === "tmp") {
              const next = (states[n + 1] ?? state).checkpoint ?? Buffer.from("{");
              await writeFile(
                join(target, "ruleset.mirror.tmp"),
                next.subarray(0, Math.floor(mishap.at * next.length)),
              );
            }
          }
          if (mishap.kind === "none" || mishap.kind === "tmp") lowest = lastWritten;
          const loaded = await new DiskMirror(join(target, "ruleset.mirror"), SILENT_LOGGER).load();
          expect(loaded).toBeDefined();
          const version = (loaded as Ruleset).version;
          expect(version).toBeGreaterThanOrEqual(lowest);
          expect(version).toBeLessThanOrEqual(lastWritten);
          expectSame(loaded as Ruleset, written.get(version) as Ruleset);
          await rm(at, { recursive: true, force: true });
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it("after a torn last line, the next change starts a checkpoint (no line is written onto the torn one)", async () => {
    const all = orders(10);
    let ruleset = compile(all, meta(1), NODE);
    const m = mirror();
    await m.write(ruleset);
    ruleset = recompile(ruleset, [withdrawn(all[1] as Order)], meta(2), NODE);
    await m.write(ruleset);
    await m.flush();
    await writeFile(JOURNAL(), `${await readFile(JOURNAL(), "utf8")}{"base":{"vers`);
    const again = mirror();
    const loaded = (await again.load()) as Ruleset;
    expect(loaded.version).toBe(2);
    const next = recompile(loaded, [withdrawn(all[2] as Order)], meta(3), NODE);
    await again.write(next);
    await again.flush();
    expect(await lines(JOURNAL())).toEqual([]);
    expectSame((await mirror().load()) as Ruleset, next);
    expect((await readdir(dir)).sort()).toEqual(["ruleset.mirror", "ruleset.mirror-deltas"]);
  });
});

describe("a crash's leftovers", () => {
  it("removes the temporary files a journal rewrite or a legacy write left, and keeps what they were to replace", async () => {
    const all = orders(10);
    const v1 = compile(all, meta(1), NODE);
    const v2 = recompile(v1, [withdrawn(all[1] as Order)], meta(2), NODE);
    const m = mirror();
    for (const v of [v1, v2]) await m.write(v);
    await m.flush();
    // What `writeFileAtomic` names its temporary files, as a crash before the rename leaves them.
    await writeFile(`${JOURNAL()}.4242.tmp`, "half a journal");
    await writeFile(`${LEGACY()}.4243.tmp`, '{"version":');
    await writeFile(join(dir, "ruleset.mirror-deltas.notes.tmp"), "not ours");
    expectSame((await mirror().load()) as Ruleset, v2);
    expect((await readdir(dir)).sort()).toEqual([
      "ruleset.mirror",
      "ruleset.mirror-deltas",
      "ruleset.mirror-deltas.notes.tmp",
    ]);
  });
});

describe("a mirror that does not verify", () => {
  async function written(): Promise<Ruleset[]> {
    const all = orders(10);
    const v1 = compile(all, meta(1), NODE);
    const v2 = recompile(v1, [withdrawn(all[3] as Order)], meta(2), NODE);
    const v3 = recompile(v2, [withdrawn(all[4] as Order)], meta(3), NODE);
    const m = mirror();
    for (const v of [v1, v2, v3]) await m.write(v);
    await m.flush();
    return [v1, v2, v3];
  }

  it("stops at a tampered journal line, using the version before it, with a warning", async () => {
    const [, v2] = await written();
    const [l2, l3] = await lines(JOURNAL());
    const tampered = JSON.parse(l3 as string);
    tampered.upserts = [{ ...toDocument(v2 as Ruleset).orders[0], meetingIds: ["m-elsewhere"] }];
    tampered.removed = [];
    await writeFile(JOURNAL(), `${l2}\n${JSON.stringify(tampered)}\n`);
    const loaded = (await mirror().load()) as Ruleset;
    expectSame(loaded, v2 as Ruleset);
    const warning = logs.find((l) => l.level === "warn");
    expect(warning?.message).toMatch(/journal line refused/);
    expect(String(warning?.fields?.error)).toMatch(/hash mismatch/);
  });

  it("refuses a journal line that blocks outside its authority, whatever hash it states (I1)", async () => {
    const [v1] = await written();
    const [l2] = await lines(JOURNAL());
    const tampered = JSON.parse(l2 as string);
    tampered.upserts = [{ ...toDocument(v1 as Ruleset).orders[0], jurisdictions: ["RU"] }];
    await writeFile(JOURNAL(), `${JSON.stringify(tampered)}\n`);
    expectSame((await mirror().load()) as Ruleset, v1 as Ruleset);
    expect(String(logs.find((l) => l.level === "warn")?.fields?.error)).toMatch(/outside its authority/);
  });

  for (const [name, damage] of [
    [
      "a flipped byte",
      (bytes: Buffer) => {
        const at = bytes.indexOf("o-5");
        bytes[at + 2] = "9".charCodeAt(0);
        return bytes;
      },
    ],
    ["cut short", (bytes: Buffer) => bytes.subarray(0, bytes.length - 20)],
    ["empty", () => Buffer.alloc(0)],
  ] as const) {
    it(`refuses a checkpoint with ${name}: nothing loaded, logged, left in place, and the next write replaces it`, async () => {
      const [, , v3] = await written();
      const damaged = damage(await readFile(CHECKPOINT()));
      await writeFile(CHECKPOINT(), damaged);
      const m = mirror();
      expect(await m.load()).toBeUndefined();
      expect(logs.find((l) => l.level === "error")?.message).toMatch(
        /local ruleset file corrupt or tampered/,
      );
      expect(await readFile(CHECKPOINT())).toEqual(damaged);
      await m.write(v3 as Ruleset);
      await m.flush();
      expectSame((await mirror().load()) as Ruleset, v3 as Ruleset);
    });
  }
});

describe("an instance upgraded from the whole JSON document", () => {
  it("starts from ruleset.json, and its first write replaces it with a checkpoint", async () => {
    const all = orders(12);
    const v1 = compile(all, meta(1), NODE);
    await writeFile(LEGACY(), rulesetJson(v1));
    const m = mirror();
    const loaded = (await m.load()) as Ruleset;
    expectSame(loaded, v1);
    const v2 = recompile(loaded, [withdrawn(all[0] as Order)], meta(2), NODE);
    expect(await m.write(v2)).toBeUndefined();
    await m.flush();
    await expect(stat(LEGACY())).rejects.toMatchObject({ code: "ENOENT" });
    expectSame((await mirror().load()) as Ruleset, v2);
  });

  it("is not kept under the legacy document's name (which each checkpoint removes)", () => {
    expect(() => new DiskMirror(LEGACY(), SILENT_LOGGER)).toThrow(/named as the legacy document/);
  });

  it("refuses a tampered ruleset.json, logged", async () => {
    const doc = toDocument(compile(orders(2), meta(1), NODE));
    await writeFile(
      LEGACY(),
      JSON.stringify({ ...doc, orders: [{ ...doc.orders[0], meetingIds: ["m-9"] }] }),
    );
    expect(await mirror().load()).toBeUndefined();
    expect(String(logs.find((l) => l.level === "error")?.fields?.error)).toMatch(/hash mismatch/);
  });

  it("keeps a ruleset of the earlier hash scheme as the whole document, which a start reads", async () => {
    const m = mirror();
    await m.write(compile(orders(3), meta(1), NODE));
    await m.flush();
    const { hashScheme: _, ...doc } = toDocument(compile(orders(4), meta(2), NODE));
    const earlier = fromDocument(rehash(doc), NODE);
    expect(earlier.hashScheme).toBeUndefined();
    expect(await m.write(earlier)).toBeUndefined();
    await m.flush();
    expect(await readdir(dir)).toEqual(["ruleset.json"]);
    expectSame((await mirror().load()) as Ruleset, earlier);
  });
});
