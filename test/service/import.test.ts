/**
 * Backfill (src/service/import.ts) over a real FileStore: every rule refuses the whole file naming the
 * line, nothing reaches the store then; a good file lands with its historical times and actors, in an
 * audit chain that verifies; importing again writes nothing, and an import cut short is finished.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decide } from "../../src/engine/index.js";
import { StoreUnavailableError } from "../../src/kernel/errors.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { RulesetCompiler } from "../../src/rulesets/compiler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import {
  type ImportDeps,
  ImportedOrder,
  ImportRefusedError,
  importedOrderId,
  importOrders,
} from "../../src/service/import.js";
import { changeOrder } from "../../src/service/orders.js";
import { verifyChain } from "../../src/store/audit.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { orderInput, T0 } from "../support/fixtures.js";

let dir: string;
let store: FileStore;
let rulesets: RulesetCompiler;
let deps: ImportDeps;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-import-"));
  store = await FileStore.open(dir, { logger: SILENT_LOGGER });
  rulesets = new RulesetCompiler(store, new RulesetHolder(() => T0), () => T0);
  deps = { orders: store, compiler: rulesets, clock: () => T0 };
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A historical order: received, entered, approved, ended. Override any field; `undefined` removes one. */
function line(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base = orderInput({
    reference: "WP/77/2025",
    receivedAt: "2025-02-03T09:00:00Z",
    effectiveUntil: "2025-06-30T00:00:00Z",
    accountType: "pro",
    accountLocation: "IN",
    createdAt: "2025-02-03T10:15:00Z",
    createdBy: "asha",
    decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "ravi", note: "scope checked" },
  });
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}
const jsonl = (...lines: (Record<string, unknown> | string)[]) =>
  lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n");

async function refused(text: string): Promise<ImportRefusedError> {
  const error = await importOrders(deps, text, "admin").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImportRefusedError);
  return error as ImportRefusedError;
}

describe("validation: one bad line refuses the whole file, naming the line", () => {
  const good2 = line({ reference: "WP/78/2025" });
  const cases: { name: string; bad: Record<string, unknown> | string; path: string; message: RegExp }[] = [
    { name: "a line that is not JSON", bad: "{not json", path: "line 2", message: /not JSON/ },
    {
      name: "an unknown field",
      bad: line({ reference: "B", approvedBy: "ravi" }),
      path: "line 2",
      message: /unknown field\(s\): approvedBy/,
    },
    {
      name: "a malformed order input (OrderInput)",
      bad: line({ reference: "B", jurisdictions: ["Maharashtra"] }),
      path: "line 2: jurisdictions.0",
      message: /ISO 3166/,
    },
    {
      name: "a missing creator",
      bad: line({ reference: "B", createdBy: undefined }),
      path: "line 2: createdBy",
      message: /./,
    },
    {
      name: "a block jurisdiction outside the authority's (I1)",
      bad: line({
        reference: "B",
        authority: { name: "Mumbai police", jurisdiction: "IN-MH", kind: "police" },
        jurisdictions: ["IN-KA"],
      }),
      path: "line 2: jurisdictions",
      message: /JURISDICTION_OUTSIDE_AUTHORITY: IN-KA/,
    },
    {
      name: "an order entered before it was received",
      bad: line({ reference: "B", createdAt: "2025-02-03T08:59:59Z" }),
      path: "line 2: createdAt",
      message: /not be earlier than receivedAt/,
    },
    {
      name: "a decision before the order was entered",
      bad: line({ reference: "B", decision: { status: "approved", at: "2025-02-03T10:00:00Z", by: "ravi" } }),
      path: "line 2: decision.at",
      message: /not be earlier than createdAt/,
    },
    {
      name: "a withdrawal before the decision",
      bad: line({ reference: "B", withdrawal: { at: "2025-02-04T08:00:00Z", by: "asha" } }),
      path: "line 2: withdrawal.at",
      message: /not be earlier than decision.at/,
    },
    {
      name: "the creator approving their own order (four eyes)",
      bad: line({ reference: "B", decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "asha" } }),
      path: "line 2: decision.by",
      message: /FOUR_EYES/,
    },
    {
      name: "a rejected order withdrawn afterwards (illegal transition)",
      bad: line({
        reference: "B",
        decision: { status: "rejected", at: "2025-02-04T08:30:00Z", by: "ravi", reason: "out of scope" },
        withdrawal: { at: "2025-02-05T00:00:00Z", by: "asha" },
      }),
      path: "line 2: withdrawal",
      message: /ILLEGAL_TRANSITION: cannot withdraw an order that is rejected/,
    },
    {
      name: "a rejection without a reason",
      bad: line({ reference: "B", decision: { status: "rejected", at: "2025-02-04T08:30:00Z", by: "ravi" } }),
      path: "line 2: decision.reason",
      message: /./,
    },
    {
      name: "a decision in the future",
      bad: line({ reference: "B", decision: { status: "approved", at: "2026-03-02T00:00:00Z", by: "ravi" } }),
      path: "line 2: decision.at",
      message: /in the future/,
    },
    {
      name: "a bidi override in the authority's name",
      bad: line({ reference: "B", authority: { name: "\u202Eevil", jurisdiction: "IN", kind: "court" } }),
      path: "line 2: authority.name",
      message: /control or bidi/,
    },
    {
      name: "a control character in the approver's name",
      bad: line({
        reference: "B",
        decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "ra\u0000vi" },
      }),
      path: "line 2: decision.by",
      message: /control or bidi/,
    },
    {
      name: "a bidi isolate in a withdrawal reason",
      bad: line({
        reference: "B",
        withdrawal: { at: "2025-05-01T12:00:00Z", by: "asha", reason: "\u2066x" },
      }),
      path: "line 2: withdrawal.reason",
      message: /control or bidi/,
    },
    {
      name: "the importer as the approver (four eyes)",
      bad: line({
        reference: "B",
        decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "admin" },
      }),
      path: "line 2: decision.by",
      message: /FOUR_EYES: admin imported this order/,
    },
    {
      name: "the creator as the rejecter, in other letter case (four eyes)",
      bad: line({
        reference: "B",
        decision: { status: "rejected", at: "2025-02-04T08:30:00Z", by: "ASHA", reason: "no" },
      }),
      path: "line 2: decision.by",
      message: /FOUR_EYES/,
    },
    {
      name: "the creator as the stated approval of an order still in force (four eyes)",
      bad: line({
        reference: "B",
        effectiveUntil: undefined,
        decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "Asha" },
      }),
      path: "line 2: decision.by",
      message: /FOUR_EYES/,
    },
    {
      name: "a received date in the future",
      bad: line({
        reference: "B",
        receivedAt: "2026-03-02T00:00:00Z",
        createdAt: "2026-03-02T00:00:00Z",
        decision: undefined,
      }),
      path: "line 2: receivedAt",
      message: /in the future/,
    },
    {
      name: "the same order twice",
      bad: line({ decision: { status: "approved", at: "2025-02-05T00:00:00Z", by: "ravi" } }),
      path: "line 2",
      message: /same order .* as line 1/,
    },
  ];

  it.each(cases)("refuses $name", async ({ bad, path, message }) => {
    const before = await store.head();
    const error = await refused(jsonl(line(), bad, good2));
    expect(error.badLines).toBe(1);
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) expect(issue.path.startsWith("line 2")).toBe(true);
    expect(error.issues).toContainEqual({ path, message: expect.stringMatching(message) });
    expect(await store.head()).toEqual(before);
    expect(await store.listOrders()).toEqual([]);
  });

  it("reports every bad line at once and writes none of the good ones", async () => {
    const error = await refused(
      jsonl(
        line(),
        "[]",
        line({ reference: "C", createdBy: "ravi" }),
        "",
        line({ reference: "D", mode: "x" }),
      ),
    );
    expect(error.badLines).toBe(3);
    expect(error.message).toBe("3 lines cannot be imported; nothing was imported");
    expect(error.issues.map((i) => i.path.split(":")[0])).toEqual(["line 2", "line 3", "line 5"]);
    expect((await store.head()).seq).toBe(0);
  });

  it("leaves a store that already holds orders exactly as it was", async () => {
    await importOrders(deps, jsonl(line()), "admin");
    const before = await store.head();
    await refused(jsonl(line({ reference: "E" }), line({ reference: "F", createdAt: "yesterday" })));
    expect(await store.head()).toEqual(before);
    expect(await store.listOrders()).toHaveLength(1);
  });

  it("sums up the issues past the first hundred in one", async () => {
    const error = await refused(Array.from({ length: 150 }, () => "nope").join("\n"));
    expect(error.badLines).toBe(150);
    expect(error.issues).toHaveLength(101);
    expect(error.issues.at(-1)).toEqual({ path: "(body)", message: "and 50 more issues" });
  });

  it("refuses a file without orders", async () => {
    const error = await refused("\n  \n");
    expect(error.issues).toEqual([{ path: "(body)", message: expect.stringMatching(/no orders/) }]);
  });
});

describe("a good file", () => {
  const approved = line();
  const rejected = line({
    reference: "WP/90/2025",
    jurisdictions: ["IN"],
    target: { kind: "account", accountIds: ["acct_1"] },
    decision: { status: "rejected", at: "2025-03-01T10:00:00+05:30", by: "meera", reason: "too broad" },
  });
  const withdrawnApproved = line({
    reference: "WP/91/2025",
    effectiveUntil: undefined,
    withdrawal: { at: "2025-05-01T12:00:00Z", by: "asha", reason: "the court lifted it" },
  });
  const withdrawnPending = line({
    reference: "WP/92/2025",
    decision: undefined,
    withdrawal: { at: "2025-02-10T00:00:00Z", by: "ravi" },
  });
  const pending = line({ reference: "WP/93/2025", decision: undefined, mode: "shadow" });
  const file = `\uFEFF${jsonl(approved, rejected, "", withdrawnApproved, withdrawnPending, pending)}\r\n`;

  it("lands with the historical times, actors and statuses, marked as imported", async () => {
    const result = await importOrders(deps, file, "admin");
    expect(result).toMatchObject({ imported: 5, skipped: 0 });
    expect(result.orders.map((o) => [o.line, o.result])).toEqual([
      [1, "imported"],
      [2, "imported"],
      [4, "imported"],
      [5, "imported"],
      [6, "imported"],
    ]);
    const byLine = new Map(result.orders.map((o) => [o.line, o.id]));
    const get = async (n: number) => store.getOrder(byLine.get(n) as string);
    expect(await get(1)).toMatchObject({
      id: importedOrderId(ImportedOrder.parse(approved)),
      status: "approved",
      createdBy: "asha",
      createdAt: "2025-02-03T10:15:00.000Z",
      decidedBy: "ravi",
      decidedAt: "2025-02-04T08:30:00.000Z",
      note: "scope checked",
      receivedAt: "2025-02-03T09:00:00Z",
      effectiveUntil: "2025-06-30T00:00:00Z",
      accountType: "pro",
      importedBy: "admin",
    });
    // Lifecycle stamps in UTC, as Cordon writes its own.
    expect(await get(2)).toMatchObject({
      status: "rejected",
      decidedBy: "meera",
      decidedAt: "2025-03-01T04:30:00.000Z",
      reason: "too broad",
    });
    expect(await get(4)).toMatchObject({
      status: "withdrawn",
      decidedBy: "ravi",
      withdrawnBy: "asha",
      withdrawnAt: "2025-05-01T12:00:00.000Z",
      reason: "the court lifted it",
    });
    expect(await get(5)).toMatchObject({ status: "withdrawn", withdrawnBy: "ravi" });
    expect((await get(5))?.decidedAt).toBeUndefined();
    expect(await get(6)).toMatchObject({ status: "pending", mode: "shadow", importedBy: "admin" });
  });

  it("writes each step as its own audit entry with the historical time and actor, in a chain that verifies", async () => {
    const result = await importOrders(deps, file, "admin");
    const entries = await store.readAudit({});
    expect(verifyChain(entries, { head: await store.head() })).toMatchObject({ ok: true, count: 10 });
    const id = result.orders.find((o) => o.line === 4)?.id as string;
    expect(
      (await store.readAudit({ orderId: id })).map((e) => [e.action, e.actor, e.at, e.order.importedBy]),
    ).toEqual([
      ["create", "asha", "2025-02-03T10:15:00.000Z", "admin"],
      ["approve", "ravi", "2025-02-04T08:30:00.000Z", "admin"],
      ["withdraw", "asha", "2025-05-01T12:00:00.000Z", "admin"],
    ]);
    expect(entries.every((e) => e.order.importedBy === "admin")).toBe(true);
  });

  it("recompiles the ruleset, and the ended order denies no one now", async () => {
    await importOrders(deps, file, "admin");
    const ruleset = rulesets.holder.current();
    expect(ruleset.version).toBe((await store.head()).seq);
    expect(ruleset.orders.map((o) => o.id)).toEqual([importedOrderId(ImportedOrder.parse(approved))]);
    const facts = { meetingId: "81234567890", location: { country: "IN", subdivisions: ["IN-MH"] } };
    expect(decide(ruleset, facts, T0).code).toBe("NO_ORDER");
    expect(decide(ruleset, facts, Date.parse("2025-03-01T00:00:00Z")).code).toBe("BLOCKED");
  });

  it("skips every order when the same file is imported again", async () => {
    const first = await importOrders(deps, file, "admin");
    const head = await store.head();
    const again = await importOrders(deps, file, "admin2");
    expect(again).toEqual({
      imported: 0,
      skipped: 5,
      orders: first.orders.map((o) => ({ ...o, result: "skipped" })),
    });
    expect(await store.head()).toEqual(head);
  });

  it("skips an imported order that changed since, rather than rewriting its history", async () => {
    const first = await importOrders(deps, jsonl(pending), "admin");
    const id = first.orders[0]?.id as string;
    await changeOrder(
      { orders: store, compiler: rulesets, clock: () => T0, newId: () => "unused" },
      id,
      { type: "withdraw" },
      "responder",
    );
    const head = await store.head();
    expect(await importOrders(deps, jsonl(pending), "admin")).toMatchObject({ imported: 0, skipped: 1 });
    expect(await store.head()).toEqual(head);
    expect((await store.getOrder(id))?.status).toBe("withdrawn");
  });

  it("finishes an import that the store cut short when the file is imported again", async () => {
    let writes = 0;
    const flaky: ImportDeps["orders"] = {
      getOrder: (id) => store.getOrder(id),
      applyChange: (...args) => {
        writes += 1;
        if (writes > 4) return Promise.reject(new StoreUnavailableError("disk full"));
        return store.applyChange(...args);
      },
    };
    await expect(importOrders({ ...deps, orders: flaky }, file, "admin")).rejects.toThrow(
      StoreUnavailableError,
    );
    // Line 1 (2 steps) and line 2 (2 steps) are in; line 4 never started.
    expect((await store.head()).seq).toBe(4);

    const resumed = await importOrders(deps, file, "admin2");
    expect(resumed).toMatchObject({ imported: 3, skipped: 2 });
    expect((await store.head()).seq).toBe(10);
    const entries = await store.readAudit({});
    expect(verifyChain(entries).ok).toBe(true);
    expect(entries.slice(4).every((e) => e.order.importedBy === "admin2")).toBe(true);
  });

  it("resumes an order whose later steps are missing", async () => {
    let writes = 0;
    const flaky: ImportDeps["orders"] = {
      getOrder: (id) => store.getOrder(id),
      applyChange: (...args) => {
        writes += 1;
        if (writes > 1) return Promise.reject(new StoreUnavailableError("gone"));
        return store.applyChange(...args);
      },
    };
    await expect(
      importOrders({ ...deps, orders: flaky }, jsonl(withdrawnApproved), "admin"),
    ).rejects.toThrow();
    const id = importedOrderId(ImportedOrder.parse(withdrawnApproved));
    expect((await store.getOrder(id))?.status).toBe("pending");
    expect(await importOrders(deps, jsonl(withdrawnApproved), "admin")).toMatchObject({ imported: 1 });
    expect((await store.readAudit({ orderId: id })).map((e) => e.action)).toEqual([
      "create",
      "approve",
      "withdraw",
    ]);
  });

  it("writes each step once when two imports of one file run at the same time", async () => {
    const results = await Promise.all([
      importOrders(deps, file, "admin"),
      importOrders(deps, file, "admin2"),
    ]);
    expect(results.map((r) => r.orders.length)).toEqual([5, 5]);
    expect((await store.head()).seq).toBe(10);
    expect(await store.listOrders()).toHaveLength(5);
    expect(verifyChain(await store.readAudit({})).ok).toBe(true);
  });

  it.each([
    ["has no end", undefined],
    ["ends after now", "2026-12-31T00:00:00Z"],
  ])(
    "lands an approved order that %s as pending, its stated approval awaiting a live one",
    async (_, until) => {
      const inForce = line({ reference: "WP/94/2025", effectiveUntil: until });
      const result = await importOrders(deps, jsonl(inForce), "admin");
      const id = result.orders[0]?.id as string;
      expect(await store.getOrder(id)).toMatchObject({
        status: "pending",
        importedBy: "admin",
        importedApproval: { at: "2025-02-04T08:30:00.000Z", by: "ravi", note: "scope checked" },
      });
      expect((await store.getOrder(id))?.decidedAt).toBeUndefined();
      expect((await store.readAudit({ orderId: id })).map((e) => e.action)).toEqual(["create"]);
      expect(rulesets.holder.current().orders).toEqual([]);
      // Idempotent like every line: the same file again writes nothing.
      expect(await importOrders(deps, jsonl(inForce), "admin")).toMatchObject({ imported: 0, skipped: 1 });
    },
  );

  it("derives the id from authority, reference and receipt time, whatever the offset", () => {
    const a = ImportedOrder.parse(line());
    const b = ImportedOrder.parse(line({ receivedAt: "2025-02-03T14:30:00+05:30", notes: "other notes" }));
    expect(importedOrderId(a)).toBe(importedOrderId(b));
    expect(importedOrderId(a)).toMatch(/^ord_imp_[0-9a-f]{20}$/);
    expect(importedOrderId(ImportedOrder.parse(line({ reference: "WP/78/2025" })))).not.toBe(
      importedOrderId(a),
    );
  });
});
