/**
 * The order journal's snapshots and its audit window against the journal alone, on real files: for
 * random histories (creates, approvals, rejections, withdrawals, amendments, snapshots and reopens at
 * random points), opening from the snapshot and replaying the rest gives exactly what replaying the
 * whole journal gives: the orders (as JSON text, key order included), the head, and every audit read.
 * Also: the release before's journal and snapshot (format 1, written by it: fixtures/journal-release-1)
 * still open, and a snapshot cut short or edited falls back to a replay, saying so in the log.
 */
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createOrder,
  decideAmendment,
  type Order,
  OrderInput,
  proposeAmendment,
  transition,
} from "../../src/engine/index.js";
import { JOURNAL_FILE, OrderJournal } from "../../src/store/file/order-journal.js";
import { FORMAT_1, FORMAT_2, SNAPSHOT_FILE, writeSnapshot } from "../../src/store/file/order-snapshot.js";
import { loggerFor } from "../support/logs.js";

const AT = "2026-01-02T09:00:00Z";
const FIXTURE = join(import.meta.dirname, "fixtures/journal-release-1");

let dir: string;
let warnings: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-snapshot-history-"));
  warnings = [];
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function openJournal(options: { snapshotEvery?: number; auditKept?: number } = {}): Promise<OrderJournal> {
  return OrderJournal.open(dir, {
    snapshotEvery: 0,
    ...options,
    logger: loggerFor("warn", (message) => warnings.push(message)),
  });
}

const AUTHORITIES = [
  { name: "Bombay High Court", jurisdiction: "IN", kind: "court" },
  { name: "Court", jurisdiction: "IN", kind: "court" },
] as const;

/** A new order's input: authority, blocks, target and request varied by `k`. */
function input(k: number): OrderInput {
  return OrderInput.parse({
    reference: `WP/${k}/2026`,
    authority: AUTHORITIES[k % 2],
    jurisdictions: k % 3 === 0 ? ["IN-MH", "IN-KA"] : ["IN-MH"],
    target:
      k % 4 === 0 ? { kind: "account", accountIds: [`a-${k}`] } : { kind: "meeting", meetingIds: [`m-${k}`] },
    receivedAt: "2026-01-01T00:00:00Z",
    ...(k % 5 === 1 && k % 4 !== 0
      ? { requested: { jurisdictions: ["IN"], target: { kind: "meeting", meetingIds: [`m-${k}`, "m-x"] } } }
      : {}),
    ...(k % 7 === 2 ? { mode: "shadow", notes: "ναι, ünïcödé" } : {}),
  });
}

type Step =
  | { kind: "create"; k: number }
  | { kind: "approve" | "reject" | "withdraw" | "propose" | "accept" | "refuse"; pick: number }
  | { kind: "snapshot" | "reopen" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.nat(40).map((k) => ({ kind: "create" as const, k })) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constantFrom("approve", "reject", "withdraw", "propose", "accept", "refuse") as fc.Arbitrary<
        "approve" | "reject" | "withdraw" | "propose" | "accept" | "refuse"
      >,
      pick: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom({ kind: "snapshot" as const }, { kind: "reopen" as const }) },
);

/** Applies one step; an illegal one (approving a withdrawn order, say) is refused and writes nothing. */
async function apply(journal: OrderJournal, step: Step, ids: string[]): Promise<void> {
  if (step.kind === "create") {
    const id = `ord_${ids.length}`;
    ids.push(id);
    await journal.applyChange(id, "create", "responder-1", AT, () =>
      createOrder(input(step.k), { id, actor: "responder-1", at: AT }),
    );
    return;
  }
  if (step.kind === "snapshot" || step.kind === "reopen" || ids.length === 0) return;
  const { pick } = step as { pick: number };
  const id = ids[pick % ids.length] as string;
  const change = {
    approve: ["approve", (o: Order) => transition(o, { type: "approve" }, "approver-1", AT)],
    reject: ["reject", (o: Order) => transition(o, { type: "reject", reason: "no" }, "approver-1", AT)],
    withdraw: [
      "withdraw",
      (o: Order) => transition(o, { type: "withdraw", reason: "lifted" }, "responder-1", AT),
    ],
    propose: [
      "propose_amendment",
      (o: Order) =>
        proposeAmendment(
          o,
          { changes: { reference: `${o.reference}+`, jurisdictions: ["IN-MH"] }, reason: "narrower" },
          "responder-1",
          AT,
        ),
    ],
    accept: [
      "approve_amendment",
      (o: Order) =>
        decideAmendment(o, `amd_${o.amendmentLog?.length ?? 0}`, { type: "approve" }, "approver-2", AT),
    ],
    refuse: [
      "reject_amendment",
      (o: Order) =>
        decideAmendment(
          o,
          `amd_${o.amendmentLog?.length ?? 0}`,
          { type: "reject", reason: "no" },
          "approver-2",
          AT,
        ),
    ],
  } as const;
  const [action, next] = change[step.kind];
  await journal
    .applyChange(id, action, "approver-1", AT, (o) => next(o as Order))
    .catch((err: Error) => expect(err.name).not.toBe("StoreUnavailableError"));
}

/** Everything a journal answers, orders as JSON text (so a shared part must not change a key's place). */
async function stateOf(journal: OrderJournal) {
  const head = await journal.head();
  const ids = (await journal.listOrders()).map((o) => o.id);
  return {
    orders: JSON.stringify(await journal.listOrders()),
    one: await Promise.all(ids.map((id) => journal.getOrder(id))),
    head,
    audit: await journal.readAudit({}),
    ofOrder: await journal.readAudit({ orderId: ids[1] ?? "none" }),
    after: await Promise.all(
      [0, 1, 2, Math.floor(head.seq / 2), head.seq - 3, head.seq - 1, head.seq].map((after) =>
        journal.readAudit({ after, limit: 5 }),
      ),
    ),
  };
}

/** The state the journal alone gives, every entry held in memory: opened with the snapshot moved away. */
async function journalOnlyState() {
  const path = join(dir, SNAPSHOT_FILE);
  const saved = await readFile(path).catch(() => undefined);
  await rm(path, { force: true });
  const journal = await openJournal({ auditKept: 1_000_000 });
  const state = await stateOf(journal);
  await journal.close();
  if (saved) await writeFile(path, saved);
  return state;
}

describe("order journal snapshots against the journal alone", () => {
  it("gives the same orders, head and audit reads for random histories, snapshots and reopens", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        async (steps, snapshotEvery, auditKept) => {
          await rm(dir, { recursive: true, force: true });
          dir = await mkdtemp(join(tmpdir(), "cordon-snapshot-history-"));
          warnings = [];
          const ids: string[] = [];
          let journal = await openJournal({ snapshotEvery, auditKept });
          const live: Awaited<ReturnType<typeof stateOf>>[] = [];
          for (const step of steps) {
            await apply(journal, step, ids);
            if (step.kind === "snapshot") await journal.snapshot();
            if (step.kind === "reopen") {
              await journal.close();
              journal = await openJournal({ snapshotEvery, auditKept });
            }
          }
          live.push(await stateOf(journal));
          await journal.close();
          const whole = await journalOnlyState();
          expect(live[0]).toEqual(whole);
          const reopened = await openJournal({ auditKept });
          expect(await stateOf(reopened)).toEqual(whole);
          await reopened.close();
          expect(warnings).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  }, 180_000);

  it("opens the journal and format-1 snapshot the release before wrote, and goes on from there", async () => {
    await cp(FIXTURE, dir, { recursive: true });
    const header = JSON.parse((await readFile(join(dir, SNAPSHOT_FILE), "utf8")).split("\n")[0] as string);
    expect(header).toMatchObject({ format: FORMAT_1, seq: 7 });
    const expected = await journalOnlyState();
    const journal = await openJournal({ snapshotEvery: 3, auditKept: 2 });
    expect(await stateOf(journal)).toEqual(expected);
    expect(warnings).toEqual([]);
    await apply(journal, { kind: "create", k: 9 }, ["a", "b", "c", "d", "e", "f"]);
    await journal.close();
    const next = JSON.parse((await readFile(join(dir, SNAPSHOT_FILE), "utf8")).split("\n")[0] as string);
    expect(next).toMatchObject({ format: FORMAT_2, seq: 13 }); // written at the open: 6 entries after seq 7
    const whole = await journalOnlyState();
    const again = await openJournal();
    expect(await stateOf(again)).toEqual(whole);
    await again.close();
    expect(warnings).toEqual([]);
  });

  it("loads a format-1 snapshot written now exactly as a format-2 one", async () => {
    await cp(join(FIXTURE, JOURNAL_FILE), join(dir, JOURNAL_FILE));
    const journal = await openJournal();
    const orders = await journal.listOrders();
    const head = await journal.head();
    const journalBytes = (await readFile(join(dir, JOURNAL_FILE))).length;
    await journal.close();
    const expected = await journalOnlyState();
    for (const format of [FORMAT_1, FORMAT_2] as const) {
      await writeSnapshot(dir, { head, journalBytes, orders }, format);
      const again = await openJournal();
      expect(await stateOf(again)).toEqual(expected);
      await again.close();
    }
    expect(warnings).toEqual([]);
  });

  it("replays the whole journal, saying so, for a snapshot cut short, edited, or of an unknown format", async () => {
    await cp(join(FIXTURE, JOURNAL_FILE), join(dir, JOURNAL_FILE));
    const journal = await openJournal();
    await journal.snapshot();
    await journal.close();
    const path = join(dir, SNAPSHOT_FILE);
    const good = await readFile(path, "utf8");
    const expected = await journalOnlyState();
    const lines = good.split("\n");
    const spoiled = [
      good.slice(0, good.length - 10), // cut inside the trailer
      good.slice(0, (lines[0] as string).length + 40), // cut inside the orders
      `${lines.slice(0, -2).join("\n")}\n`, // the trailer gone
      good.replace('"WP/1/2026"', '"WP/9/2026"'), // an order edited: the checksum no longer matches
      good.replace("cordon-order-snapshot/2", "cordon-order-snapshot/3"),
      good.replace(/"orders":\d+/, '"orders":2'), // fewer orders said than held
      "",
    ];
    for (const text of spoiled) {
      await writeFile(path, text);
      warnings = [];
      const again = await openJournal();
      expect(await stateOf(again)).toEqual(expected);
      await again.close();
      expect(warnings).toEqual([expect.stringContaining("snapshot ignored, replaying the whole journal")]);
    }
    // A journal cut back before the snapshot's entry: the snapshot stands for a state it does not have.
    await writeFile(path, good);
    await truncate(join(dir, JOURNAL_FILE), (await readFile(join(dir, JOURNAL_FILE))).length - 200);
    warnings = [];
    const cut = await openJournal();
    expect((await cut.head()).seq).toBe(12);
    await cut.close();
    expect(warnings).toEqual([
      expect.stringContaining("snapshot ignored"),
      expect.stringContaining("truncating a torn last line"),
    ]);
  });
});
