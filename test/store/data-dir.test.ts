/**
 * The parts of a data directory opened alone and together: one LOCK per directory whoever opens it, the
 * Redis outbox as a decision log alone (its files, and an outbox an older version left), and the order
 * journal alone. The stores' behaviour itself is proven in file-store.test.ts and stream-shipper.test.ts.
 */
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createOrder, type DecisionRecord, OrderInput } from "../../src/engine/index.js";
import { StoreUnavailableError } from "../../src/kernel/errors.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { OrderJournal } from "../../src/store/file/order-journal.js";
import { SegmentLog } from "../../src/store/file/segment-log.js";

const AT = "2026-01-02T09:00:00Z";
const INPUT = OrderInput.parse({
  reference: "WP/1234/2026",
  authority: { name: "Court", jurisdiction: "IN", kind: "court" },
  jurisdictions: ["IN-MH"],
  target: { kind: "meeting", meetingIds: ["81234567890"] },
  receivedAt: "2026-01-01T00:00:00Z",
});

function record(i: number): DecisionRecord {
  return {
    decisionId: `dec_${String(i).padStart(6, "0")}`,
    at: AT,
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

let dir: string;
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-datadir-"));
});

afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
  await rm(dir, { recursive: true, force: true });
});

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
    const created = await store.applyChange("ord_1", "create", "alice", AT, () =>
      createOrder(INPUT, { id: "ord_1", actor: "alice", at: AT }),
    );
    await store.close();

    const journal = keep(await OrderJournal.open(dir));
    expect(await journal.head()).toEqual({ seq: 1, hash: created.hash });
    await journal.applyChange("ord_2", "create", "carol", AT, () =>
      createOrder(INPUT, { id: "ord_2", actor: "carol", at: AT }),
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
