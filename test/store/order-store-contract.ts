/**
 * The OrderStore contract suite (orders and their hash-chained audit log, I7) and the expectations on
 * instances sharing one Redis, as functions: `contract.test.ts` runs them on a FileStore and on one
 * redis-server, `cluster-orders.test.ts` on a Redis Cluster.
 */

import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createOrder,
  decideAmendment,
  type Order,
  OrderInput,
  OrderRuleError,
  proposeAmendment,
  transition,
} from "../../src/engine/index.js";
import { NotFoundError } from "../../src/kernel/errors.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { verifyChain } from "../../src/store/audit.js";
import type { AuditAction, AuditEntry, OrderStore } from "../../src/store/interface.js";
import { RedisOrderStore, type RedisOrderStoreOptions } from "../../src/store/redis/order-store.js";
import { COURT, orderInput } from "../support/fixtures.js";

export const CREATED_AT = "2026-01-02T09:00:00Z";
export const DECIDED_AT = "2026-01-02T10:00:00Z";
export const INPUT = OrderInput.parse(
  orderInput({ authority: COURT, receivedAt: "2026-01-01T00:00:00Z", mode: "enforce" }),
);
export const WRITER = join(process.cwd(), "test/store/fixtures/order-writer.ts");

export type ContractStore = OrderStore & { close(): Promise<void> };

/** One way of keeping orders, seen from the suite: a fresh empty place per test, opened as often as asked. */
export interface Backend {
  name: string;
  /** A new empty place for the next test. */
  fresh(): Promise<void>;
  /** A new store object on the current place; the suite closes it. */
  open(): Promise<ContractStore>;
  /** Arguments of the writer fixture's `load` mode for the current place. */
  writerArgs(): string[];
  /** Removes the current place. */
  cleanup(): Promise<void>;
}

// One redis-server for the whole file, started by the first test that needs it; every test gets a key

export function create(store: OrderStore, id: string, actor = "alice") {
  return store.applyChange(id, "create", actor, CREATED_AT, (current) => {
    if (current) throw new Error(`order id collision: ${id}`);
    return createOrder(INPUT, { id, actor, at: CREATED_AT });
  });
}

export function approve(store: OrderStore, id: string, actor = "bob") {
  return store.applyChange(id, "approve", actor, DECIDED_AT, (current) => {
    if (!current) throw new NotFoundError(`no order ${id}`);
    return transition(current, { type: "approve" }, actor, DECIDED_AT);
  });
}

export function withdraw(store: OrderStore, id: string, actor = "carol") {
  return store.applyChange(id, "withdraw", actor, DECIDED_AT, (current) => {
    if (!current) throw new NotFoundError(`no order ${id}`);
    return transition(current, { type: "withdraw" }, actor, DECIDED_AT);
  });
}

export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, k) => from + k);

/**
 * Everything the store holds is consistent: the chain verifies from seq 1 to the head without gaps, the
 * orders are exactly those the log created, in creation order, and each one's state is the order of its
 * last entry (no order without its entry, no entry without its order).
 */
export async function expectConsistent(store: OrderStore): Promise<AuditEntry[]> {
  const head = await store.head();
  const audit = await store.readAudit({});
  expect(verifyChain(audit, { head })).toEqual({ ok: true, count: head.seq, head });
  expect(audit.map((e) => e.seq)).toEqual(range(1, head.seq + 1));
  const last = new Map<string, Order>();
  for (const entry of audit) last.set(entry.orderId, entry.order);
  const orders = await store.listOrders();
  expect(orders.map((o) => o.id)).toEqual([...last.keys()]);
  for (const order of orders) expect(order).toEqual(last.get(order.id));
  return audit;
}

/** The contract: what every OrderStore does, on a fresh empty place per test. */
export function describeOrderStoreContract(backend: Backend): void {
  describe(`${backend.name}: the OrderStore contract`, () => {
    const opened: ContractStore[] = [];
    const open = async () => {
      const store = await backend.open();
      opened.push(store);
      return store;
    };

    beforeEach(() => backend.fresh());
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((s) => s.close()));
      await backend.cleanup();
    });

    it("starts empty, at seq 0 and the zero hash", async () => {
      const store = await open();
      expect(await store.head()).toEqual({ seq: 0, hash: "0".repeat(64) });
      expect(await store.listOrders()).toEqual([]);
      expect(await store.readAudit({})).toEqual([]);
      expect(await store.getOrder("ord_1")).toBeUndefined();
    });

    it("creates and approves an order through the engine, one chained audit entry per change", async () => {
      const store = await open();
      const created = await create(store, "ord_1");
      const approved = await approve(store, "ord_1");

      expect(created).toMatchObject({ seq: 1, action: "create", actor: "alice", orderId: "ord_1" });
      expect(created.prevHash).toBe("0".repeat(64));
      expect(created.order).toMatchObject({ id: "ord_1", status: "pending", createdBy: "alice" });
      expect(approved).toMatchObject({ seq: 2, action: "approve", actor: "bob", prevHash: created.hash });
      expect(approved.order).toMatchObject({ status: "approved", decidedBy: "bob", decidedAt: DECIDED_AT });
      expect(await store.getOrder("ord_1")).toEqual(approved.order);
      expect(await store.listOrders()).toEqual([approved.order]);
      expect(await store.head()).toEqual({ seq: 2, hash: approved.hash });
      expect(await store.readAudit({})).toEqual([created, approved]);
      expect(verifyChain(await store.readAudit({}))).toMatchObject({ ok: true, count: 2 });
    });

    it("lists orders in creation order, each in its current state", async () => {
      const store = await open();
      for (const i of range(0, 6)) await create(store, `ord_${i}`, i % 2 ? "alice" : "dave");
      await approve(store, "ord_4");
      await withdraw(store, "ord_1");
      await approve(store, "ord_0");
      await withdraw(store, "ord_0");

      const orders = await store.listOrders();
      expect(orders.map((o) => o.id)).toEqual(range(0, 6).map((i) => `ord_${i}`));
      expect(orders.map((o) => o.status)).toEqual([
        "withdrawn",
        "withdrawn",
        "pending",
        "pending",
        "approved",
        "pending",
      ]);
      expect(await store.getOrder("ord_4")).toEqual(orders[4]);
      expect(await store.getOrder("ord_6")).toBeUndefined();
    });

    it("filters the audit by order, after a seq, up to a limit", async () => {
      const store = await open();
      await create(store, "ord_1");
      await create(store, "ord_2");
      await approve(store, "ord_1");
      await withdraw(store, "ord_2");
      await withdraw(store, "ord_1");
      const seqs = async (opts: Parameters<OrderStore["readAudit"]>[0]) =>
        (await store.readAudit(opts)).map((e) => e.seq);

      expect(await seqs({ orderId: "ord_1" })).toEqual([1, 3, 5]);
      expect(await seqs({ orderId: "ord_1", after: 1 })).toEqual([3, 5]);
      expect(await seqs({ orderId: "ord_1", after: 1, limit: 1 })).toEqual([3]);
      expect(await seqs({ orderId: "ord_2" })).toEqual([2, 4]);
      expect(await seqs({ orderId: "ord_9" })).toEqual([]);
      expect(await seqs({ after: 1 })).toEqual([2, 3, 4, 5]);
      expect(await seqs({ after: 1, limit: 2 })).toEqual([2, 3]);
      expect(await seqs({ limit: 1 })).toEqual([1]);
      expect(await seqs({ after: 5 })).toEqual([]);
      expect(await seqs({ after: 99 })).toEqual([]);
      // Each filtered entry is the same entry the full log holds.
      const all = await store.readAudit({});
      expect(await store.readAudit({ orderId: "ord_2" })).toEqual([all[1], all[3]]);
    });

    it("numbers concurrent changes to many orders 1, 2, 3, ... without gaps, in one chain that verifies", async () => {
      const store = await open();
      const created = await Promise.all(range(0, 30).map((i) => create(store, `ord_${i}`)));
      const changed = await Promise.all(
        range(0, 30).map((i) => (i % 3 ? approve(store, `ord_${i}`) : withdraw(store, `ord_${i}`))),
      );
      expect([...created, ...changed].map((e) => e.seq).sort((a, b) => a - b)).toEqual(range(1, 61));
      expect(await store.head()).toEqual({ seq: 60, hash: (await store.readAudit({ after: 59 }))[0]?.hash });
      await expectConsistent(store);
    });

    it("writes nothing when the change throws, and passes the error through unchanged", async () => {
      const store = await open();
      await create(store, "ord_1");
      const head = await store.head();
      const audit = await store.readAudit({});
      const orders = await store.listOrders();

      const fourEyes = await approve(store, "ord_1", "alice").catch((e: unknown) => e);
      expect(fourEyes).toBeInstanceOf(OrderRuleError);
      expect((fourEyes as OrderRuleError).code).toBe("FOUR_EYES");
      const boom = new Error("boom");
      await expect(
        store.applyChange("ord_1", "withdraw", "bob", DECIDED_AT, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      const outside = OrderInput.parse({ ...INPUT, jurisdictions: ["RU-MOW"] });
      await expect(
        store.applyChange("ord_2", "create", "alice", CREATED_AT, () =>
          createOrder(outside, { id: "ord_2", actor: "alice", at: CREATED_AT }),
        ),
      ).rejects.toMatchObject({ name: "OrderRuleError", code: "JURISDICTION_OUTSIDE_AUTHORITY" });
      await expect(approve(store, "ord_9")).rejects.toBeInstanceOf(NotFoundError);

      expect(await store.head()).toEqual(head);
      expect(await store.readAudit({})).toEqual(audit);
      expect(await store.listOrders()).toEqual(orders);
      expect(await store.getOrder("ord_2")).toBeUndefined();
      // And the store goes on working from where it was.
      await expect(approve(store, "ord_1")).resolves.toMatchObject({ seq: 2, prevHash: head.hash });
    });

    it("refuses a change that returns another order than the one named, writing nothing", async () => {
      const store = await open();
      await expect(
        store.applyChange("ord_1", "create", "alice", CREATED_AT, () =>
          createOrder(INPUT, { id: "ord_2", actor: "alice", at: CREATED_AT }),
        ),
      ).rejects.toThrow(/ord_2/);
      expect(await store.head()).toEqual({ seq: 0, hash: "0".repeat(64) });
      expect(await store.listOrders()).toEqual([]);
    });

    it("lets exactly one of 30 concurrent approvals of one order pass", async () => {
      const store = await open();
      await create(store, "ord_1");
      const results = await Promise.allSettled(
        range(0, 30).map((i) => approve(store, "ord_1", `approver_${i}`)),
      );

      const passed = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(passed).toHaveLength(1);
      for (const r of refused)
        expect(r.reason).toMatchObject({ name: "OrderRuleError", code: "ILLEGAL_TRANSITION" });
      expect((await store.readAudit({})).map((e) => e.action)).toEqual(["create", "approve"]);
      expect((await store.getOrder("ord_1"))?.decidedBy).toBe(passed[0]?.value.actor);
    });

    it("hands out orders and entries that cannot be edited in place", async () => {
      const store = await open();
      const entry = await create(store, "ord_1");
      const order = (await store.getOrder("ord_1")) as Order;
      const [listed] = await store.listOrders();
      const [read] = await store.readAudit({});
      for (const target of [order, listed as Order, entry.order, (read as AuditEntry).order]) {
        expect(() => {
          target.status = "approved";
        }).toThrow(TypeError);
      }
      expect(() => {
        (read as AuditEntry).seq = 7;
      }).toThrow(TypeError);
      expect((await store.getOrder("ord_1"))?.status).toBe("pending");
    });

    it("finds the same orders, audit and head in a new store object, and continues the chain", async () => {
      const store = await open();
      await create(store, "ord_1");
      await create(store, "ord_2", "carol");
      await approve(store, "ord_2");
      const orders = await store.listOrders();
      const audit = await store.readAudit({});
      const head = await store.head();
      await store.close();

      const again = await open();
      expect(await again.listOrders()).toEqual(orders);
      expect(await again.readAudit({})).toEqual(audit);
      expect(await again.head()).toEqual(head);
      expect(await again.getOrder("ord_2")).toEqual(orders[1]);
      await expect(approve(again, "ord_1", "dave")).resolves.toMatchObject({ seq: 4, prevHash: head.hash });
      await expectConsistent(again);
    });

    it("keeps an order's amendments with it, each proposal and decision in one write with its audit entry", async () => {
      const store = await open();
      await create(store, "ord_1");
      await approve(store, "ord_1");
      const amend = (action: AuditAction, actor: string, at: string, next: (o: Order) => Order) =>
        store.applyChange("ord_1", action, actor, at, (current) => {
          if (!current) throw new NotFoundError("no order ord_1");
          return next(current);
        });
      const proposed = await amend("propose_amendment", "carol", DECIDED_AT, (o) =>
        proposeAmendment(o, { changes: { reference: "Court/2" }, reason: "typo" }, "carol", DECIDED_AT),
      );
      expect(proposed.order.amendmentLog?.map((a) => a.status)).toEqual(["pending"]);
      // Four eyes inside the store's write: the proposer's own approval writes nothing.
      await expect(
        amend("approve_amendment", "Carol", DECIDED_AT, (o) =>
          decideAmendment(o, "amd_1", { type: "approve" }, "Carol", DECIDED_AT),
        ),
      ).rejects.toMatchObject({ code: "FOUR_EYES" });
      const decided = await amend("approve_amendment", "dave", DECIDED_AT, (o) =>
        decideAmendment(o, "amd_1", { type: "approve" }, "dave", DECIDED_AT),
      );
      expect(decided.order).toMatchObject({ id: "ord_1", status: "approved", reference: "Court/2" });
      expect(decided.order.amendmentLog?.[0]).toMatchObject({ status: "approved", decidedBy: "dave" });
      const audit = await expectConsistent(store);
      expect(audit.map((e) => e.action)).toEqual([
        "create",
        "approve",
        "propose_amendment",
        "approve_amendment",
      ]);
      await store.close();

      const again = await open();
      expect(await again.getOrder("ord_1")).toEqual(decided.order);
      expect(await again.readAudit({ orderId: "ord_1" })).toEqual(audit);
    });

    it("keeps every acknowledged change, each order with its audit entry, when the writing process is killed", async () => {
      // The writer applies changes in concurrent loops (through two instances on Redis) and prints each
      // ack after its promise resolved; it is killed mid-load, between, during or after any write.
      const child = spawn(process.execPath, ["--import", "tsx", WRITER, "load", ...backend.writerArgs()], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      // "close", not "exit": acks still in the pipe when the child dies must be read too.
      const closed = new Promise((resolve) => child.on("close", resolve));
      const acked: { seq: number; hash: string }[] = [];
      let buffered = "";
      child.stdout.on("data", (chunk: Buffer) => {
        const lines = (buffered + chunk.toString()).split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          const [kind, seq, hash] = line.split(" ");
          if (kind === "a") acked.push({ seq: Number(seq), hash: hash as string });
        }
      });
      try {
        // A writer that died by itself (a change refused, a crash) must fail the test, not time it out.
        for (const deadline = Date.now() + 30_000; acked.length < 150; ) {
          if (child.exitCode !== null)
            throw new Error(`the writer exited with ${child.exitCode} before the kill`);
          if (Date.now() > deadline) throw new Error(`only ${acked.length} acks in 30 s`);
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        child.kill("SIGKILL");
        await closed;
      }

      const store = await open();
      const audit = await expectConsistent(store);
      expect((await store.head()).seq).toBe(audit.length);
      for (const ack of acked) expect(audit[ack.seq - 1]?.hash, `acked seq ${ack.seq}`).toBe(ack.hash);
      // The chain goes on from whatever the kill left.
      await expect(create(store, "ord_after")).resolves.toMatchObject({ seq: audit.length + 1 });
      await expectConsistent(store);
    }, 60_000);
  });
}

/**
 * Several RedisOrderStores (instances) on one Redis at `url()`, each test under a key prefix of its own
 * made from `label`.
 */
export function describeInstancesSharingRedis(
  title: string,
  label: string,
  url: () => Promise<string>,
): void {
  let prefixes = 0;
  describe(title, () => {
    const opened: RedisOrderStore[] = [];
    let prefix = "";
    let where = "";
    const open = async (opts: RedisOrderStoreOptions = {}) => {
      const store = await RedisOrderStore.open(where, {
        prefix,
        logger: SILENT_LOGGER,
        ...opts,
      });
      opened.push(store);
      return store;
    };
    /** Runs the writer fixture to completion: another instance's change, landing at this exact moment. */
    const otherInstance = (mode: "approve" | "create", id: string, actor: string) =>
      execFileSync(process.execPath, ["--import", "tsx", WRITER, mode, where, prefix, id, actor]);

    beforeEach(async () => {
      where = await url();
      prefix = `${label}${++prefixes}`;
    });
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((s) => s.close()));
    });

    it("re-runs a change on the state another instance wrote meanwhile: the second approval is illegal", async () => {
      const a = await open();
      await create(a, "ord_1");
      const seen: (string | undefined)[] = [];
      const result = a.applyChange("ord_1", "approve", "bob", DECIDED_AT, (current) => {
        seen.push(current?.status);
        // Between this instance's read and its write, another instance approves the same order.
        if (seen.length === 1) otherInstance("approve", "ord_1", "carol");
        return transition(current as Order, { type: "approve" }, "bob", DECIDED_AT);
      });

      await expect(result).rejects.toMatchObject({ name: "OrderRuleError", code: "ILLEGAL_TRANSITION" });
      expect(seen).toEqual(["pending", "approved"]);
      expect(await a.getOrder("ord_1")).toMatchObject({ status: "approved", decidedBy: "carol" });
      expect((await a.readAudit({})).map((e) => [e.seq, e.actor])).toEqual([
        [1, "alice"],
        [2, "carol"],
      ]);
      expect(await a.verify()).toMatchObject({ ok: true, count: 2 });
    });

    it("re-runs a change after another instance wrote to another order, chaining after that write", async () => {
      const a = await open();
      await create(a, "ord_1");
      let runs = 0;
      const entry = await a.applyChange("ord_1", "approve", "bob", DECIDED_AT, (current) => {
        if (++runs === 1) otherInstance("create", "ord_2", "dave");
        return transition(current as Order, { type: "approve" }, "bob", DECIDED_AT);
      });

      expect(runs).toBe(2);
      const audit = await expectConsistent(a);
      expect(audit.map((e) => [e.seq, e.orderId, e.action])).toEqual([
        [1, "ord_1", "create"],
        [2, "ord_2", "create"],
        [3, "ord_1", "approve"],
      ]);
      expect(entry).toEqual(audit[2]);
    });

    it("lets exactly one of 30 approvals from two instances pass", async () => {
      const [a, b] = [await open(), await open()];
      await create(a, "ord_1");
      const results = await Promise.allSettled(
        range(0, 30).map((i) => approve(i % 2 ? a : b, "ord_1", `approver_${i}`)),
      );

      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results)
        if (r.status === "rejected")
          expect(r.reason).toMatchObject({ name: "OrderRuleError", code: "ILLEGAL_TRANSITION" });
      expect((await b.readAudit({})).map((e) => e.action)).toEqual(["create", "approve"]);
    });

    it("interleaves the changes of two instances into one gapless chain", async () => {
      const [a, b] = [await open(), await open()];
      // Each creates 25 orders while the other does, then each approves the other's.
      await Promise.all([
        ...range(0, 25).map((i) => create(a, `ord_a${i}`, "alice")),
        ...range(0, 25).map((i) => create(b, `ord_b${i}`, "bob")),
      ]);
      const entries = await Promise.all([
        ...range(0, 25).map((i) => approve(a, `ord_b${i}`, "alice")),
        ...range(0, 25).map((i) => approve(b, `ord_a${i}`, "bob")),
      ]);

      expect(entries.map((e) => e.seq).sort((x, y) => x - y)).toEqual(range(51, 101));
      const audit = await expectConsistent(a);
      expect(audit).toHaveLength(100);
      expect(await b.readAudit({})).toEqual(audit);
      expect(await b.listOrders()).toEqual(await a.listOrders());
      expect((await a.listOrders()).every((o) => o.status === "approved")).toBe(true);
      expect(await b.verify()).toEqual({ ok: true, count: 100, head: await a.head() });
    });
  });
}
