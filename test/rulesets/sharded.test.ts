/**
 * The sharded ruleset: every order is in the shard of each meeting and account it names, a check decided
 * on the shards it needs gets the verdict the whole ruleset gives (property tests over random rulesets
 * and checks), a shard is taken only with the bytes the signed manifest names, and a lookup outside the
 * loaded shards fails rather than answer "no order".
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CheckFacts, compile, decide, type GeoLocation, type Ruleset } from "../../src/engine/index.js";
import {
  carryOver,
  type RulesetManifest,
  ShardedRuleset,
  ShardNotLoadedError,
  sha256Hex,
  shardOf,
  shardRuleset,
  shardsOfOrder,
  verifyShard,
} from "../../src/rulesets/sharded.js";
import { RulesetRejectedError } from "../../src/rulesets/signed.js";
import { HOUR, iso, NOON } from "../support/fixtures.js";
import { approved, MUMBAI, rulesetVersion } from "../support/rulesets.js";

const MEETINGS = Array.from({ length: 12 }, (_, i) => `m-${i}`);
const ACCOUNTS = Array.from({ length: 8 }, (_, i) => `acct-${i}`);
const PLACES: (GeoLocation | null)[] = [
  MUMBAI,
  { country: "IN", subdivisions: ["IN-DL"] },
  { country: "IN", subdivisions: [] },
  { country: "FR", subdivisions: [] },
  null,
];

/** An approved order of India's High Court, on random meetings or accounts, with the variations that matter. */
const orderSpec = fc.record({
  target: fc.oneof(
    fc
      .uniqueArray(fc.constantFrom(...MEETINGS), { minLength: 1, maxLength: 4 })
      .map((meetingIds) => ({ kind: "meeting" as const, meetingIds })),
    fc
      .uniqueArray(fc.constantFrom(...ACCOUNTS), { minLength: 1, maxLength: 3 })
      .map((accountIds) => ({ kind: "account" as const, accountIds })),
  ),
  jurisdictions: fc.constantFrom(["IN-MH"], ["IN"], ["IN-DL", "IN-MH"]),
  mode: fc.constantFrom("enforce", "enforce", "shadow"),
  action: fc.constantFrom("geoblock", "geoblock", "prevent_hosting"),
  exemptAccountIds: fc.constantFrom([], [], ["acct-1"]),
  effectiveUntil: fc.constantFrom(undefined, undefined, iso(NOON + HOUR)),
});

const rulesetArb = fc.array(orderSpec, { minLength: 0, maxLength: 25 }).map((specs) =>
  compile(
    specs.map((spec, i) =>
      approved(`o-${i}`, {
        ...spec,
        // An account cannot be both a target and exempt (the order input refuses it).
        exemptAccountIds:
          spec.target.kind === "account" && spec.target.accountIds.includes("acct-1")
            ? []
            : spec.exemptAccountIds,
        ...(spec.effectiveUntil === undefined ? {} : { effectiveUntil: spec.effectiveUntil }),
      }),
    ),
    { version: 7, compiledAt: iso(NOON) },
  ),
);

const checkArb = fc.record({
  meetingId: fc.constantFrom(...MEETINGS, "m-unknown"),
  accountId: fc.constantFrom(undefined, ...ACCOUNTS),
  role: fc.constantFrom("participant" as const, "host" as const),
  location: fc.constantFrom(...PLACES),
  now: fc.constantFrom(NOON, NOON + 2 * HOUR),
});

/** Splits a ruleset into shards (as the publisher would) and keeps the texts, as KV would. */
async function published(ruleset: Ruleset, minShards: number) {
  const split = await shardRuleset(ruleset, { maxShardBytes: 1024 * 1024, minShards });
  const manifest: RulesetManifest = { ...split.manifest, retired: [] };
  return { manifest, texts: split.shards.map((s) => s?.text ?? null) };
}

/** A Worker's view holding only the shards `facts` needs. */
async function viewFor(p: Awaited<ReturnType<typeof published>>, facts: Omit<CheckFacts, "location">) {
  const view = new ShardedRuleset(p.manifest);
  const count = p.manifest.shards.length;
  const needed = new Set([shardOf("meeting", facts.meetingId, count)]);
  if (facts.accountId !== undefined) needed.add(shardOf("account", facts.accountId, count));
  for (const i of needed) {
    const text = p.texts[i];
    if (text !== null && text !== undefined) view.add(await verifyShard(text, p.manifest, i));
  }
  return view;
}

describe("shardOf", () => {
  it("keeps the shard of an id across releases (every Worker and publisher must agree on it)", () => {
    // Values of the first sharded release: FNV-1a over `m:`/`a:` and the id's UTF-16 code units, murmur3's mixer.
    const pinned = [
      ["meeting", "m-1", 2663, 7],
      ["meeting", "9876543210", 13095, 7],
      ["account", "acct-42", 37959, 7],
      ["account", "ünï", 17591, 7],
      ["meeting", "", 21432, 8],
    ] as const;
    for (const [kind, id, of65536, of16] of pinned) {
      expect(shardOf(kind, id, 65_536), `${kind} ${id}`).toBe(of65536);
      expect(shardOf(kind, id, 16), `${kind} ${id}`).toBe(of16);
    }
  });
});

describe("shard assignment", () => {
  it("puts every order in the shard of each meeting and account it names, and in no other", async () => {
    await fc.assert(
      fc.asyncProperty(rulesetArb, fc.constantFrom(1, 2, 4, 8, 16), async (ruleset, minShards) => {
        const p = await published(ruleset, minShards);
        const count = p.manifest.shards.length;
        const inShard = p.texts.map((t) =>
          t === null
            ? new Set<string>()
            : new Set((JSON.parse(t).orders as { id: string }[]).map((o) => o.id)),
        );
        for (const order of ruleset.orders) {
          const expected = new Set([
            ...order.meetingIds.map((id) => shardOf("meeting", id, count)),
            ...order.accountIds.map((id) => shardOf("account", id, count)),
          ]);
          expect(new Set(shardsOfOrder(order, count))).toEqual(expected);
          for (let i = 0; i < count; i++) expect(inShard[i]?.has(order.id)).toBe(expected.has(i));
        }
        expect(p.manifest).toMatchObject({ version: 7, hash: ruleset.hash, orders: ruleset.orders.length });
      }),
      { numRuns: 60 },
    );
  });

  it("keeps an id's shard among the carried-over ones when the shard count changes", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 20 }),
        fc.constantFrom(1, 2, 8, 64),
        fc.constantFrom(1, 4, 16, 128),
        (ids, from, to) => {
          const loaded = ids.map((id) => shardOf("meeting", id, from));
          const carried = new Set(carryOver(loaded, from, to));
          for (const id of ids) expect(carried.has(shardOf("meeting", id, to))).toBe(true);
        },
      ),
    );
  });

  it("spreads ids evenly: 10,000 meetings over 16 shards put none above 1.2 times its share", () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const shard = shardOf("meeting", `8${String(i).padStart(10, "0")}`, 16);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    expect(Math.max(...counts)).toBeLessThan((10_000 / 16) * 1.2);
  });
});

describe("a check on the shards it needs", () => {
  it("gets the verdict the whole ruleset gives, for random rulesets and checks", async () => {
    await fc.assert(
      fc.asyncProperty(
        rulesetArb,
        fc.constantFrom(1, 2, 4, 16),
        fc.array(checkArb, { minLength: 1, maxLength: 8 }),
        async (ruleset, minShards, checks) => {
          const p = await published(ruleset, minShards);
          for (const { now, ...facts } of checks) {
            const view = await viewFor(p, facts);
            expect(decide(view, facts, now)).toEqual(decide(ruleset, facts, now));
            expect(view.version).toBe(ruleset.version);
            expect(view.hash).toBe(ruleset.hash);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it("fails, rather than answer no order, for a meeting or account whose shard is not loaded", async () => {
    const p = await published(rulesetVersion(6), 8);
    const view = new ShardedRuleset(p.manifest);
    const loadedShard = p.manifest.shards.findIndex((e) => e !== null);
    const other = MEETINGS.concat(["m-1", "m-2", "m-3", "m-4", "m-5", "m-6"]).find(
      (id) =>
        p.manifest.shards[shardOf("meeting", id, 8)] !== null && shardOf("meeting", id, 8) !== loadedShard,
    ) as string;
    view.add(await verifyShard(p.texts[loadedShard] as string, p.manifest, loadedShard));
    expect(() => decide(view, { meetingId: other, location: MUMBAI }, NOON)).toThrow(ShardNotLoadedError);
  });
});

describe("verifying a shard against the signed manifest", () => {
  const reason = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (err) {
      if (err instanceof RulesetRejectedError) return `${err.reason}: ${err.message}`;
      throw err;
    }
    return "accepted";
  };

  it("refuses a shard with one byte changed", async () => {
    const p = await published(rulesetVersion(3), 1);
    const text = p.texts[0] as string;
    const tampered = text.replace('"IN-MH"', '"IN-DL"');
    expect(await reason(verifyShard(tampered, p.manifest, 0))).toMatch(/^bad-shard: shard 0 of v3: SHA-256/);
    expect(await reason(verifyShard(text, p.manifest, 0))).toBe("accepted");
  });

  it("refuses the same shard of another version", async () => {
    const v3 = await published(rulesetVersion(3), 1);
    const v4 = await published(rulesetVersion(4), 1);
    expect(await reason(verifyShard(v3.texts[0] as string, v4.manifest, 0))).toMatch(
      /^bad-shard: shard 0 of v4/,
    );
  });

  it("refuses a signer's shard that holds an order naming nothing in it, or blocking outside its authority", async () => {
    const p = await published(rulesetVersion(3), 1);
    const doc = JSON.parse(p.texts[0] as string);
    /** The manifest naming `text` as its only shard, as a signer with a bug would write it. */
    const naming = async (text: string): Promise<RulesetManifest> => ({
      ...p.manifest,
      shards: [{ sha256: await sha256Hex(text), bytes: text.length, orders: 1 }],
    });
    const stray = JSON.stringify({ ...doc, orders: [{ ...doc.orders[0], meetingIds: [] }] });
    expect(await reason(verifyShard(stray, await naming(stray), 0))).toMatch(
      /order o-1 names nothing in this shard/,
    );
    const outside = JSON.stringify({ ...doc, orders: [{ ...doc.orders[0], jurisdictions: ["FR"] }] });
    expect(await reason(verifyShard(outside, await naming(outside), 0))).toMatch(
      /order o-1 blocks outside its authority: FR/,
    );
    const elsewhere = JSON.stringify({ ...doc, index: 1 });
    expect(await reason(verifyShard(elsewhere, await naming(elsewhere), 0))).toMatch(/holds shard 1 of 1/);
  });
});
