/**
 * The ruleset snapshot beside the journal, on real files: written and read back as the same ruleset (a
 * base for incremental compiles); brought to the journal's head by the entries after it, with the hash
 * a full compile of the store's orders gives; never trusted when it does not verify (corrupt, truncated,
 * foreign, of another journal), which a start reports and answers by compiling from the orders; and
 * crash-safe to write (a temporary file left behind is ignored).
 */
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  compile,
  createOrder,
  type Order,
  OrderInput,
  type Ruleset,
  recompile,
  toDocument,
  transition,
} from "../../../src/engine/index.js";
import { nodeSha256 } from "../../../src/platform/node/sha256-stream.js";
import { RulesetCompiler } from "../../../src/rulesets/compiler.js";
import { RulesetHolder } from "../../../src/rulesets/holder.js";
import { OrderJournal } from "../../../src/store/file/order-journal.js";
import {
  RULESET_SNAPSHOT_FILE,
  RulesetSnapshotProblem,
  RulesetSnapshotWriter,
  type RulesetSnapshotWriterOptions,
  readRulesetAtHead,
  readRulesetSnapshot,
  writeRulesetSnapshot,
} from "../../../src/store/file/ruleset-snapshot.js";
import { iso, NOON, orderInput } from "../../support/fixtures.js";
import { loggerFor } from "../../support/logs.js";

const AT = iso(NOON - 48 * 3_600_000);
const SNAPSHOT = () => join(dir, RULESET_SNAPSHOT_FILE);

let dir: string;
let warnings: { message: string; fields?: Record<string, unknown> }[];
const logger = () =>
  loggerFor("warn", (message, fields) => warnings.push({ message, ...(fields ? { fields } : {}) }));
const opened: OrderJournal[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-ruleset-snapshot-"));
  warnings = [];
});

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((j) => j.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openJournal(): Promise<OrderJournal> {
  const journal = await OrderJournal.open(dir, { snapshotEvery: 0, logger: logger() });
  opened.push(journal);
  return journal;
}

/** Order inputs of every shape a compiled order has: modes, actions, exemptions, windows, targets. */
function input(i: number): OrderInput {
  const shapes: Record<string, unknown>[] = [
    {},
    { mode: "shadow" },
    { action: "prevent_hosting" },
    { exemptAccountIds: [`acct-x-${i}`, `acct-y-${i}`] },
    { target: { kind: "account", accountIds: [`acct-${i}`] }, jurisdictions: ["IN"] },
    { effectiveUntil: iso(NOON + 90 * 86_400_000), jurisdictions: ["IN-MH", "IN-KA"] },
    {
      authority: { name: "Ministry", jurisdiction: "IN", kind: "agency" },
      target: { kind: "meeting", meetingIds: [`m-${i}`, `m-${i + 1}`] },
    },
  ];
  return OrderInput.parse(
    orderInput({
      reference: `WP/${i}/2026`,
      target: { kind: "meeting", meetingIds: [`m-${i}`] },
      receivedAt: iso(NOON - 72 * 3_600_000),
      ...shapes[i % shapes.length],
    }),
  );
}

/** `n` orders from `from` created, each approved but every fifth (left pending), through the journal. */
async function fill(journal: OrderJournal, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const id = `ord_${String(i).padStart(5, "0")}`;
    await journal.applyChange(id, "create", "responder-1", AT, () =>
      createOrder(input(i), { id, actor: "responder-1", at: AT }),
    );
    if (i % 5 !== 4)
      await journal.applyChange(id, "approve", "approver-1", AT, (o) =>
        transition(o as Order, { type: "approve" }, "approver-1", AT),
      );
  }
}

/** An approved order blocking outside its authority (as a bug past entry would leave it): excluded. */
async function breach(journal: OrderJournal, id: string): Promise<void> {
  await journal.applyChange(id, "create", "responder-1", AT, () => ({
    ...transition(
      createOrder(input(0), { id, actor: "responder-1", at: AT }),
      { type: "approve" },
      "approver-1",
      AT,
    ),
    jurisdictions: ["FR"],
  }));
}

const meta = (version: number) => ({ version, compiledAt: iso(NOON) });
const full = (orders: readonly Order[], version: number): Ruleset =>
  compile(orders, meta(version), { sha256: nodeSha256 });

/** Writes the snapshot of the journal's orders as of its head; answers that ruleset. */
async function snapshotAtHead(journal: OrderJournal): Promise<Ruleset> {
  const head = await journal.head();
  const ruleset = full(await journal.listOrders(), head.seq);
  const position = journal.positionOf(head.seq);
  if (position === undefined) throw new Error("no position for the head");
  await writeRulesetSnapshot(dir, ruleset, position);
  return ruleset;
}

describe("the ruleset snapshot, written and read back", () => {
  it("is the same ruleset: hash, orders, indexes and exclusions", async () => {
    const journal = await openJournal();
    await fill(journal, 0, 60);
    await breach(journal, "ord_breach");
    const written = await snapshotAtHead(journal);
    expect(written.excluded.map((e) => e.id)).toEqual(["ord_breach"]);

    const read = await readRulesetSnapshot(dir);
    expect(read?.journal).toEqual(journal.positionOf(written.version));
    const ruleset = read?.ruleset as Ruleset;
    expect(ruleset.hash).toBe(written.hash);
    expect(toDocument(ruleset)).toEqual(toDocument(written));
    expect(ruleset.excluded).toEqual(written.excluded);
    expect([...ruleset.meetings.keys()].sort()).toEqual([...written.meetings.keys()].sort());
    expect([...ruleset.accounts.keys()].sort()).toEqual([...written.accounts.keys()].sort());
    for (const [id, list] of written.meetings) expect(ruleset.meetings.get(id)).toEqual(list);
  });

  it("is a base for an incremental compile: the same hash as compiling everything", async () => {
    const journal = await openJournal();
    await fill(journal, 0, 40);
    await snapshotAtHead(journal);
    const read = (await readRulesetSnapshot(dir))?.ruleset as Ruleset;
    const withdrawn = transition(
      (await journal.getOrder("ord_00003")) as Order,
      { type: "withdraw" },
      "responder-1",
      AT,
    );
    const added = transition(
      createOrder(input(99), { id: "ord_00099", actor: "responder-1", at: AT }),
      { type: "approve" },
      "approver-1",
      AT,
    );
    const next = recompile(read, [withdrawn, added], meta(read.version + 3), { sha256: nodeSha256 });
    const others = (await journal.listOrders()).filter((o) => o.id !== "ord_00003");
    expect(next.hash).toBe(full([...others, withdrawn, added], read.version + 3).hash);
  });

  it("holds an empty ruleset too", async () => {
    const journal = await openJournal();
    await journal.applyChange("ord_1", "create", "responder-1", AT, () =>
      createOrder(input(1), { id: "ord_1", actor: "responder-1", at: AT }),
    );
    const written = await snapshotAtHead(journal);
    expect((await readRulesetSnapshot(dir))?.ruleset.hash).toBe(written.hash);
  });
});

describe("a start from the snapshot (readRulesetAtHead, then the compiler resumes)", () => {
  it("brings a snapshot older than the journal to its head: the hash of a full compile", async () => {
    const journal = await openJournal();
    await fill(journal, 0, 50);
    await snapshotAtHead(journal);
    // After the snapshot: new orders, withdrawals, a rejection and an approval of a pending one.
    await fill(journal, 50, 20);
    for (const id of ["ord_00001", "ord_00007", "ord_00055"])
      await journal.applyChange(id, "withdraw", "responder-1", AT, (o) =>
        transition(o as Order, { type: "withdraw" }, "responder-1", AT),
      );
    await journal.applyChange("ord_00004", "approve", "approver-1", AT, (o) =>
      transition(o as Order, { type: "approve" }, "approver-1", AT),
    );
    await journal.applyChange("ord_00009", "reject", "approver-1", AT, (o) =>
      transition(o as Order, { type: "reject", reason: "no" }, "approver-1", AT),
    );
    const head = await journal.head();
    const orders = await journal.listOrders();
    await journal.close();

    const start = await readRulesetAtHead(dir, logger());
    expect(start?.head.seq).toBe(head.seq);
    expect(start?.from.seq).toBeLessThan(head.seq);
    const holder = new RulesetHolder(() => NOON);
    const reopened = await openJournal();
    const compiler = new RulesetCompiler(reopened, holder, () => NOON, { sha256: nodeSha256 });
    const resumed = await compiler.resume(start?.base as Ruleset, start?.changed ?? [], head);
    expect(resumed.version).toBe(head.seq);
    expect(resumed.hash).toBe(full(orders, head.seq).hash);
    expect(warnings).toEqual([]);

    // The next change is compiled incrementally from it, and still matches a full compile.
    await reopened.applyChange("ord_00002", "withdraw", "responder-1", AT, (o) =>
      transition(o as Order, { type: "withdraw" }, "responder-1", AT),
    );
    const next = await compiler.refresh();
    expect(next.hash).toBe(full(await reopened.listOrders(), next.version).hash);
  });

  it("at the journal's head needs no compile: the snapshot's ruleset is the one in force", async () => {
    const journal = await openJournal();
    await fill(journal, 0, 10);
    const written = await snapshotAtHead(journal);
    await journal.close();
    const start = await readRulesetAtHead(dir, logger());
    expect(start?.changed).toEqual([]);
    expect(start?.base.hash).toBe(written.hash);
  });

  it("leaves a torn last line of the journal out (never acknowledged)", async () => {
    const journal = await openJournal();
    await fill(journal, 0, 10);
    await snapshotAtHead(journal);
    await fill(journal, 10, 2);
    const head = await journal.head();
    await journal.close();
    await writeFile(join(dir, "orders.jsonl"), '{"seq":', { flag: "a" });
    const start = await readRulesetAtHead(dir, logger());
    expect(start?.head.seq).toBe(head.seq);
  });
});

describe("a snapshot that does not verify is ignored, with a warning", () => {
  async function written(): Promise<{ hash: string }> {
    const journal = await openJournal();
    await fill(journal, 0, 30);
    const ruleset = await snapshotAtHead(journal);
    await journal.close();
    return ruleset;
  }

  const cases: [string, () => Promise<void>][] = [
    [
      "a flipped byte in a bucket",
      async () => {
        const bytes = await readFile(SNAPSHOT());
        const at = bytes.indexOf("ord_00011");
        bytes[at + 4] = "9".charCodeAt(0);
        await writeFile(SNAPSHOT(), bytes);
      },
    ],
    [
      "truncated (a write cut short)",
      async () => truncate(SNAPSHOT(), (await readFile(SNAPSHOT())).length - 30),
    ],
    [
      "cut at a line's end (trailer lost)",
      async () => {
        const bytes = await readFile(SNAPSHOT());
        await writeFile(SNAPSHOT(), bytes.subarray(0, bytes.lastIndexOf(10, bytes.length - 2) + 1));
      },
    ],
    ["empty", async () => writeFile(SNAPSHOT(), "")],
    [
      "a foreign file (an order snapshot's header)",
      async () =>
        writeFile(
          SNAPSHOT(),
          '{"format":"cordon-order-snapshot/2","seq":1,"hash":"x","journalBytes":1,"orders":0}\n{"sha256":"0"}\n',
        ),
    ],
  ];

  for (const [name, damage] of cases) {
    it(`${name}: refused on read, and a start compiles from the orders instead`, async () => {
      await written();
      await damage();
      await expect(readRulesetSnapshot(dir)).rejects.toBeInstanceOf(RulesetSnapshotProblem);
      expect(await readRulesetAtHead(dir, logger())).toBeUndefined();
      expect(warnings.map((w) => w.message)).toEqual(["ruleset snapshot ignored, compiling from the orders"]);
    });
  }

  it("of another journal (the journal was replaced, or is shorter): ignored", async () => {
    await written();
    await rm(join(dir, "orders.jsonl"));
    const other = await openJournal();
    await fill(other, 100, 3);
    await other.close();
    expect(await readRulesetAtHead(dir, logger())).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.fields?.reason)).toMatch(/journal has no entry/);
  });

  it("the same file read back without damage is used (the cases above damage only what they say)", async () => {
    const ruleset = await written();
    expect((await readRulesetAtHead(dir, logger()))?.base.hash).toBe(ruleset.hash);
  });
});

describe("writing is crash-safe", () => {
  it("a temporary file left by a crash is ignored (and removed); the snapshot before it is read", async () => {
    const journal = await openJournal();
    await fill(journal, 0, 10);
    const before = await snapshotAtHead(journal);
    await writeFile(`${SNAPSHOT()}.tmp`, '{"format":"cordon-ruleset-snapshot/1","version":99');
    expect((await readRulesetSnapshot(dir))?.ruleset.hash).toBe(before.hash);
    await expect(readFile(`${SNAPSHOT()}.tmp`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a write that fails half-way leaves the snapshot before it in place, and no temporary file", async () => {
    const journal = await openJournal();
    await fill(journal, 0, 10);
    const before = await snapshotAtHead(journal);
    await fill(journal, 10, 10);
    const head = await journal.head();
    const next = full(await journal.listOrders(), head.seq);
    let slices = 0;
    await expect(
      writeRulesetSnapshot(dir, next, journal.positionOf(head.seq) as never, {
        sliceMs: 0,
        yieldToLoop: async () => {
          if (++slices === 3) throw new Error("crash");
        },
      }),
    ).rejects.toThrow("crash");
    await expect(readFile(`${SNAPSHOT()}.tmp`)).rejects.toMatchObject({ code: "ENOENT" });
    expect((await readRulesetSnapshot(dir))?.ruleset.hash).toBe(before.hash);
  });
});

describe("RulesetSnapshotWriter", () => {
  async function setUp(options: Partial<RulesetSnapshotWriterOptions> = {}) {
    const journal = await openJournal();
    const versions: Ruleset[] = [];
    const next = async (n: number) => {
      await fill(journal, versions.length * 10, n);
      const head = await journal.head();
      const ruleset = full(await journal.listOrders(), head.seq);
      versions.push(ruleset);
      return ruleset;
    };
    const writer = new RulesetSnapshotWriter(dir, {
      positionOf: (seq) => journal.positionOf(seq),
      logger: logger(),
      ...options,
    });
    const onDisk = async () => (await readRulesetSnapshot(dir))?.ruleset.version;
    return { writer, next, onDisk };
  }

  it("writes the first ruleset offered, then only once enough versions came after it", async () => {
    const { writer, next, onDisk } = await setUp({ everyVersions: 20, everyMs: 3_600_000 });
    const first = await next(2);
    writer.offer(first);
    await writer.idle();
    expect(await onDisk()).toBe(first.version);
    writer.offer(await next(2)); // 4 versions on: not due
    await writer.idle();
    expect(await onDisk()).toBe(first.version);
    const later = await next(10); // 20+ versions on: due
    writer.offer(later);
    await writer.idle();
    expect(await onDisk()).toBe(later.version);
    await writer.stop();
  });

  it("writes a newer version behind the last one once `everyMs` passed", async () => {
    const { writer, next, onDisk } = await setUp({ everyVersions: 1000, everyMs: 50 });
    writer.offer(await next(1));
    await writer.idle();
    const behind = await next(1);
    writer.offer(behind);
    await expect.poll(onDisk, { timeout: 3000 }).toBe(behind.version);
    await writer.stop();
  });

  it("never writes an older version over a newer one offered meanwhile", async () => {
    const { writer, next, onDisk } = await setUp();
    const older = await next(1);
    const newer = await next(1);
    writer.offer(newer);
    writer.offer(older);
    await writer.idle();
    expect(await onDisk()).toBe(newer.version);
    await writer.stop();
  });

  it("stops a write under way at its next slice, leaving no temporary file", async () => {
    const { writer, next, onDisk } = await setUp({ sliceMs: 0 });
    writer.offer(await next(30));
    await writer.stop();
    await expect(readFile(`${SNAPSHOT()}.tmp`)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await onDisk()).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});
