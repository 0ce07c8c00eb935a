/**
 * The enforcement event stores, one contract on both (the embedded journal, a real redis-server): a
 * publish appends its events and moves the state at once; a publish computed from an old state is a
 * conflict; an older ruleset or an earlier clock does not publish; events past the retention are dropped
 * and a cursor before them reads as lost; one order's events are listed newest first; what was
 * published since a revision, within what is kept. Then what only one has: the journal rebuilt at open
 * (a torn last line cut off, what changed since a revision known again), and on Redis the ruleset epoch
 * check, an emptied meta hash, and two reconcilers publishing a change once.
 */
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, enforcedState, type Ruleset, reconcile } from "../../src/engine/index.js";
import { EnforcementReconciler } from "../../src/rulesets/enforcement-reconciler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import {
  type EnforcementEventStore,
  KEPT_CHANGES,
  type PublishBatch,
  type PublishedRevision,
} from "../../src/store/enforcement-events.js";
import { EVENT_JOURNAL_FILE, EventJournal } from "../../src/store/file/event-journal.js";
import { RedisEnforcementEvents } from "../../src/store/redis/enforcement-events.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { HOUR, iso, NOON } from "../support/fixtures.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { approved } from "../support/rulesets.js";

let redis: RedisServer;
let client: Redis;
let reader: Redis;
let dir: string;
let run = 0;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  reader = new Redis(redis.url);
  dir = await mkdtemp(join(tmpdir(), "cordon-events-"));
}, 30_000);

afterAll(async () => {
  client.disconnect();
  reader.disconnect();
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

const RETENTION = 10 * HOUR;

const rulesetV = (version: number, ...ids: string[]): Ruleset =>
  compile(
    ids.map((id) => approved(id, { target: { kind: "meeting", meetingIds: [`m-${id}`] } })),
    { version, compiledAt: iso(NOON), epoch: "e1" },
  );

/** The batch a reconcile of `ruleset` at `now` would publish over what `store` holds. */
async function batchFor(store: EnforcementEventStore, ruleset: Ruleset, now: number): Promise<PublishBatch> {
  const published = await store.published();
  const { changes, events } = reconcile(published.orders, enforcedState(ruleset, now));
  return {
    rev: published.rev,
    epoch: ruleset.epoch,
    version: ruleset.version,
    at: now,
    changes,
    events: events.map((e) => ({ ...e, at: iso(now), rulesetVersion: ruleset.version })),
  };
}

/** The store's revision now (`published()` without its orders). */
async function revisionOf(store: EnforcementEventStore): Promise<PublishedRevision> {
  const { orders: _, ...revision } = await store.published();
  return revision;
}

/** A publish over the store's revision with `changes` (orderId, scope or null) and no events. */
async function raw(store: EnforcementEventStore, at: number, changes: [string, string | null][]) {
  const published = await store.published();
  const result = await store.publish({
    rev: published.rev,
    epoch: "e1",
    version: 1,
    at,
    changes: changes.map(([orderId, after]) => ({
      orderId,
      before: published.orders.get(orderId) ?? null,
      after,
    })),
    events: [],
  });
  expect(result.kind).toBe("published");
}

const stores: [string, () => Promise<EnforcementEventStore>][] = [
  ["embedded journal", () => EventJournal.open(join(dir, `j-${++run}`), { retentionMs: RETENTION })],
  [
    "Redis stream",
    async () =>
      new RedisEnforcementEvents({
        redis: client,
        reader,
        keys: redisKeys(`ev-${++run}`).enforcement,
        rulesetEpochKey: redisKeys(`ev-${run}`).rulesetEpoch,
        retentionMs: RETENTION,
      }),
  ],
];

describe.each(stores)("%s", (_name, make) => {
  it("publishes events and state together; reads after a cursor; nothing twice", async () => {
    const store = await make();
    expect(await store.latest()).toBe("0");
    const r1 = await store.publish(await batchFor(store, rulesetV(1, "o-1", "o-2"), NOON));
    expect(r1.kind).toBe("published");
    const ids = r1.kind === "published" ? r1.ids : [];
    expect(ids).toHaveLength(2);
    expect([...(await store.published()).orders.keys()].sort()).toEqual(["o-1", "o-2"]);
    expect(await store.latest()).toBe(ids[1]);
    const all = await store.read("0", 100);
    expect(all.lost).toBe(false);
    expect(all.events.map((e) => [e.id, e.type, e.orderId])).toEqual([
      [ids[0], "block-effective", "o-1"],
      [ids[1], "block-effective", "o-2"],
    ]);
    expect((await store.read(ids[0] as string, 100)).events.map((e) => e.id)).toEqual([ids[1]]);
    expect((await store.read(ids[1] as string, 100)).events).toEqual([]);
    // Reconciled again, the same ruleset has nothing to publish.
    expect((await batchFor(store, rulesetV(1, "o-1", "o-2"), NOON + 1)).events).toEqual([]);
    await store.close();
  });

  it("refuses a batch computed from a state another publish has moved on from", async () => {
    const store = await make();
    const stale = await batchFor(store, rulesetV(1, "o-1"), NOON);
    expect((await store.publish(await batchFor(store, rulesetV(1, "o-1"), NOON))).kind).toBe("published");
    expect(await store.publish(stale)).toEqual({ kind: "conflict" });
    expect((await store.read("0", 100)).events).toHaveLength(1);
    await store.close();
  });

  it("an older ruleset, or a reconcile dated before the last publish, does not publish", async () => {
    const store = await make();
    await store.publish(await batchFor(store, rulesetV(2, "o-1", "o-2"), NOON));
    // v1 knows only o-1: published, it would lift o-2.
    const older = await store.publish(await batchFor(store, rulesetV(1, "o-1"), NOON + 10));
    expect(older).toMatchObject({ kind: "stale", reason: expect.stringContaining("older") });
    const behind = await store.publish(await batchFor(store, rulesetV(3, "o-1"), NOON - 10));
    expect(behind).toEqual({ kind: "stale", reason: expect.stringContaining("clock"), retryAt: NOON + 1 });
    expect((await store.read("0", 100)).events.map((e) => e.type)).toEqual([
      "block-effective",
      "block-effective",
    ]);
    expect((await store.publish(await batchFor(store, rulesetV(3, "o-1"), NOON + 1))).kind).toBe("published");
    expect((await store.read("0", 100)).events.map((e) => [e.type, e.orderId]).at(-1)).toEqual([
      "block-lifted",
      "o-2",
    ]);
    await store.close();
  });

  it("drops events older than the retention; a cursor before them reads as lost", async () => {
    const store = await make();
    await store.publish(await batchFor(store, rulesetV(1, "o-1"), NOON));
    const [first] = (await store.read("0", 10)).events;
    await store.publish(await batchFor(store, rulesetV(2, "o-1", "o-2"), NOON + 1));
    const kept = await store.read("0", 10);
    expect(kept).toMatchObject({ lost: false });
    expect(kept.events).toHaveLength(2);
    // Past the retention of both: the next publish drops them.
    await store.publish(await batchFor(store, rulesetV(3, "o-1", "o-2", "o-3"), NOON + RETENTION + 2));
    const after = await store.read("0", 10);
    expect(after.lost).toBe(true);
    expect(after.events.map((e) => e.orderId)).toEqual(["o-3"]);
    expect((await store.read(first?.id as string, 10)).lost).toBe(true);
    expect((await store.read(await store.latest(), 10)).lost).toBe(false);
    await store.close();
  });

  it("lists one order's events newest first, at most the limit asked, and says when older ones were dropped", async () => {
    const store = await make();
    expect(store.retentionMs).toBe(RETENTION);
    expect(await store.eventsFor("o-1", 10)).toEqual({ events: [], more: false, trimmed: false });
    // o-1 takes effect, lifts, takes effect again; o-2's events come in between.
    await store.publish(await batchFor(store, rulesetV(1, "o-1", "o-2"), NOON));
    await store.publish(await batchFor(store, rulesetV(2, "o-2"), NOON + 1));
    await store.publish(await batchFor(store, rulesetV(3, "o-1"), NOON + 2));
    const o1 = await store.eventsFor("o-1", 10);
    expect(o1.events.map((e) => [e.type, e.rulesetVersion, e.at])).toEqual([
      ["block-effective", 3, iso(NOON + 2)],
      ["block-lifted", 2, iso(NOON + 1)],
      ["block-effective", 1, iso(NOON)],
    ]);
    expect(o1.events.every((e) => e.orderId === "o-1")).toBe(true);
    expect(o1).toMatchObject({ more: false, trimmed: false });
    // The same events, with the ids read gives.
    const all = (await store.read("0", 100)).events;
    expect(o1.events.map((e) => e.id)).toEqual(
      all
        .filter((e) => e.orderId === "o-1")
        .map((e) => e.id)
        .reverse(),
    );
    expect(o1.events[0]).toMatchObject({ target: { kind: "meeting", meetingIds: ["m-o-1"] } });
    const newest = await store.eventsFor("o-1", 2);
    expect(newest.events.map((e) => e.rulesetVersion)).toEqual([3, 2]);
    expect(newest.more).toBe(true);
    expect((await store.eventsFor("o-2", 10)).events.map((e) => e.type)).toEqual([
      "block-lifted",
      "block-effective",
    ]);
    expect(await store.eventsFor("o-unknown", 10)).toEqual({ events: [], more: false, trimmed: false });
    // Past the retention: the first events are dropped, and the answer says so.
    await store.publish(await batchFor(store, rulesetV(4, "o-1", "o-3"), NOON + RETENTION + 2));
    const later = await store.eventsFor("o-1", 10);
    expect(later.trimmed).toBe(true);
    expect(later.events.map((e) => e.rulesetVersion)).toEqual([3]);
    await store.close();
  });

  it("finds an order's events among more than one read's worth of others'", async () => {
    const store = await make();
    await store.publish(await batchFor(store, rulesetV(1, "o-first"), NOON));
    const others = Array.from({ length: 1200 }, (_, i) => `o-${String(i).padStart(4, "0")}`);
    await store.publish(await batchFor(store, rulesetV(2, "o-first", ...others), NOON + 1));
    const found = await store.eventsFor("o-first", 10);
    expect(found.events.map((e) => [e.type, e.rulesetVersion])).toEqual([["block-effective", 1]]);
    expect(found.more).toBe(false);
    await store.close();
  });

  it("wakes its listeners on a publish, and tells them when it closes", async () => {
    const store = await make();
    const calls: (boolean | undefined)[] = [];
    store.listen((closing) => calls.push(closing));
    await store.publish(await batchFor(store, rulesetV(1, "o-1"), NOON));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.length).toBeGreaterThanOrEqual(1);
    await store.close();
    expect(calls.at(-1)).toBe(true);
  });

  it("tells what was published since a revision: each order named since, with its scope now", async () => {
    const store = await make();
    const r0 = await revisionOf(store);
    expect(r0).toEqual({ rev: 0, epoch: null, version: -1, at: 0 });
    expect(await store.changesSince(r0)).toEqual({ revision: r0, orders: new Map() });
    const v1 = rulesetV(1, "o-1", "o-2");
    await store.publish(await batchFor(store, v1, NOON));
    const r1 = await revisionOf(store);
    // o-1 lifted, o-3 in force, o-2 as it was.
    const v2 = rulesetV(2, "o-2", "o-3");
    await store.publish(await batchFor(store, v2, NOON + 1));
    const r2 = await revisionOf(store);
    expect(r2).toEqual({ rev: 2, epoch: "e1", version: 2, at: NOON + 1 });
    const scopes = enforcedState(v2, NOON + 1);
    expect(await store.changesSince(r0)).toEqual({
      revision: r2,
      orders: new Map([
        ["o-1", null],
        ["o-2", scopes.get("o-2")],
        ["o-3", scopes.get("o-3")],
      ]),
    });
    expect(await store.changesSince(r1)).toEqual({
      revision: r2,
      orders: new Map([
        ["o-1", null],
        ["o-3", scopes.get("o-3")],
      ]),
    });
    expect(await store.changesSince(r2)).toEqual({ revision: r2, orders: new Map() });
    // A publish that changes no order (a newer ruleset recorded) is a revision too.
    await store.publish(await batchFor(store, rulesetV(3, "o-2", "o-3"), NOON + 2));
    expect(await store.changesSince(r2)).toEqual({ revision: await revisionOf(store), orders: new Map() });
    expect((await store.changesSince(r1))?.orders.size).toBe(2);
    // Revisions this store never handed out: another history with the same number, one ahead of it.
    expect(await store.changesSince({ ...r1, at: r1.at + 5 })).toBeUndefined();
    expect(await store.changesSince({ ...r1, version: 7 })).toBeUndefined();
    expect(await store.changesSince({ ...r2, at: r2.at + 5 })).toBeUndefined();
    expect(await store.changesSince({ ...r2, rev: 9 })).toBeUndefined();
    await store.close();
  });

  it("keeps what the last KEPT_CHANGES.publishes publishes changed; a reader older than that reads every order", async () => {
    const store = await make();
    const r0 = await revisionOf(store);
    await raw(store, NOON, [["o-first", "{}"]]);
    const r1 = await revisionOf(store);
    for (let i = 1; i < KEPT_CHANGES.publishes; i++)
      await raw(store, NOON + i, [[`o-${i % 10}`, `{"i":${i}}`]]);
    // r0's reader is exactly as far behind as is kept; one more publish and it is not.
    expect((await store.changesSince(r0))?.orders.size).toBe(11);
    await raw(store, NOON + KEPT_CHANGES.publishes, []);
    expect(await store.changesSince(r0)).toBeUndefined();
    const since = await store.changesSince(r1);
    expect(since?.revision.rev).toBe(KEPT_CHANGES.publishes + 1);
    // Each of o-0..o-9 with the scope of its last publish.
    const last = new Map<string, string>();
    for (let i = 1; i < KEPT_CHANGES.publishes; i++) last.set(`o-${i % 10}`, `{"i":${i}}`);
    expect(since?.orders).toEqual(last);
    await store.close();
  }, 60_000);

  it("keeps no more than KEPT_CHANGES.orders order changes, dropping whole publishes", async () => {
    const store = await make();
    const half = KEPT_CHANGES.orders / 2;
    const r0 = await revisionOf(store);
    await raw(
      store,
      NOON,
      Array.from({ length: half }, (_, i) => [`a-${i}`, "{}"] as [string, string]),
    );
    const r1 = await revisionOf(store);
    await raw(
      store,
      NOON + 1,
      Array.from({ length: half }, (_, i) => [`b-${i}`, "{}"] as [string, string]),
    );
    const r2 = await revisionOf(store);
    expect((await store.changesSince(r0))?.orders.size).toBe(2 * half);
    await raw(store, NOON + 2, [["c", "{}"]]);
    expect(await store.changesSince(r0)).toBeUndefined();
    expect((await store.changesSince(r1))?.orders.size).toBe(half + 1);
    // One publish of more than is kept: nobody before it can follow.
    const big = await revisionOf(store);
    await raw(
      store,
      NOON + 3,
      Array.from({ length: KEPT_CHANGES.orders + 1 }, (_, i) => [`d-${i}`, "{}"] as [string, string]),
    );
    expect(await store.changesSince(r2)).toBeUndefined();
    expect(await store.changesSince(big)).toBeUndefined();
    const after = await revisionOf(store);
    await raw(store, NOON + 4, [["a-0", null]]);
    expect((await store.changesSince(after))?.orders).toEqual(new Map([["a-0", null]]));
    await store.close();
  }, 60_000);

  it("knows its own cursors", async () => {
    const store = await make();
    expect(store.isCursor("0")).toBe(true);
    expect(store.isCursor("abc")).toBe(false);
    expect(store.isCursor("")).toBe(false);
    await store.publish(await batchFor(store, rulesetV(1, "o-1", "o-2"), NOON));
    const [first, second] = (await store.read("0", 10)).events.map((e) => e.id) as [string, string];
    expect(store.compare("0", first)).toBeLessThan(0);
    expect(store.compare(first, second)).toBeLessThan(0);
    expect(store.compare(second, first)).toBeGreaterThan(0);
    expect(store.compare(second, await store.latest())).toBe(0);
    await store.close();
  });
});

describe("the embedded journal", () => {
  it("is rebuilt at open, and a torn last line (a publish that never returned) is cut off", async () => {
    const path = join(dir, "rebuilt");
    const store = await EventJournal.open(path, { retentionMs: RETENTION });
    await store.publish(await batchFor(store, rulesetV(1, "o-1", "o-2"), NOON));
    await store.publish(await batchFor(store, rulesetV(2, "o-2"), NOON + 1));
    await store.close();
    await appendFile(join(path, EVENT_JOURNAL_FILE), '{"t":"batch","rev":3,');
    const again = await EventJournal.open(path, { retentionMs: RETENTION });
    expect([...(await again.published()).orders.keys()]).toEqual(["o-2"]);
    expect((await again.published()).rev).toBe(2);
    expect((await again.read("0", 10)).events.map((e) => [e.id, e.type])).toEqual([
      ["1", "block-effective"],
      ["2", "block-effective"],
      ["3", "block-lifted"],
    ]);
    expect((await readFile(join(path, EVENT_JOURNAL_FILE), "utf8")).endsWith("}\n")).toBe(true);
    // Ids go on from where they were.
    await again.publish(await batchFor(again, rulesetV(3, "o-2", "o-3"), NOON + 2));
    expect(await again.latest()).toBe("4");
    await again.close();
  });

  it("knows again at open what was published since a revision, back to the last snapshot line", async () => {
    const path = join(dir, "since-reopened");
    const store = await EventJournal.open(path, { retentionMs: RETENTION });
    const r0 = await revisionOf(store);
    await store.publish(await batchFor(store, rulesetV(1, "o-1", "o-2"), NOON));
    const r1 = await revisionOf(store);
    await store.publish(await batchFor(store, rulesetV(2, "o-2"), NOON + 1));
    await store.close();
    const again = await EventJournal.open(path, { retentionMs: RETENTION });
    expect((await again.changesSince(r0))?.orders).toEqual(
      new Map([
        ["o-1", null],
        ["o-2", enforcedState(rulesetV(2, "o-2"), NOON).get("o-2")],
      ]),
    );
    expect((await again.changesSince(r1))?.orders).toEqual(new Map([["o-1", null]]));
    // Past the retention the file is rewritten as one snapshot line: what came before it is not known.
    await again.publish(await batchFor(again, rulesetV(3, "o-2", "o-3"), NOON + RETENTION + 2));
    const r3 = await revisionOf(again);
    await again.publish(await batchFor(again, rulesetV(4, "o-3"), NOON + RETENTION + 3));
    await again.close();
    const third = await EventJournal.open(path, { retentionMs: RETENTION });
    expect(await third.changesSince(r1)).toBeUndefined();
    expect((await third.changesSince(r3))?.orders).toEqual(new Map([["o-2", null]]));
    await third.close();
  });

  it("keeps its sequence after the retention rewrote the file", async () => {
    const path = join(dir, "compacted");
    const store = await EventJournal.open(path, { retentionMs: RETENTION });
    await store.publish(await batchFor(store, rulesetV(1, "o-1"), NOON));
    await store.publish(await batchFor(store, rulesetV(2, "o-1", "o-2"), NOON + RETENTION + 1));
    await store.close();
    const again = await EventJournal.open(path, { retentionMs: RETENTION });
    expect(await again.latest()).toBe("2");
    expect(await again.read("0", 10)).toMatchObject({ lost: true, events: [{ id: "2", orderId: "o-2" }] });
    expect([...(await again.published()).orders.keys()].sort()).toEqual(["o-1", "o-2"]);
    await again.close();
  });
});

describe("on Redis", () => {
  const make = (prefix: string) =>
    new RedisEnforcementEvents({
      redis: client,
      reader,
      keys: redisKeys(prefix).enforcement,
      rulesetEpochKey: redisKeys(prefix).rulesetEpoch,
      retentionMs: RETENTION,
    });

  it("refuses a ruleset of an epoch Redis does not hold", async () => {
    const store = make("epoch-check");
    await client.set(redisKeys("epoch-check").rulesetEpoch, "e2");
    const result = await store.publish(await batchFor(store, rulesetV(1, "o-1"), NOON));
    expect(result).toMatchObject({ kind: "stale", reason: expect.stringContaining("epoch") });
    expect(await store.latest()).toBe("0");
  });

  it("an emptied meta hash starts a new history: what changed before it is not followed", async () => {
    const store = make("emptied-meta");
    await store.publish(await batchFor(store, rulesetV(1, "o-1"), NOON));
    await store.publish(await batchFor(store, rulesetV(2, "o-1", "o-2"), NOON + 1));
    const r1 = { rev: 1, epoch: "e1", version: 1, at: NOON };
    expect((await store.changesSince(r1))?.orders.size).toBe(1);
    await client.del(redisKeys("emptied-meta").enforcement.meta);
    // Published again from revision 0: entries 1 and 2 of the old history must not answer for the new.
    await store.publish(await batchFor(store, rulesetV(2, "o-1", "o-2", "o-3"), NOON + 2));
    await store.publish(await batchFor(store, rulesetV(3, "o-3"), NOON + 3));
    expect(await store.changesSince(r1)).toBeUndefined();
    const r1new = { rev: 1, epoch: "e1", version: 2, at: NOON + 2 };
    expect((await store.changesSince(r1new))?.orders).toEqual(
      new Map([
        ["o-1", null],
        ["o-2", null],
      ]),
    );
  });

  it("two instances reconciling the same change publish it once; the older one publishes nothing", async () => {
    const prefix = "two-instances";
    const now = { t: NOON };
    const holders = [new RulesetHolder(() => now.t), new RulesetHolder(() => now.t)] as const;
    const [r0, r1] = holders.map((holder) =>
      new EnforcementReconciler({ holder, store: make(prefix), clock: () => now.t }).start(),
    ) as [EnforcementReconciler, EnforcementReconciler];
    const reconcilers = [r0, r1];
    const store = make(prefix);
    // Both install v1 (one order, starting in an hour): each reconciles, concurrently.
    const v1 = compile(
      [approved("o-1", { effectiveFrom: iso(NOON + HOUR), effectiveUntil: iso(NOON + 2 * HOUR) })],
      { version: 1, compiledAt: iso(NOON), epoch: "e1" },
    );
    for (const h of holders) h.install(v1);
    await Promise.all(reconcilers.map((r) => r.kick()));
    expect(await store.latest()).toBe("0");
    // The boundary: both fire at once.
    for (let round = 0; round < 20; round++) {
      now.t = NOON + HOUR + round;
      await Promise.all(reconcilers.map((r) => r.kick()));
    }
    now.t = NOON + 2 * HOUR;
    await Promise.all(reconcilers.map((r) => r.kick()));
    expect((await store.read("0", 100)).events.map((e) => [e.type, e.orderId])).toEqual([
      ["block-effective", "o-1"],
      ["block-lifted", "o-1"],
    ]);
    // Instance 0 takes v2 (a second order, in force now); instance 1 lags on v1 and reconciles first.
    const v2 = compile(
      [
        approved("o-1", { effectiveFrom: iso(NOON + HOUR), effectiveUntil: iso(NOON + 2 * HOUR) }),
        approved("o-2"),
      ],
      { version: 2, compiledAt: iso(NOON), epoch: "e1" },
    );
    holders[0].install(v2);
    await r0.kick();
    now.t += 1000;
    // Its v1 view would lift o-2: refused.
    expect(await r1.kick()).toMatchObject({
      kind: "stale",
      reason: expect.stringContaining("older"),
    });
    // Even with something to say (o-1 back in force by its v1 view), v1 does not publish over v2.
    const stale = await store.publish(await batchFor(store, v1, NOON + HOUR + 5));
    expect(stale.kind).toBe("stale");
    expect((await store.read("0", 100)).events.map((e) => [e.type, e.orderId])).toEqual([
      ["block-effective", "o-1"],
      ["block-lifted", "o-1"],
      ["block-effective", "o-2"],
    ]);
    for (const r of reconcilers) await r.stop();
  });
});
