/**
 * The reconciler's per-install work is O(changed): after its first reconcile (every order, once), an
 * install of a version recompiled from the last one looks at the changed orders only, and a passing
 * window boundary at that order only; the store's orders are not read again while its revision is the
 * one the reconciler left, nor after another publish the store still keeps (two instances:
 * enforcement-instances.test.ts). What it publishes is, after every step, exactly what a reconcile of
 * every order would publish (the embedded journal, real files). Counted with the engine's per-order
 * function wrapped in a spy: `scopeAt` (one order; a reconcile of every order calls it for each).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as engine from "../../src/engine/index.js";
import { EnforcementReconciler, PUBLISH_LIMIT } from "../../src/rulesets/enforcement-reconciler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import type { EnforcementEventStore } from "../../src/store/enforcement-events.js";
import { EventJournal } from "../../src/store/file/event-journal.js";
import { HOUR, iso, NOON } from "../support/fixtures.js";
import { approved } from "../support/rulesets.js";

vi.mock("../../src/engine/index.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/engine/index.js")>();
  return { ...original, scopeAt: vi.fn(original.scopeAt) };
});

const scopeAt = vi.mocked(engine.scopeAt);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-reconciler-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const N = 2000;
const onMeeting = (id: string, overrides: Record<string, unknown> = {}) =>
  approved(id, { target: { kind: "meeting", meetingIds: [`m-${id}`] }, ...overrides });

/** The store, with its reads of every order counted. */
function counted<S extends EnforcementEventStore>(store: S): S & { fullReads: number } {
  const out = Object.assign(store, { fullReads: 0 });
  const published = store.published.bind(store);
  out.published = () => {
    out.fullReads++;
    return published();
  };
  return out;
}

describe("EnforcementReconciler", () => {
  it("reconciles an install of a recompiled version by its changed orders only, publishing what a full reconcile would", async () => {
    const now = { t: NOON };
    const journal = await EventJournal.open(join(dir, "incremental"), { retentionMs: 48 * HOUR });
    // The test's own reads, not counted.
    const peek = journal.published.bind(journal);
    const store = counted(journal);
    const holder = new RulesetHolder(() => now.t);
    // N enforcing orders; one of them (o-17) ends in an hour.
    const orders = new Map(
      Array.from({ length: N }, (_, i) => {
        const o = onMeeting(`o-${i}`, i === 17 ? { effectiveUntil: iso(NOON + HOUR) } : {});
        return [o.id, o] as const;
      }),
    );
    let version = 1;
    let ruleset = engine.compile([...orders.values()], { version, compiledAt: iso(NOON) });
    holder.install(ruleset);
    const reconciler = new EnforcementReconciler({ holder, store, clock: () => now.t }).start();
    await reconciler.kick();
    expect(scopeAt).toHaveBeenCalledTimes(N);
    expect(store.fullReads).toBe(1);
    expect((await peek()).orders.size).toBe(N);

    /** What a reconcile of every order would change now (by hand, not counted): nothing, once it is done. */
    const fullDiff = async () => {
      const desired = new Map<string, string>();
      for (const o of ruleset.orders)
        if (o.mode === "enforce" && o.from <= now.t && (o.until === null || now.t < o.until))
          desired.set(o.id, engine.scopeKey(o));
      return engine.reconcile((await peek()).orders, desired);
    };

    scopeAt.mockClear();
    const change = (order: engine.Order) => {
      orders.set(order.id, order);
      ruleset = engine.recompile(ruleset, [order], { version: ++version, compiledAt: iso(now.t) });
      holder.install(ruleset);
    };
    // Ten installs: new orders, withdrawals, an amendment of the blocks.
    for (let i = 0; i < 10; i++) {
      now.t += 1000;
      if (i % 3 === 0) change(onMeeting(`o-new-${i}`));
      else if (i % 3 === 1)
        change(
          engine.transition(
            orders.get(`o-${i}`) as engine.Order,
            { type: "withdraw" },
            "responder-1",
            iso(now.t),
          ),
        );
      else change(onMeeting(`o-${i}`, { jurisdictions: ["IN-MH", "IN-KA"] }));
      await reconciler.kick();
      expect((await fullDiff()).changes).toEqual([]);
    }
    // Every order was looked at once, at the start; since then one scope per install.
    expect(store.fullReads).toBe(1);
    expect(scopeAt.mock.calls.length).toBeLessThanOrEqual(10);

    // The window of o-17 closes: that order alone is looked at, and its block lifted once.
    scopeAt.mockClear();
    now.t = NOON + HOUR;
    await reconciler.kick();
    await reconciler.kick();
    expect(scopeAt.mock.calls.map(([order]) => order?.id)).toEqual(["o-17"]);
    expect((await fullDiff()).changes).toEqual([]);
    const events = (await journal.read("0", 10 * N)).events.filter((e) => e.orderId === "o-17");
    expect(events.map((e) => e.type)).toEqual(["block-effective", "block-lifted"]);

    // Something else published (another instance): the revision moved; the store says what, and only
    // those orders are looked at again (with the ones the install changed).
    now.t += 1000;
    const published = await peek();
    const extra = await journal.publish({
      rev: published.rev,
      epoch: undefined,
      version: ruleset.version,
      at: now.t,
      changes: [{ orderId: "o-3", before: published.orders.get("o-3") ?? null, after: null }],
      events: [],
    });
    expect(extra.kind).toBe("published");
    change(onMeeting("o-after"));
    scopeAt.mockClear();
    await reconciler.kick();
    expect(store.fullReads).toBe(1);
    expect(scopeAt.mock.calls.map(([order]) => order?.id).sort()).toEqual(["o-3", "o-after"]);
    expect((await fullDiff()).changes).toEqual([]);
    expect((await peek()).orders.has("o-3")).toBe(true);
    await reconciler.stop();
    await journal.close();
  });

  it("lets the event loop run between slices of a reconcile of every order, and publishes the same", async () => {
    const now = NOON;
    const orders = Array.from({ length: N }, (_, i) =>
      onMeeting(`o-${i}`, i % 7 === 0 ? { mode: "shadow" } : {}),
    );
    const ruleset = engine.compile(orders, { version: 1, compiledAt: iso(NOON) });
    const published: string[][] = [];
    const logged: Record<string, unknown>[] = [];
    const logger = {
      debug() {},
      info: (message: string, fields?: Record<string, unknown>) => {
        if (message === "enforcement events published") logged.push(fields ?? {});
      },
      warn() {},
      error() {},
    };
    let pauses = 0;
    for (const sliced of [false, true]) {
      const journal = await EventJournal.open(join(dir, `sliced-${sliced}`), { retentionMs: 48 * HOUR });
      const holder = new RulesetHolder(() => now);
      holder.install(ruleset);
      const reconciler = new EnforcementReconciler({
        holder,
        store: journal,
        clock: () => now,
        logger,
        ...(sliced
          ? {
              sliceMs: 0,
              yieldToLoop: async () => {
                pauses++;
              },
            }
          : {}),
      }).start();
      await reconciler.kick();
      published.push((await journal.read("0", 10 * N)).events.map((e) => `${e.type} ${e.orderId}`));
      await reconciler.stop();
      await journal.close();
    }
    // At most 256 orders a slice (a slice of 0 ms ends at the first look at the clock), in each of the
    // walks (the ruleset, the published orders, the orders in force, the window boundaries).
    expect(pauses).toBeGreaterThanOrEqual(Math.floor(N / 256) * 3);
    expect(published[1]).toEqual(published[0]);
    expect(published[0]).toHaveLength(N - Math.ceil(N / 7));
    // A publish of many events (a first one) is logged with the first hundred and the count, not each.
    expect(logged.map((f) => [(f.events as unknown[]).length, f.count])).toEqual([
      [100, N - Math.ceil(N / 7)],
      [100, N - Math.ceil(N / 7)],
    ]);
  });

  it("publishes a reconcile of more than PUBLISH_LIMIT changes in runs of that many, ending where one publish would", async () => {
    const now = NOON;
    const count = 2 * PUBLISH_LIMIT + 123;
    const ruleset = engine.compile(
      Array.from({ length: count }, (_, i) => onMeeting(`o-${i}`)),
      { version: 1, compiledAt: iso(NOON) },
    );
    const journal = await EventJournal.open(join(dir, "runs"), { retentionMs: 48 * HOUR });
    const sizes: number[] = [];
    const publish = journal.publish.bind(journal);
    journal.publish = (batch) => {
      sizes.push(batch.changes.length);
      return publish(batch);
    };
    const holder = new RulesetHolder(() => now);
    holder.install(ruleset);
    scopeAt.mockClear();
    const reconciler = new EnforcementReconciler({ holder, store: journal, clock: () => now }).start();
    await reconciler.kick();
    expect(sizes).toEqual([PUBLISH_LIMIT, PUBLISH_LIMIT, 123]);
    // One plan, published in runs: every order looked at once, not once more for every run.
    expect(scopeAt).toHaveBeenCalledTimes(count);
    const published = await journal.published();
    expect(published.orders.size).toBe(count);
    const ids = (await journal.read("0", 2 * count)).events.map((e) => e.orderId);
    expect(ids).toHaveLength(count);
    expect(ids).toEqual([...ids].sort());
    await reconciler.stop();
    await journal.close();
  });

  it("reads every order again after a version compiled afresh (not from the last one)", async () => {
    const now = { t: NOON };
    const journal = await EventJournal.open(join(dir, "afresh"), { retentionMs: 48 * HOUR });
    const peek = journal.published.bind(journal);
    const store = counted(journal);
    const holder = new RulesetHolder(() => now.t);
    const first = [onMeeting("o-1"), onMeeting("o-2")];
    holder.install(engine.compile(first, { version: 1, compiledAt: iso(NOON) }));
    const reconciler = new EnforcementReconciler({ holder, store, clock: () => now.t }).start();
    await reconciler.kick();
    now.t += 1;
    holder.install(engine.compile([first[1] as engine.Order], { version: 2, compiledAt: iso(NOON) }));
    await reconciler.kick();
    expect(store.fullReads).toBe(2);
    expect([...(await peek()).orders.keys()]).toEqual(["o-2"]);
    const events = (await journal.read("0", 10)).events.map((e) => [e.type, e.orderId]);
    expect(events).toEqual([
      ["block-effective", "o-1"],
      ["block-effective", "o-2"],
      ["block-lifted", "o-1"],
    ]);
    await reconciler.stop();
    await journal.close();
  });
});
