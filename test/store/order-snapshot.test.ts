/**
 * Snapshots of the order journal on real files: written every `snapshotEvery` entries, loaded at open
 * with only the entries after them replayed, and never trusted past the journal: a crash while writing
 * one, a snapshot behind or ahead of the journal, or a corrupt one, each gives the state the journal
 * alone gives (with a warning where the snapshot is ignored).
 */
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createOrder, type Order, OrderInput, transition } from "../../src/engine/index.js";
import { OrderJournal } from "../../src/store/file/order-journal.js";
import { SNAPSHOT_FILE } from "../../src/store/file/order-snapshot.js";
import { AuditChainError } from "../../src/store/interface.js";
import { COURT, orderInput } from "../support/fixtures.js";
import { loggerFor } from "../support/logs.js";

const INPUT = OrderInput.parse(orderInput({ authority: COURT, receivedAt: "2026-01-01T00:00:00Z" }));
const AT = "2026-01-02T09:00:00Z";

let dir: string;
let warnings: string[];
const opened: OrderJournal[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-snapshot-"));
  warnings = [];
});

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((j) => j.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openJournal(snapshotEvery = 0): Promise<OrderJournal> {
  const journal = await OrderJournal.open(dir, {
    snapshotEvery,
    logger: loggerFor("warn", (message) => warnings.push(message)),
  });
  opened.push(journal);
  return journal;
}

async function closeAll(): Promise<void> {
  await Promise.all(opened.splice(0).map((j) => j.close()));
}

/** `n` orders created, every other one approved: 1.5 n entries. */
async function fill(journal: OrderJournal, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const id = `ord_${i}`;
    await journal.applyChange(id, "create", "responder-1", AT, () =>
      createOrder(INPUT, { id, actor: "responder-1", at: AT }),
    );
    if (i % 2 === 0)
      await journal.applyChange(id, "approve", "approver-1", AT, (o) =>
        transition(o as Order, { type: "approve" }, "approver-1", AT),
      );
  }
}

/** What a journal answers: its orders, head and whole audit, by order and after a seq. */
async function stateOf(journal: OrderJournal) {
  return {
    orders: await journal.listOrders(),
    head: await journal.head(),
    audit: await journal.readAudit({}),
    ofOrder: await journal.readAudit({ orderId: "ord_2" }),
    after: await journal.readAudit({ after: 3, limit: 4 }),
  };
}

/** The state the journal alone gives: opened with its snapshot moved away. */
async function journalOnlyState() {
  const path = join(dir, SNAPSHOT_FILE);
  const saved = await readFile(path).catch(() => undefined);
  await rm(path, { force: true });
  const journal = await openJournal();
  const state = await stateOf(journal);
  await closeAll();
  if (saved) await writeFile(path, saved);
  return state;
}

describe("order journal snapshots", () => {
  it("writes a snapshot every N entries and opens from it, replaying only the entries after it", async () => {
    const journal = await openJournal(10);
    await fill(journal, 0, 12); // 18 entries: a snapshot at 10
    await closeAll();
    const header = JSON.parse((await readFile(join(dir, SNAPSHOT_FILE), "utf8")).split("\n")[0] as string);
    expect(header.seq).toBeGreaterThanOrEqual(10);
    const expected = await journalOnlyState();

    // An entry before the snapshot edited in place: the open does not read it (only the offline verifier
    // and a full replay do), which shows the prefix was not replayed.
    const path = join(dir, "orders.jsonl");
    const text = await readFile(path, "utf8");
    await writeFile(path, text.replace('"actor":"responder-1"', '"actor":"responder-X"'));
    const fromSnapshot = await openJournal();
    expect((await stateOf(fromSnapshot)).head).toEqual(expected.head);
    expect(await fromSnapshot.listOrders()).toEqual(expected.orders);
    await closeAll();
    await rm(join(dir, SNAPSHOT_FILE));
    await expect(OrderJournal.open(dir, { snapshotEvery: 0 })).rejects.toThrow(AuditChainError);
  });

  it("answers orders, head and audit from a snapshot exactly as from the journal alone, then keeps appending", async () => {
    const journal = await openJournal(7);
    await fill(journal, 0, 10);
    await closeAll();
    const expected = await journalOnlyState();
    const again = await openJournal(7);
    expect(await stateOf(again)).toEqual(expected);
    await fill(again, 10, 3);
    await closeAll();
    const whole = await journalOnlyState();
    const after = await openJournal();
    expect((await after.head()).seq).toBe(expected.head.seq + 5);
    expect(await stateOf(after)).toEqual(whole);
  });

  it("ignores a snapshot left half-written by a crash, keeping the previous one", async () => {
    const journal = await openJournal(6);
    await fill(journal, 0, 8);
    await closeAll();
    const good = await readFile(join(dir, SNAPSHOT_FILE), "utf8");
    // A crash during the next snapshot: its temporary file is there, cut short; the old one is intact.
    await writeFile(join(dir, `${SNAPSHOT_FILE}.tmp`), good.slice(0, good.length >> 1));
    const expected = await journalOnlyState();
    const again = await openJournal();
    expect(await stateOf(again)).toEqual(expected);
    expect(warnings).toEqual([]);
    await expect(stat(join(dir, `${SNAPSHOT_FILE}.tmp`))).rejects.toThrow();
  });

  it("replays the tail after a snapshot behind the journal", async () => {
    const journal = await openJournal(4);
    await fill(journal, 0, 3); // a snapshot at seq 4
    await closeAll();
    const behind = await openJournal(0);
    await fill(behind, 3, 6); // 9 more entries, no new snapshot
    await closeAll();
    const header = JSON.parse((await readFile(join(dir, SNAPSHOT_FILE), "utf8")).split("\n")[0] as string);
    expect(header.seq).toBe(4);
    const expected = await journalOnlyState();
    expect(await stateOf(await openJournal())).toEqual(expected);
    expect(warnings).toEqual([]);
  });

  it("ignores a snapshot ahead of the journal (a journal restored from an older copy), with a warning", async () => {
    const journal = await openJournal(0);
    await fill(journal, 0, 4); // 6 entries
    await closeAll();
    const { size } = await stat(join(dir, "orders.jsonl"));
    const longer = await openJournal(0);
    await fill(longer, 4, 4);
    await longer.snapshot(); // a snapshot at seq 12
    await closeAll();
    await truncate(join(dir, "orders.jsonl"), size); // back to 6 entries
    const reopened = await openJournal();
    expect((await reopened.head()).seq).toBe(6);
    expect((await reopened.listOrders()).map((o) => o.id)).toEqual(["ord_0", "ord_1", "ord_2", "ord_3"]);
    expect(warnings).toEqual([expect.stringContaining("snapshot ignored")]);
  });

  it("ignores a corrupt snapshot and replays the whole journal, with a warning", async () => {
    const journal = await openJournal(5);
    await fill(journal, 0, 6);
    await closeAll();
    const path = join(dir, SNAPSHOT_FILE);
    const text = await readFile(path, "utf8");
    await writeFile(path, text.replace('"ord_1"', '"ord_9"'));
    const expected = await journalOnlyState();
    warnings = [];
    expect(await stateOf(await openJournal())).toEqual(expected);
    expect(warnings).toEqual([expect.stringContaining("snapshot ignored")]);
  });
});
