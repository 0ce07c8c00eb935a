/**
 * `FileStore` on real files in a temp directory: orders and their audit chain (I7), the decision log
 * with group commit and cursors (I5), recovery at open, and a kill -9 of a writing process. Also its
 * parts opened alone (`OrderJournal`, `SegmentLog` as the Redis outbox) and together: one LOCK.
 */

import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/cli/verify-audit.js";
import {
  createOrder,
  type DecisionRecord,
  type Order,
  OrderInput,
  OrderRuleError,
  transition,
} from "../../src/engine/index.js";
import { InvalidCursorError, NotFoundError, StoreUnavailableError } from "../../src/kernel/errors.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { verifyChain } from "../../src/store/audit.js";
import { FileStore, type FileStoreOptions } from "../../src/store/file/file-store.js";
import { OrderJournal } from "../../src/store/file/order-journal.js";
import { SegmentLog } from "../../src/store/file/segment-log.js";
import { AuditChainError } from "../../src/store/interface.js";
import { COURT, orderInput } from "../support/fixtures.js";
import { loggerFor } from "../support/logs.js";

const CREATED_AT = "2026-01-02T09:00:00Z";
const DECIDED_AT = "2026-01-02T10:00:00Z";
const INPUT = OrderInput.parse(
  orderInput({ authority: COURT, receivedAt: "2026-01-01T00:00:00Z", mode: "enforce" }),
);

let dir: string;
let warnings: { message: string; fields?: Record<string, unknown> }[];
const opened: FileStore[] = [];
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-store-"));
  warnings = [];
});

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((s) => s.close()));
  await Promise.allSettled(closers.splice(0).map((close) => close()));
  await rm(dir, { recursive: true, force: true });
});

async function openStore(opts: FileStoreOptions = {}): Promise<FileStore> {
  const store = await FileStore.open(dir, {
    logger: loggerFor("warn", (message, fields) => warnings.push({ message, fields })),
    ...opts,
  });
  opened.push(store);
  return store;
}

function create(store: FileStore, id: string, actor = "alice") {
  return store.applyChange(id, "create", actor, CREATED_AT, (current) => {
    if (current) throw new Error(`order id collision: ${id}`);
    return createOrder(INPUT, { id, actor, at: CREATED_AT });
  });
}

function approve(store: FileStore, id: string, actor = "bob") {
  return store.applyChange(id, "approve", actor, DECIDED_AT, (current) => {
    if (!current) throw new NotFoundError(`no order ${id}`);
    return transition(current, { type: "approve" }, actor, DECIDED_AT);
  });
}

function record(i: number): DecisionRecord {
  return {
    decisionId: `dec_${String(i).padStart(6, "0")}`,
    at: new Date(Date.UTC(2026, 0, 2) + i).toISOString(),
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

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** Every record from the start, paged with `limit`; also returns the final cursor. */
async function readAll(store: FileStore, limit: number, after?: string) {
  const records: DecisionRecord[] = [];
  let cursor = after;
  for (;;) {
    const page = await store.page({ limit, ...(cursor === undefined ? {} : { after: cursor }) });
    expect(page.records.length).toBeLessThanOrEqual(limit);
    records.push(...page.records);
    expect(page.next).not.toBeNull();
    if (page.records.length === 0) return { records, cursor: page.next as string };
    cursor = page.next as string;
  }
}

async function journalLines(): Promise<string[]> {
  return (await readFile(join(dir, "orders.jsonl"), "utf8")).split("\n").filter((l) => l !== "");
}

describe("FileStore orders and audit", () => {
  it("creates and approves an order, one audit entry per change, chained from the zero hash", async () => {
    const store = await openStore();
    const created = await create(store, "ord_1");
    const approved = await approve(store, "ord_1");

    expect(created).toMatchObject({ seq: 1, action: "create", actor: "alice", orderId: "ord_1" });
    expect(created.order.status).toBe("pending");
    expect(approved).toMatchObject({ seq: 2, action: "approve", actor: "bob", prevHash: created.hash });
    expect(approved.order).toMatchObject({ status: "approved", decidedBy: "bob", createdBy: "alice" });
    expect(await store.getOrder("ord_1")).toEqual(approved.order);
    expect(await store.listOrders()).toEqual([approved.order]);
    expect(await store.head()).toEqual({ seq: 2, hash: approved.hash });
    expect(await store.readAudit({})).toEqual([created, approved]);
    expect(verifyChain(await store.readAudit({}))).toMatchObject({ ok: true, count: 2 });
    // One line per change, holding the full order: the journal is the only order storage.
    expect(await journalLines()).toHaveLength(2);
  });

  it("finds the same orders, audit and head after reopening", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await create(store, "ord_2", "carol");
    await approve(store, "ord_2");
    const orders = await store.listOrders();
    const audit = await store.readAudit({});
    const head = await store.head();
    await store.close();

    const again = await openStore();
    expect(await again.listOrders()).toEqual(orders);
    expect(orders.map((o) => o.id)).toEqual(["ord_1", "ord_2"]);
    expect(await again.readAudit({})).toEqual(audit);
    expect(await again.head()).toEqual(head);
    expect(warnings).toEqual([]);
    // The chain continues from the replayed head.
    const next = await approve(again, "ord_1", "dave");
    expect(next).toMatchObject({ seq: 4, prevHash: head.hash });
  });

  it("filters the audit by order, after a seq, up to a limit", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await create(store, "ord_2");
    await approve(store, "ord_1");
    expect((await store.readAudit({ orderId: "ord_1" })).map((e) => e.seq)).toEqual([1, 3]);
    expect((await store.readAudit({ after: 1 })).map((e) => e.seq)).toEqual([2, 3]);
    expect((await store.readAudit({ after: 1, limit: 1 })).map((e) => e.seq)).toEqual([2]);
    expect(await store.readAudit({ after: 3 })).toEqual([]);
  });

  it("writes nothing when the change throws, and passes the error through unchanged", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    const before = await readFile(join(dir, "orders.jsonl"));
    const headBefore = await store.head();

    const err = await approve(store, "ord_1", "alice").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrderRuleError);
    expect((err as OrderRuleError).code).toBe("FOUR_EYES");
    const boom = new Error("boom");
    await expect(
      store.applyChange("ord_1", "withdraw", "bob", DECIDED_AT, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);

    expect(await readFile(join(dir, "orders.jsonl"))).toEqual(before);
    expect(await store.head()).toEqual(headBefore);
    expect((await store.getOrder("ord_1"))?.status).toBe("pending");
    // And the store goes on working.
    await expect(approve(store, "ord_1")).resolves.toMatchObject({ seq: 2 });
  });

  it("lets exactly one of 50 concurrent approvals of one order pass", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    const results = await Promise.allSettled(
      range(0, 50).map((i) => approve(store, "ord_1", `approver_${i}`)),
    );

    const passed = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(passed).toHaveLength(1);
    expect(refused).toHaveLength(49);
    for (const r of refused)
      expect(r.reason).toMatchObject({ name: "OrderRuleError", code: "ILLEGAL_TRANSITION" });
    expect(await journalLines()).toHaveLength(2);
    expect((await store.readAudit({})).map((e) => e.action)).toEqual(["create", "approve"]);
  });

  it("hands out orders that cannot be edited in place behind the journal's back", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    const order = (await store.getOrder("ord_1")) as Order;
    expect(() => {
      order.status = "approved";
    }).toThrow(TypeError);
    expect((await store.getOrder("ord_1"))?.status).toBe("pending");
  });

  it("refuses a second open of the same directory while the first is open", async () => {
    await openStore();
    await expect(FileStore.open(dir)).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe("FileStore recovery at open", () => {
  it("truncates torn last lines of the journal and the decision log, keeping everything acknowledged", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await approve(store, "ord_1");
    await store.append(range(0, 10).map(record));
    const head = await store.head();
    await store.close();
    const journalSize = (await stat(join(dir, "orders.jsonl"))).size;
    const segmentSize = (await stat(join(dir, "decisions", "000001.jsonl"))).size;
    // A process killed mid-write leaves part of a line.
    const half = (line: string) => line.slice(0, Math.floor(line.length / 2));
    await appendFile(join(dir, "orders.jsonl"), half((await journalLines())[1] as string));
    await appendFile(join(dir, "decisions", "000001.jsonl"), half(JSON.stringify(record(10))));

    const again = await openStore();
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringContaining("order journal: truncating a torn last line"),
      expect.stringContaining("decision log: truncating a torn last line"),
    ]);
    expect((await stat(join(dir, "orders.jsonl"))).size).toBe(journalSize);
    expect((await stat(join(dir, "decisions", "000001.jsonl"))).size).toBe(segmentSize);
    expect(await again.head()).toEqual(head);
    expect((await again.getOrder("ord_1"))?.status).toBe("approved");
    expect((await readAll(again, 100)).records).toEqual(range(0, 10).map(record));

    // Writing on after the repair leaves a file that reopens cleanly.
    await create(again, "ord_2");
    await again.append([record(10)]);
    await again.close();
    warnings = [];
    const third = await openStore();
    expect(warnings).toEqual([]);
    expect((await third.head()).seq).toBe(3);
    expect((await readAll(third, 100)).records).toEqual(range(0, 11).map(record));
  });

  it("truncates a complete but unparsable last line (a write torn by a power loss)", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await store.close();
    await appendFile(join(dir, "orders.jsonl"), '{"seq":2,"at":"20\0\0\0\0\n');
    const again = await openStore();
    expect(warnings).toHaveLength(1);
    expect((await again.head()).seq).toBe(1);
  });

  it("refuses to open when a line before the end is not JSON, naming the seq", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await create(store, "ord_2");
    await create(store, "ord_3");
    await store.close();
    const lines = await journalLines();
    lines[1] = "{garbage";
    await writeFile(join(dir, "orders.jsonl"), `${lines.join("\n")}\n`);

    const err = await FileStore.open(dir, { logger: SILENT_LOGGER }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditChainError);
    expect((err as AuditChainError).seq).toBe(2);
    // Nothing was dropped: the file is as it was.
    expect(await journalLines()).toEqual(lines);
  });

  it("refuses to open when an entry was edited, naming the seq", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await create(store, "ord_2");
    await create(store, "ord_3");
    await store.close();
    const lines = await journalLines();
    lines[2] = (lines[2] as string).replace('"IN-MH"', '"IN-KA"');
    await writeFile(join(dir, "orders.jsonl"), `${lines.join("\n")}\n`);

    await expect(FileStore.open(dir)).rejects.toMatchObject({ name: "AuditChainError", seq: 3 });
  });
});

describe("verifyAudit", () => {
  it("reports ok with the count and head of a good journal", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await approve(store, "ord_1");
    const head = await store.head();
    await store.close();
    expect(await verifyAudit(dir)).toEqual({ ok: true, count: 2, head });
  });

  it("reports the seq of an edited entry instead of throwing", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await approve(store, "ord_1");
    await create(store, "ord_2", "carol");
    await store.close();
    const text = await readFile(join(dir, "orders.jsonl"), "utf8");
    const lines = text.split("\n");
    lines[1] = (lines[1] as string).replace('"decidedBy":"bob"', '"decidedBy":"eve"');
    expect(lines[1]).toContain('"decidedBy":"eve"');
    await writeFile(join(dir, "orders.jsonl"), lines.join("\n"));

    const verdict = await verifyAudit(dir);
    expect(verdict).toMatchObject({ ok: false, seq: 2 });
    expect(verdict.ok ? "" : verdict.reason).toContain("hash does not match");
  });

  it("reports, rather than passes, a directory without a journal", async () => {
    expect(await verifyAudit(join(dir, "nowhere"))).toMatchObject({ ok: false, seq: 0 });
  });

  it("passes a torn last line with a warning, as the store would repair it", async () => {
    const store = await openStore();
    await create(store, "ord_1");
    await store.close();
    await appendFile(join(dir, "orders.jsonl"), '{"seq":2,"at');
    expect(await verifyAudit(dir)).toMatchObject({
      ok: true,
      count: 1,
      warning: expect.stringContaining("byte"),
    });
  });
});

describe("FileStore decision log", () => {
  it("pages back 10k records appended by 200 concurrent calls exactly once each, in order", async () => {
    const store = await openStore();
    const calls = range(0, 200).map((c) => store.append(range(c * 50, c * 50 + 50).map(record)));
    await Promise.all(calls);

    const { records } = await readAll(store, 333);
    expect(records).toHaveLength(10_000);
    expect(records.map((r) => r.decisionId)).toEqual(range(0, 10_000).map((i) => record(i).decisionId));
    expect(records[9_999]).toEqual(record(9_999));
    // Group commit: far fewer writes than calls.
    const { decisionWrites, decisionRecords } = store.stats();
    expect(decisionRecords).toBe(10_000);
    expect(decisionWrites).toBeLessThan(200);
  });

  it("batches appends made while a write is in flight into the next write", async () => {
    const store = await openStore({ fsync: "batch" });
    const first = store.append([record(0)]);
    // The write starts once the event loop turns; its fdatasync is then under way.
    await new Promise((turned) => setImmediate(turned));
    const rest = range(1, 100).map((i) => store.append([record(i)]));
    await Promise.all([first, ...rest]);
    expect(store.stats()).toEqual({ decisionWrites: 2, decisionRecords: 100 });
    expect((await readAll(store, 1000)).records).toEqual(range(0, 100).map(record));
  });

  it("gathers the appends of one turn of the event loop into one write", async () => {
    const store = await openStore();
    await Promise.all(range(0, 50).map((i) => store.append([record(i)])));
    expect(store.stats()).toEqual({ decisionWrites: 1, decisionRecords: 50 });
    expect((await readAll(store, 1000)).records).toEqual(range(0, 50).map(record));
  });

  it("refuses a call whose record JSON cannot hold, and writes the other calls of its turn", async () => {
    const store = await openStore();
    const unwritable = { ...record(9), rulesetVersion: 1n } as unknown as DecisionRecord;
    const calls = await Promise.allSettled([
      store.append([record(0)]),
      store.append([record(1), unwritable]),
      store.append([record(2)]),
    ]);
    expect(calls.map((c) => c.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((await readAll(store, 10)).records).toEqual([record(0), record(2)]);
    expect(store.stats()).toEqual({ decisionWrites: 1, decisionRecords: 2 });
  });

  it("writes what was appended in the turn it closes in before closing", async () => {
    const store = await openStore();
    const appended = store.append([record(0), record(1)]);
    await store.close();
    await appended;
    const again = await openStore();
    expect((await readAll(again, 10)).records).toEqual([record(0), record(1)]);
    await again.close();
  });

  it("writes once per call with fsync always", async () => {
    const store = await openStore({ fsync: "always" });
    await Promise.all(range(0, 20).map((i) => store.append([record(i)])));
    expect(store.stats()).toEqual({ decisionWrites: 20, decisionRecords: 20 });
    expect((await readAll(store, 7)).records).toEqual(range(0, 20).map(record));
  });

  it("rotates segments and pages across them, also after reopening", async () => {
    const size = Buffer.byteLength(`${JSON.stringify(record(0))}\n`);
    const store = await openStore({ segmentBytes: size * 5 });
    for (let i = 0; i < 40; i += 3) await store.append(range(i, Math.min(i + 3, 40)).map(record));
    const segments = await readdir(join(dir, "decisions"));
    expect(segments.length).toBeGreaterThan(5);
    expect(segments).toContain("000002.jsonl");
    for (const name of segments)
      expect((await stat(join(dir, "decisions", name))).size).toBeLessThanOrEqual(size * 5);

    const first = await readAll(store, 4);
    expect(first.records).toEqual(range(0, 40).map(record));
    await store.close();

    const again = await openStore({ segmentBytes: size * 5 });
    await again.append(range(40, 50).map(record));
    // The cursor from before the restart picks up exactly the new records.
    expect((await readAll(again, 4, first.cursor)).records).toEqual(range(40, 50).map(record));
    expect((await readAll(again, 17)).records).toEqual(range(0, 50).map(record));
  });

  it("gives a cursor at the end that a reporter can poll with", async () => {
    const store = await openStore();
    const empty = await store.page({ limit: 10 });
    expect(empty.records).toEqual([]);
    await store.append(range(0, 3).map(record));
    const page = await store.page({ limit: 10, after: empty.next as string });
    expect(page.records).toEqual(range(0, 3).map(record));
    const caughtUp = await store.page({ limit: 10, after: page.next as string });
    expect(caughtUp).toEqual({ records: [], next: page.next });
    await store.append([record(3)]);
    expect((await store.page({ limit: 10, after: page.next as string })).records).toEqual([record(3)]);
  });

  it("refuses cursors it did not hand out", async () => {
    const store = await openStore();
    await store.append(range(0, 5).map(record));
    const cursor = (text: string) => Buffer.from(text).toString("base64url");
    const bad = [
      "!!!",
      "",
      cursor("hello"),
      cursor("1:5"), // inside a record
      cursor("1:999999"), // past the end
      cursor("2:0"), // no such segment
      cursor("01:0"), // another spelling of a position
      `${(await store.page({ limit: 2 })).next}=`,
    ];
    for (const after of bad) {
      await expect(store.page({ limit: 10, after }), after).rejects.toBeInstanceOf(InvalidCursorError);
    }
  });

  it("writes pending appends before close resolves", async () => {
    const store = await openStore();
    const pending = store.append(range(0, 10).map(record));
    await store.close();
    await pending;
    await expect(store.append([record(10)])).rejects.toBeInstanceOf(StoreUnavailableError);
    const again = await openStore();
    expect((await readAll(again, 100)).records).toEqual(range(0, 10).map(record));
  });
});

describe("FileStore prune", () => {
  // The biggest record (a deny): segments of `size * n` hold n records or a few more.
  const size = Buffer.byteLength(`${JSON.stringify(record(0))}\n`);
  const segmentFiles = async () => (await readdir(join(dir, "decisions"))).sort();
  const bytesOf = async (names: string[]) => {
    let total = 0;
    for (const name of names) total += (await stat(join(dir, "decisions", name))).size;
    return total;
  };

  const names = (...segs: number[]) => segs.map((seg) => `${String(seg).padStart(6, "0")}.jsonl`);

  /** 40 records, 5 to a segment (two batches of 5 never fit in one): segments 1..8, the 8th active. */
  async function eightSegments(): Promise<FileStore> {
    const store = await openStore({ segmentBytes: size * 5 });
    for (let i = 0; i < 40; i += 5) await store.append(range(i, i + 5).map(record));
    expect(await segmentFiles()).toEqual(names(1, 2, 3, 4, 5, 6, 7, 8));
    return store;
  }

  it("deletes only the segments wholly before the cursor's, and pages from the oldest one kept", async () => {
    const store = await eightSegments();
    const early = (await store.page({ limit: 7 })).next as string; // inside segment 2
    const cursor = (await store.page({ limit: 23 })).next as string; // inside segment 5 (records 20..24)

    const bytes = await bytesOf(names(1, 2, 3, 4));
    expect(await store.prune(cursor)).toEqual({ segmentsRemoved: 4, bytesRemoved: bytes });
    expect(await segmentFiles()).toEqual(names(5, 6, 7, 8));
    expect((await readAll(store, 3)).records).toEqual(range(20, 40).map(record));
    // The cursor itself still works (its segment is kept); one into a deleted segment does not.
    expect((await readAll(store, 100, cursor)).records).toEqual(range(23, 40).map(record));
    await expect(store.page({ limit: 5, after: early })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(store.prune(early)).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(store.prune("nonsense")).rejects.toBeInstanceOf(InvalidCursorError);
    // Again with the same cursor: nothing more is before it.
    expect(await store.prune(cursor)).toEqual({ segmentsRemoved: 0, bytesRemoved: 0 });
  });

  it("never deletes the active segment, and the log goes on from there after reopening", async () => {
    const store = await eightSegments();
    const end = (await readAll(store, 100)).cursor; // at the end of the active segment 8
    const bytes = await bytesOf(names(1, 2, 3, 4, 5, 6, 7));
    expect(await store.prune(end)).toEqual({ segmentsRemoved: 7, bytesRemoved: bytes });
    expect(await segmentFiles()).toEqual(names(8));
    expect((await readAll(store, 2)).records).toEqual(range(35, 40).map(record));
    expect(await store.prune(end)).toEqual({ segmentsRemoved: 0, bytesRemoved: 0 });

    await store.append(range(40, 45).map(record)); // rotates to segment 9
    expect(await segmentFiles()).toEqual(names(8, 9));
    await store.close();
    const again = await openStore({ segmentBytes: size * 5 });
    expect((await readAll(again, 4, end)).records).toEqual(range(40, 45).map(record));
    await again.append(range(45, 50).map(record));
    // Numbering goes on after the kept segments; it does not restart at 1.
    expect(await segmentFiles()).toEqual(names(8, 9, 10));
    expect((await readAll(again, 7)).records).toEqual(range(35, 50).map(record));
  });

  it("with modifiedBefore, deletes only old segments, stopping at the first newer one", async () => {
    const store = await eightSegments();
    const end = (await readAll(store, 100)).cursor;
    const old = new Date(Date.now() - 3_600_000);
    // Segments 1-3 and 5 look an hour old; 4 is new, so 5 stays too: what is kept is one suffix.
    for (const name of names(1, 2, 3, 5)) await utimes(join(dir, "decisions", name), old, old);
    const bytes = await bytesOf(names(1, 2, 3));
    const result = await store.prune(end, { modifiedBefore: Date.now() - 60_000 });
    expect(result).toEqual({ segmentsRemoved: 3, bytesRemoved: bytes });
    expect(await segmentFiles()).toEqual(names(4, 5, 6, 7, 8));
    expect((await readAll(store, 6)).records).toEqual(range(15, 40).map(record));
    expect(await store.prune(end, { modifiedBefore: 0 })).toEqual({ segmentsRemoved: 0, bytesRemoved: 0 });
  });

  it("loses nothing appended while a reader pages forward and prunes behind itself", async () => {
    const store = await openStore({ segmentBytes: size * 4 });
    let appended = 0;
    const appenders = range(0, 4).map(async () => {
      while (appended < 600) {
        const from = appended;
        appended += 3;
        await store.append(range(from, from + 3).map(record));
        await new Promise((r) => setImmediate(r));
      }
    });
    let done = false;
    const appending = Promise.all(appenders).then(() => {
      done = true;
    });
    const seen: DecisionRecord[] = [];
    let cursor: string | undefined;
    let removed = 0;
    for (;;) {
      const last = done;
      const page = await store.page({ limit: 5, ...(cursor === undefined ? {} : { after: cursor }) });
      seen.push(...page.records);
      cursor = page.next as string;
      removed += (await store.prune(cursor)).segmentsRemoved;
      if (last && page.records.length === 0) break;
      await new Promise((r) => setImmediate(r)); // at the end of the log, a page does no I/O: let writes in
    }
    await appending;
    // Appends are group-committed in call order: the log held 0..appended-1, exactly once, in order.
    expect(seen.map((r) => r.decisionId)).toEqual(range(0, appended).map((i) => record(i).decisionId));
    expect(removed).toBeGreaterThan(10);
    // The pruned log from its start: the reader's last segment on, ending with everything appended.
    const kept = (await readAll(store, 50)).records;
    expect(kept.length).toBeLessThan(50);
    expect(kept).toEqual(range(appended - kept.length, appended).map(record));
    expect(await segmentFiles()).toHaveLength(1);
  });

  it("lets a page that is reading segments as they are deleted finish, moving on to those kept", async () => {
    // Started together and at a few offsets: the page meets segments pruned before it reaches them and
    // while it reads them; the files go only once it is done, so it never fails on a missing one.
    for (const delay of [0, 1, 2, 3, 4, 6, 8, 12, 16, 24]) {
      // One record per segment: a long page opens one file after another while the prune deletes them.
      const at = join(dir, `round-${delay}`);
      const store = await FileStore.open(at, { segmentBytes: size });
      opened.push(store);
      for (let i = 0; i < 120; i++) await store.append([record(i)]);
      const cursor = (await store.page({ limit: 101 })).next as string; // at the end of segment 101
      const page = store.page({ limit: 1000 });
      for (let t = 0; t < delay; t++) await new Promise((r) => setImmediate(r));
      const [{ records }, pruned] = await Promise.all([page, store.prune(cursor)]);
      expect(pruned.segmentsRemoved).toBe(100);
      const ids = records.map((r) => r.decisionId);
      // In order, nothing twice, and every record kept is there: only pruned ones may be missing.
      expect(ids).toEqual(
        range(0, 120)
          .map((i) => record(i).decisionId)
          .filter((id) => ids.includes(id)),
      );
      expect(ids.slice(-20)).toEqual(range(100, 120).map((i) => record(i).decisionId));
      expect((await readAll(store, 7)).records).toEqual(range(100, 120).map(record));
      await store.close();
    }
  });

  it("refuses to prune a closed store", async () => {
    const store = await eightSegments();
    const cursor = (await store.page({ limit: 12 })).next as string;
    await store.close();
    await expect(store.prune(cursor)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await segmentFiles()).toHaveLength(8);
  });
});

/** Closed after the test, like `openStore`'s. */
function keep<T extends { close(): Promise<void> }>(opened: T): T {
  closers.push(() => opened.close());
  return opened;
}

describe("the Redis outbox: a decision log alone", () => {
  it("holds its LOCK, its segments and nothing of an order journal", async () => {
    const outbox = keep(await SegmentLog.open(dir));
    await outbox.append([record(0), record(1)]);
    expect((await readdir(dir)).sort()).toEqual(["LOCK", "decisions"]);
    expect(await readdir(join(dir, "decisions"))).toEqual(["000001.jsonl"]);
    expect((await readFile(join(dir, "LOCK"), "utf8")).trim()).toBe(String(process.pid));

    await expect(SegmentLog.open(dir)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(FileStore.open(dir)).rejects.toBeInstanceOf(StoreUnavailableError);
    await outbox.close();
    expect(await readdir(dir)).toEqual(["decisions"]);

    const again = keep(await SegmentLog.open(dir));
    expect((await again.page({ limit: 10 })).records).toEqual([record(0), record(1)]);
  });

  it("opens an outbox an older version left, with its empty orders.jsonl, and leaves that file alone", async () => {
    // What FileStore.open used to make of an outbox directory.
    const old = keep(await FileStore.open(dir));
    await old.append([record(0)]);
    await old.close();
    expect((await stat(join(dir, "orders.jsonl"))).size).toBe(0);

    const outbox = keep(await SegmentLog.open(dir));
    await outbox.append([record(1)]);
    expect((await outbox.page({ limit: 10 })).records).toEqual([record(0), record(1)]);
    expect((await stat(join(dir, "orders.jsonl"))).size).toBe(0);
  });
});

describe("a data directory's parts", () => {
  it("share one LOCK: neither part opens alone while the whole directory is open", async () => {
    const store = keep(await FileStore.open(dir));
    expect((await readdir(dir)).sort()).toEqual(["LOCK", "decisions", "orders.jsonl"]);
    await expect(OrderJournal.open(dir)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(SegmentLog.open(dir)).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
    expect(await readdir(dir)).not.toContain("LOCK");
  });

  it("opens the order journal alone on what the whole directory wrote, and the other way round", async () => {
    const store = keep(await FileStore.open(dir));
    const created = await store.applyChange("ord_1", "create", "alice", CREATED_AT, () =>
      createOrder(INPUT, { id: "ord_1", actor: "alice", at: CREATED_AT }),
    );
    await store.close();

    const journal = keep(await OrderJournal.open(dir));
    expect(await journal.head()).toEqual({ seq: 1, hash: created.hash });
    await journal.applyChange("ord_2", "create", "carol", CREATED_AT, () =>
      createOrder(INPUT, { id: "ord_2", actor: "carol", at: CREATED_AT }),
    );
    await expect(FileStore.open(dir)).rejects.toBeInstanceOf(StoreUnavailableError);
    await journal.close();

    const whole = keep(await FileStore.open(dir));
    expect((await whole.listOrders()).map((o) => o.id)).toEqual(["ord_1", "ord_2"]);
  });

  it("creates a missing directory, as the whole store does (a first start's outbox)", async () => {
    const outboxDir = join(dir, "data", "outbox");
    keep(await SegmentLog.open(outboxDir));
    expect((await readdir(outboxDir)).sort()).toEqual(["LOCK", "decisions"]);
  });
});

describe("FileStore under kill -9", () => {
  it("keeps every acknowledged order change and decision record when the writing process is killed", async () => {
    const storeUrl = pathToFileURL(join(process.cwd(), "src/store/file/file-store.ts")).href;
    const engineUrl = pathToFileURL(join(process.cwd(), "src/engine/index.ts")).href;
    // .mts: an ES module whatever package.json the temp directory lacks.
    const script = join(dir, "writer.mts");
    // The child appends decisions from 8 concurrent loops and creates orders in a loop, printing each ack
    // after its promise resolved. The store ignores the script lying in its directory.
    await writeFile(
      script,
      `import { FileStore } from ${JSON.stringify(storeUrl)};
import { createOrder } from ${JSON.stringify(engineUrl)};
const input = ${JSON.stringify(INPUT)};
const template = ${JSON.stringify(record(1))};
const store = await FileStore.open(${JSON.stringify(dir)});
const say = (line) => process.stdout.write(line + "\\n");
let next = 0;
async function decisions() {
  for (;;) {
    const ids = [next++, next++, next++].map((i) => "dec_" + String(i).padStart(6, "0"));
    await store.append(ids.map((decisionId) => ({ ...template, decisionId })));
    say("d " + ids.join(" "));
  }
}
async function orders() {
  for (let n = 0; ; n++) {
    const id = "ord_" + n;
    const at = "2026-01-02T09:00:00Z";
    await store.applyChange(id, "create", "alice", at, () => createOrder(input, { id, actor: "alice", at }));
    say("o " + id);
  }
}
for (let i = 0; i < 8; i++) void decisions();
void orders();
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    // "close", not "exit": acks still in the pipe when the child dies must be read too.
    const exited = new Promise((resolve) => child.on("close", resolve));
    const acked = { decisions: [] as string[], orders: [] as string[] };
    let buffered = "";
    child.stdout.on("data", (chunk: Buffer) => {
      const lines = (buffered + chunk.toString()).split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const [kind, ...ids] = line.split(" ");
        if (kind === "d") acked.decisions.push(...ids);
        if (kind === "o") acked.orders.push(...ids);
      }
    });
    try {
      await expect
        .poll(() => acked.decisions.length >= 3_000 && acked.orders.length >= 20, {
          timeout: 30_000,
          interval: 10,
        })
        .toBe(true);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }

    const store = await openStore();
    const stored = (await readAll(store, 5_000)).records.map((r) => r.decisionId);
    const storedSet = new Set(stored);
    expect(storedSet.size).toBe(stored.length);
    expect(acked.decisions.filter((id) => !storedSet.has(id))).toEqual([]);
    const orders = new Set((await store.listOrders()).map((o) => o.id));
    expect(acked.orders.filter((id) => !orders.has(id))).toEqual([]);
    expect(verifyChain(await store.readAudit({})).ok).toBe(true);
  }, 60_000);
});
