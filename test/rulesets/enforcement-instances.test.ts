/**
 * Several instances, one event store (a real redis-server; the embedded journal shared by two reconcilers
 * in one process): an instance that finds the store's revision moved (another instance published) learns
 * what was published from the store (`changesSince`) and looks at those orders only, instead of reading
 * and walking every order; what it publishes, and the mirror it keeps, are what a reconcile of every order
 * gives. A reader further behind than the store keeps reads every order, and is right. Random
 * interleavings of order changes, installs, clocks and reconciles on two instances end with the published
 * state the ruleset's enforced state, each change published once. Counted with the engine's per-order
 * `scopeAt` wrapped in a spy and each instance's reads of every order (`published()`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as engine from "../../src/engine/index.js";
import { EnforcementReconciler } from "../../src/rulesets/enforcement-reconciler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import {
  type EnforcementEventStore,
  KEPT_CHANGES,
  type PublishBatch,
  type PublishedRevision,
} from "../../src/store/enforcement-events.js";
import { EventJournal } from "../../src/store/file/event-journal.js";
import { RedisEnforcementEvents } from "../../src/store/redis/enforcement-events.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { HOUR, iso, NOON } from "../support/fixtures.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { approved } from "../support/rulesets.js";

vi.mock("../../src/engine/index.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/engine/index.js")>();
  return { ...original, scopeAt: vi.fn(original.scopeAt) };
});

const scopeAt = vi.mocked(engine.scopeAt);

let redis: RedisServer;
const clients: Redis[] = [];
let dir: string;
let run = 0;

beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "cordon-instances-"));
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.close();
  await rm(dir, { recursive: true, force: true });
});

const RETENTION = 48 * HOUR;

function redisClient(): Redis {
  const c = new Redis(redis.url);
  clients.push(c);
  return c;
}

/** What each instance sees of the one store: its own client on Redis, the one journal embedded. */
interface Shared {
  name: string;
  open(): Promise<{ instance(): EnforcementEventStore; close(): Promise<void> }>;
}

const SHARED: Shared[] = [
  {
    name: "Redis, one store object per instance",
    async open() {
      const keys = redisKeys(`inst-${++run}`);
      const reader = redisClient();
      const made: RedisEnforcementEvents[] = [];
      return {
        instance: () => {
          const store = new RedisEnforcementEvents({
            redis: redisClient(),
            reader,
            keys: keys.enforcement,
            rulesetEpochKey: keys.rulesetEpoch,
            retentionMs: RETENTION,
          });
          made.push(store);
          return store;
        },
        close: async () => {
          for (const s of made) await s.close();
        },
      };
    },
  },
  {
    name: "embedded journal, shared by two reconcilers",
    async open() {
      const journal = await EventJournal.open(join(dir, `j-${++run}`), { retentionMs: RETENTION });
      return { instance: () => journal, close: () => journal.close() };
    },
  },
];

/**
 * One instance's view of the store: every call goes to it, its reads of every order are counted, and the
 * batches it published are recorded (with the revision each was published over).
 */
function view(store: EnforcementEventStore, published: PublishBatch[]) {
  const out = {
    fullReads: 0,
    /** Reads of what another publish changed that named some order. */
    followed: 0,
    get retentionMs() {
      return store.retentionMs;
    },
    published: () => {
      out.fullReads++;
      return store.published();
    },
    changesSince: async (since: PublishedRevision) => {
      const answer = await store.changesSince(since);
      if (answer !== undefined && answer.orders.size > 0) out.followed++;
      return answer;
    },
    publish: async (batch: PublishBatch) => {
      const result = await store.publish(batch);
      if (result.kind === "published") published.push(batch);
      return result;
    },
    isCursor: (raw: string) => store.isCursor(raw),
    compare: (a: string, b: string) => store.compare(a, b),
    latest: () => store.latest(),
    read: (cursor: string, limit: number) => store.read(cursor, limit),
    eventsFor: (orderId: string, limit: number) => store.eventsFor(orderId, limit),
    listen: (listener: (closing?: boolean) => void) => store.listen(listener),
    close: async () => undefined,
  } satisfies EnforcementEventStore & { fullReads: number; followed: number };
  return out;
}

/** What an instance last left published, as it keeps it: its revision and orders (private; read here only). */
function mirrorOf(r: EnforcementReconciler): { revision: PublishedRevision; orders: Map<string, string> } {
  const mirror = (r as unknown as { mirror?: { published: PublishedRevision; orders: Map<string, string> } })
    .mirror;
  if (mirror === undefined) throw new Error("no mirror");
  return { revision: mirror.published, orders: mirror.orders };
}

async function stateOf(store: EnforcementEventStore) {
  const { orders, ...revision } = await store.published();
  return { revision, orders };
}

/**
 * Replays the published batches in revision order: each change starts from the scope the one before
 * left (a change published twice, or over a state it was not computed from, does not) and changes it.
 */
function replay(batches: PublishBatch[]): Map<string, string> {
  const state = new Map<string, string>();
  const sorted = [...batches].sort((a, b) => a.rev - b.rev);
  sorted.forEach((batch, i) => {
    expect(batch.rev).toBe(i);
    for (const c of batch.changes) {
      expect(c.before).toBe(state.get(c.orderId) ?? null);
      expect(c.after).not.toBe(c.before);
      if (c.after === null) state.delete(c.orderId);
      else state.set(c.orderId, c.after);
    }
  });
  return state;
}

const onMeeting = (id: string, overrides: Record<string, unknown> = {}) =>
  approved(id, { target: { kind: "meeting", meetingIds: [`m-${id}`] }, ...overrides });

const N = 2000;

describe.each(SHARED)("$name", (shared) => {
  it("an instance that finds another's publish reconciles the orders it published, not every order", async () => {
    const opened = await shared.open();
    const batches: PublishBatch[] = [];
    const now = { t: NOON };
    const a = view(opened.instance(), batches);
    const b = view(opened.instance(), batches);
    const holders = [new RulesetHolder(() => now.t), new RulesetHolder(() => now.t)] as const;
    const orders = new Map(
      Array.from({ length: N }, (_, i) => {
        const o = onMeeting(`o-${i}`, i === 17 ? { effectiveUntil: iso(NOON + HOUR) } : {});
        return [o.id, o] as const;
      }),
    );
    const versions = [
      engine.compile([...orders.values()], { version: 1, compiledAt: iso(NOON), epoch: "e1" }),
    ];
    const latest = () => versions.at(-1) as engine.Ruleset;
    const change = (order: engine.Order) => {
      orders.set(order.id, order);
      versions.push(
        engine.recompile(latest(), [order], {
          version: versions.length + 1,
          compiledAt: iso(now.t),
          epoch: "e1",
        }),
      );
    };
    for (const h of holders) h.install(latest());
    // One after the other: two first reconciles at once both read every order, and the one that loses
    // the compare-and-set reads every order again (it has no mirror to follow from yet).
    const ra = new EnforcementReconciler({ holder: holders[0], store: a, clock: () => now.t }).start();
    await ra.kick();
    const rb = new EnforcementReconciler({ holder: holders[1], store: b, clock: () => now.t }).start();
    await rb.kick();
    // The first reconcile of each reads every order; a published every block, b found nothing to add.
    expect([a.fullReads, b.fullReads]).toEqual([1, 1]);
    expect(batches.map((x) => x.changes.length)).toEqual([N]);

    /** b's next reconcile, with the orders it looked at. */
    const reconcileB = async () => {
      scopeAt.mockClear();
      const before = batches.length;
      const outcome = await rb.kick();
      return {
        outcome: outcome.kind,
        // A withdrawn order is not in the ruleset: looked at as none.
        looked: [...new Set(scopeAt.mock.calls.map(([o]) => o?.id ?? "none"))].sort(),
        published: batches.length - before,
      };
    };

    // A new order: a installs the version and publishes first; b installs it and finds it published.
    now.t += 1000;
    change(onMeeting("o-new"));
    holders[0].install(latest());
    await ra.kick();
    expect(batches).toHaveLength(2);
    holders[1].install(latest());
    expect(await reconcileB()).toEqual({ outcome: "unchanged", looked: ["o-new"], published: 0 });

    // o-17's window closes; a's timer fires first and lifts it; b, at the same instant, agrees.
    now.t = NOON + HOUR;
    await ra.kick();
    expect(batches.at(-1)?.changes.map((c) => [c.orderId, c.after])).toEqual([["o-17", null]]);
    expect(await reconcileB()).toEqual({ outcome: "unchanged", looked: ["o-17"], published: 0 });

    // A withdrawal reaches a first; b, still on the version before, would put the block back: its
    // publish is stale, and once it has the version there is nothing left to say.
    now.t += 1000;
    change(
      engine.transition(orders.get("o-5") as engine.Order, { type: "withdraw" }, "responder-1", iso(now.t)),
    );
    holders[0].install(latest());
    await ra.kick();
    expect(await reconcileB()).toMatchObject({ outcome: "stale", looked: ["o-5"], published: 0 });
    holders[1].install(latest());
    expect(await reconcileB()).toEqual({ outcome: "unchanged", looked: ["none"], published: 0 });

    // An amendment both reconcile at once: published once; the one that loses the compare-and-set asks
    // the store what the other published, and reads no order of the store.
    now.t += 1000;
    change(onMeeting("o-9", { jurisdictions: ["IN-MH", "IN-KA"] }));
    for (const h of holders) h.install(latest());
    scopeAt.mockClear();
    const before = batches.length;
    await Promise.all([ra.kick(), rb.kick()]);
    expect(batches.length - before).toBe(1);
    expect(new Set(scopeAt.mock.calls.map(([o]) => o?.id))).toEqual(new Set(["o-9"]));

    // Only the first reconcile of each read every order.
    expect([a.fullReads, b.fullReads]).toEqual([1, 1]);
    // What b keeps is what the store holds, and what the ruleset enforces now.
    const store = await stateOf(opened.instance());
    expect(mirrorOf(rb)).toEqual(store);
    expect(mirrorOf(ra)).toEqual(store);
    expect(store.orders).toEqual(engine.enforcedState(latest(), now.t));
    expect(replay(batches)).toEqual(store.orders);
    // A reconcile of every order (a third instance, from scratch) finds nothing to publish.
    const c = view(opened.instance(), batches);
    const hc = new RulesetHolder(() => now.t);
    hc.install(latest());
    const rc = new EnforcementReconciler({ holder: hc, store: c, clock: () => now.t }).start();
    expect((await rc.kick()).kind).toBe("unchanged");
    expect(c.fullReads).toBe(1);
    expect(mirrorOf(rc).orders).toEqual(mirrorOf(rb).orders);
    for (const r of [ra, rb, rc]) await r.stop();
    await opened.close();
  });

  it("follows another instance's publish of many orders in slices, the event loop free in between", async () => {
    const opened = await shared.open();
    const batches: PublishBatch[] = [];
    const now = { t: NOON };
    const a = view(opened.instance(), batches);
    const b = view(opened.instance(), batches);
    // Every order's window opens in an hour: both instances' boundary queues hold it.
    const ruleset = engine.compile(
      Array.from({ length: N }, (_, i) => onMeeting(`o-${i}`, { effectiveFrom: iso(NOON + HOUR) })),
      { version: 1, compiledAt: iso(NOON), epoch: "e1" },
    );
    const holders = [new RulesetHolder(() => now.t), new RulesetHolder(() => now.t)] as const;
    for (const h of holders) h.install(ruleset);
    let pauses = 0;
    const ra = new EnforcementReconciler({ holder: holders[0], store: a, clock: () => now.t }).start();
    await ra.kick();
    const rb = new EnforcementReconciler({
      holder: holders[1],
      store: b,
      clock: () => now.t,
      sliceMs: 0,
      yieldToLoop: async () => {
        pauses++;
      },
    }).start();
    await rb.kick();
    now.t = NOON + HOUR;
    await ra.kick();
    expect(batches.at(-1)?.changes).toHaveLength(N);
    pauses = 0;
    scopeAt.mockClear();
    expect((await rb.kick()).kind).toBe("unchanged");
    expect(b.fullReads).toBe(1);
    expect(scopeAt).toHaveBeenCalledTimes(N);
    // At most 256 orders a slice (a slice of 0 ms ends at the first look at the clock).
    expect(pauses).toBeGreaterThanOrEqual(Math.floor(N / 256));
    expect(mirrorOf(rb)).toEqual(await stateOf(opened.instance()));
    for (const r of [ra, rb]) await r.stop();
    await opened.close();
  });

  it("an instance further behind than the store keeps reads every order, and puts right what it finds", async () => {
    const opened = await shared.open();
    const batches: PublishBatch[] = [];
    const now = { t: NOON };
    const b = view(opened.instance(), batches);
    const other = opened.instance();
    const ruleset = engine.compile(
      Array.from({ length: 50 }, (_, i) => onMeeting(`o-${i}`)),
      { version: 1, compiledAt: iso(NOON), epoch: "e1" },
    );
    const holder = new RulesetHolder(() => now.t);
    holder.install(ruleset);
    const rb = new EnforcementReconciler({ holder, store: b, clock: () => now.t }).start();
    await rb.kick();
    expect(b.fullReads).toBe(1);
    // Another writer lifts o-3 (against the ruleset), then publishes more times than the store keeps.
    const publish = async (changes: engine.StateChange[]) => {
      const { rev } = (await stateOf(other)).revision;
      const result = await other.publish({ rev, epoch: "e1", version: 1, at: now.t, changes, events: [] });
      expect(result.kind).toBe("published");
    };
    const scope = engine.enforcedState(ruleset, now.t).get("o-3") as string;
    await publish([{ orderId: "o-3", before: scope, after: null }]);
    for (let i = 0; i < KEPT_CHANGES.publishes; i++) await publish([]);
    scopeAt.mockClear();
    expect((await rb.kick()).kind).toBe("published");
    expect(b.fullReads).toBe(2);
    expect(scopeAt.mock.calls.length).toBeGreaterThanOrEqual(50);
    expect(batches.at(-1)?.changes).toEqual([{ orderId: "o-3", before: null, after: scope }]);
    const store = await stateOf(other);
    expect(store.orders).toEqual(engine.enforcedState(ruleset, now.t));
    expect(mirrorOf(rb)).toEqual(store);
    // Within what is kept, the same lift is followed and put right with no read of every order.
    await publish([{ orderId: "o-3", before: scope, after: null }]);
    scopeAt.mockClear();
    expect((await rb.kick()).kind).toBe("published");
    expect(b.fullReads).toBe(2);
    expect(scopeAt.mock.calls.map(([o]) => o?.id)).toEqual(["o-3"]);
    expect((await stateOf(other)).orders).toEqual(engine.enforcedState(ruleset, now.t));
    await rb.stop();
    await opened.close();
  }, 60_000);

  it("random interleavings on two instances end with the enforced state published, each change once", async () => {
    const IDS = ["o-0", "o-1", "o-2", "o-3", "o-4", "o-5"];
    // An order change (one history of versions, each recompiled from the last), an instance installing
    // its next version, an instance's clock moving (windows of a few seconds open and close), one
    // instance reconciling, both at once. Installs reconcile by themselves too, in the background.
    const op = fc.oneof(
      fc.record({
        t: fc.constant("change" as const),
        id: fc.constantFrom(...IDS),
        kind: fc.constantFrom("add", "withdraw", "amend", "shadow", "window"),
        from: fc.integer({ min: 0, max: 6 }),
        length: fc.integer({ min: 1, max: 6 }),
      }),
      fc.record({ t: fc.constant("install" as const), i: fc.integer({ min: 0, max: 1 }) }),
      fc.record({
        t: fc.constant("tick" as const),
        i: fc.integer({ min: 0, max: 1 }),
        ms: fc.integer({ min: 0, max: 2500 }),
      }),
      fc.record({ t: fc.constant("reconcile" as const), i: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ t: fc.constant("both" as const) }),
    );
    // Across the runs, instances followed each other's publishes (the property is not only about full reads).
    let followed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const opened = await shared.open();
        const batches: PublishBatch[] = [];
        const clocks = [NOON, NOON];
        const stores = [view(opened.instance(), batches), view(opened.instance(), batches)];
        const holders = [0, 1].map((i) => new RulesetHolder(() => clocks[i] as number));
        const orders = new Map<string, engine.Order>([["o-0", onMeeting("o-0")]]);
        const versions = [
          engine.compile([...orders.values()], { version: 1, compiledAt: iso(NOON), epoch: "e1" }),
        ];
        const installed = [0, 0];
        for (const h of holders) h.install(versions[0] as engine.Ruleset);
        const reconcilers = [0, 1].map((i) =>
          new EnforcementReconciler({
            holder: holders[i] as RulesetHolder,
            store: stores[i] as EnforcementEventStore,
            clock: () => clocks[i] as number,
            pollMs: 3_600_000,
          }).start(),
        ) as [EnforcementReconciler, EnforcementReconciler];
        const install = (i: number) => {
          const next = versions[(installed[i] as number) + 1];
          if (next === undefined) return;
          installed[i] = (installed[i] as number) + 1;
          (holders[i] as RulesetHolder).install(next);
        };
        try {
          for (const o of ops) {
            if (o.t === "change") {
              const at = Math.max(...clocks);
              const order =
                o.kind === "add"
                  ? onMeeting(o.id)
                  : o.kind === "withdraw"
                    ? orders.has(o.id) && (orders.get(o.id) as engine.Order).status === "approved"
                      ? engine.transition(
                          orders.get(o.id) as engine.Order,
                          { type: "withdraw" },
                          "responder-1",
                          iso(at),
                        )
                      : onMeeting(o.id)
                    : o.kind === "amend"
                      ? onMeeting(o.id, { jurisdictions: ["IN-MH", "IN-KA"] })
                      : o.kind === "shadow"
                        ? onMeeting(o.id, { mode: "shadow" })
                        : onMeeting(o.id, {
                            effectiveFrom: iso(at + o.from * 1000),
                            effectiveUntil: iso(at + (o.from + o.length) * 1000),
                          });
              orders.set(o.id, order);
              versions.push(
                engine.recompile(versions.at(-1) as engine.Ruleset, [order], {
                  version: versions.length + 1,
                  compiledAt: iso(at),
                  epoch: "e1",
                }),
              );
            } else if (o.t === "install") install(o.i);
            else if (o.t === "tick") clocks[o.i] = (clocks[o.i] as number) + o.ms;
            else if (o.t === "reconcile") await (reconcilers[o.i] as EnforcementReconciler).kick();
            else await Promise.all(reconcilers.map((r) => r.kick()));
          }
          // Both catch up (every version, one clock): the last word is the enforced state at that instant.
          const end = Math.max(...clocks) + 1;
          clocks[0] = end;
          clocks[1] = end;
          for (const i of [0, 1]) while ((installed[i] as number) < versions.length - 1) install(i);
          await Promise.all(reconcilers.map((r) => r.kick()));
          await Promise.all(reconcilers.map((r) => r.kick()));
          for (const r of reconcilers) await r.stop();
          const latest = versions.at(-1) as engine.Ruleset;
          const store = await stateOf(opened.instance());
          expect(store.orders).toEqual(engine.enforcedState(latest, end));
          expect(replay(batches)).toEqual(store.orders);
          for (const r of reconcilers) expect(mirrorOf(r)).toEqual(store);
          followed += stores.reduce((n, s) => n + s.followed, 0);
        } finally {
          for (const r of reconcilers) await r.stop();
          await opened.close();
        }
      }),
      { numRuns: 60 },
    );
    expect(followed).toBeGreaterThan(0);
  }, 120_000);
});
