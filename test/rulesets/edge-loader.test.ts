/**
 * The edge's last good ruleset: a tampered or older value in KV is refused and the one in force keeps
 * being enforced (the acceptance test for signed rulesets), KV failing or empty changes nothing, and KV
 * is read at most once per refresh interval. The manager is the real one, and checks go through the real
 * `decide`, so "still enforced" means a participant is still denied.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile, decide, type Ruleset } from "../../src/engine/index.js";
import { EdgeRulesets, ShardUnavailableError } from "../../src/rulesets/edge-loader.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import {
  RULESET_MANIFEST_KV_KEY,
  RULESET_SHARD_KV_PREFIX,
  type RulesetManifest,
  ShardedRuleset,
  shardKey,
  shardOf,
  shardRuleset,
  signManifest,
} from "../../src/rulesets/sharded.js";
import {
  RULESET_KV_KEY,
  type SigningKey,
  signRuleset,
  type VerifyingKey,
} from "../../src/rulesets/signed.js";
import { iso, NOON as T0 } from "../support/fixtures.js";
import { rawLogger } from "../support/logs.js";
import { approved, forMeeting, MUMBAI, newSigningKey, rulesetVersion } from "../support/rulesets.js";

let key: SigningKey;
/** Another key under the same id: what it signs must not verify. */
let other: SigningKey;
let trusted: VerifyingKey[];

beforeAll(async () => {
  ({ key, trusted } = await newSigningKey("k1"));
  ({ key: other } = await newSigningKey("k1"));
});

/**
 * An edge isolate: KV is a variable the test sets (the single-value format; no manifest), the clock a
 * number it moves. `reads` counts refreshes that read KV (each starts with the manifest).
 */
function isolate(refreshMs = 10_000) {
  const kv: { value: string | null | Error; reads: number; hold?: Promise<void> } = { value: null, reads: 0 };
  const clock = { now: T0 };
  const { logger, lines: logs } = rawLogger();
  // The Worker has no order store: its holder only ever receives rulesets.
  const manager = new RulesetHolder(() => clock.now);
  const edge = new EdgeRulesets({
    publicKeys: trusted,
    manager,
    clock: () => clock.now,
    refreshMs,
    logger,
    read: async (k) => {
      if (k === RULESET_MANIFEST_KV_KEY) kv.reads++;
      await kv.hold;
      if (kv.value instanceof Error) throw kv.value;
      return k === RULESET_KV_KEY ? kv.value : null;
    },
  });
  /** Moves past the refresh interval and refreshes. */
  const later = async () => {
    clock.now += refreshMs;
    await edge.ensureFresh();
  };
  const denies = (meetingId: string) =>
    decide(manager.current(), { meetingId, location: MUMBAI }, clock.now).decision === "deny";
  return { kv, clock, manager, edge, logs, later, denies };
}

/** An isolate enforcing v2 from KV. */
async function enforcingV2() {
  const e = isolate();
  e.kv.value = await signRuleset(rulesetVersion(2), key);
  await e.edge.ensureFresh();
  expect(e.edge.status()).toMatchObject({ version: 2, loadedAt: iso(T0) });
  expect(e.manager.installed?.source).toBe("kv");
  expect(e.denies("m-2")).toBe(true);
  return e;
}

describe("loading", () => {
  it("has nothing in force until the first read, then enforces the verified ruleset", async () => {
    const e = isolate();
    expect(e.edge.status()).toEqual({ version: null, hash: null, loadedAt: null, checkedAt: null });
    expect(e.edge.readiness()).toMatchObject({ name: "edge-ruleset", ready: false });
    e.kv.value = await signRuleset(rulesetVersion(2), key);
    await e.edge.ensureFresh();
    expect(e.edge.status()).toEqual({
      version: 2,
      hash: rulesetVersion(2).hash,
      loadedAt: iso(T0),
      checkedAt: iso(T0),
    });
    expect(e.edge.readiness()).toMatchObject({ ready: true, degraded: false });
    expect(e.denies("m-2")).toBe(true);
    expect(e.denies("m-3")).toBe(false);
  });

  it("installs a newer signed ruleset once the interval has passed", async () => {
    const e = await enforcingV2();
    e.kv.value = await signRuleset(rulesetVersion(3), key);
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 3, loadedAt: iso(T0 + 10_000) });
    expect(e.denies("m-3")).toBe(true);
  });
});

describe("refusing what KV holds, keeping the ruleset in force", () => {
  it("keeps enforcing v2 when KV holds a v3 with one byte changed, and says why", async () => {
    const e = await enforcingV2();
    const v3 = await signRuleset(rulesetVersion(3), key);
    // "m-3" becomes "m-4" inside the signed payload: the edit an attacker with KV access would make.
    const tampered = v3.replace('\\"m-3\\"', '\\"m-4\\"');
    expect(tampered).not.toBe(v3);
    e.kv.value = tampered;
    await e.later();
    expect(e.edge.status()).toMatchObject({
      version: 2,
      loadedAt: iso(T0),
      lastRejected: { code: "bad-signature", at: iso(T0 + 10_000) },
    });
    expect(e.edge.status().lastRejected?.reason).toMatch(/does not verify under key k1/);
    expect(e.denies("m-2")).toBe(true);
    expect(e.denies("m-4")).toBe(false);
    expect(e.edge.readiness()).toMatchObject({ ready: true, degraded: true });
    expect(e.logs.filter((l) => l.level === "error")).toHaveLength(1);

    // The same tampered value on later reads: still refused, not logged again.
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 2, lastRejected: { code: "bad-signature" } });
    expect(e.logs.filter((l) => l.level === "error")).toHaveLength(1);

    // Once the Node side publishes again, the edge moves on and the refusal is history.
    e.kv.value = await signRuleset(rulesetVersion(3), key);
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 3 });
    expect(e.edge.status().lastRejected).toBeUndefined();
  });

  it("keeps enforcing v2 when KV holds a valid v3 signed by another key", async () => {
    const e = await enforcingV2();
    e.kv.value = await signRuleset(rulesetVersion(3), other);
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 2, lastRejected: { code: "bad-signature" } });
    expect(e.denies("m-2")).toBe(true);
    expect(e.denies("m-3")).toBe(false);
  });

  it("refuses an older v1, validly signed, and keeps v2", async () => {
    const e = await enforcingV2();
    e.kv.value = await signRuleset(rulesetVersion(1), key);
    await e.later();
    expect(e.edge.status()).toMatchObject({
      version: 2,
      lastRejected: { code: "older-version", version: 1, reason: "KV holds v1, older than v2 in force" },
    });
    expect(e.denies("m-2")).toBe(true);
  });

  it("takes a later ruleset of a new order history (epoch) though its version is lower, and refuses an earlier one", async () => {
    const e = await enforcingV2();
    // A Redis re-seeded into a new history: versions start again, compiled later than what is in force.
    const reseeded = compile([approved("o-7", forMeeting("m-7"))], {
      version: 1,
      epoch: "e-new",
      compiledAt: iso(T0 + 60_000),
    });
    e.kv.value = await signRuleset(reseeded, key);
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 1 });
    expect(e.edge.status().lastRejected).toBeUndefined();
    expect(e.denies("m-7")).toBe(true);
    expect(e.denies("m-2")).toBe(false);
    expect(JSON.stringify(e.logs)).toContain("another order history");
    // A replay of the old history's value (signed, but compiled before the one in force) is refused.
    e.kv.value = await signRuleset(rulesetVersion(3), key);
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 1, lastRejected: { code: "older-epoch", version: 3 } });
    expect(e.denies("m-7")).toBe(true);
  });

  it("takes the same version again as the steady state, not as a refusal", async () => {
    const e = await enforcingV2();
    // Re-signed (another compile time, same orders): what a restart of the Node side publishes.
    const again = compile([approved("o-1", forMeeting("m-1")), approved("o-2", forMeeting("m-2"))], {
      version: 2,
      compiledAt: iso(T0 + 99),
    });
    e.kv.value = await signRuleset(again, key);
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 2, loadedAt: iso(T0), checkedAt: iso(T0 + 10_000) });
    expect(e.edge.status().lastRejected).toBeUndefined();
    expect(e.manager.current().compiledAt).toBe(iso(T0 + 2));
  });

  it("refuses the same version with other orders, keeping the one in force", async () => {
    const e = await enforcingV2();
    const conflicting = compile([approved("o-9", forMeeting("m-9"))], { version: 2, compiledAt: iso(T0) });
    e.kv.value = await signRuleset(conflicting, key);
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 2, lastRejected: { code: "conflicting-version" } });
    expect(e.denies("m-2")).toBe(true);
    expect(e.denies("m-9")).toBe(false);
  });

  it("keeps v2 when KV answers nothing, and when reading it fails", async () => {
    const e = await enforcingV2();
    e.kv.value = null;
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 2, lastError: "KV holds no ruleset" });
    e.kv.value = new Error("KV GET failed: 503");
    await e.later();
    expect(e.edge.status()).toMatchObject({ version: 2, lastError: "KV read failed: KV GET failed: 503" });
    expect(e.denies("m-2")).toBe(true);
    expect(e.edge.readiness()).toMatchObject({ ready: true, degraded: true });

    e.kv.value = await signRuleset(rulesetVersion(2), key);
    await e.later();
    expect(e.edge.status().lastError).toBeUndefined();
  });

  it("stays unready, and reads again on the next request, while a new isolate finds nothing usable", async () => {
    const e = isolate();
    e.kv.value = await signRuleset(rulesetVersion(2), other);
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: null, lastRejected: { code: "bad-signature" } });
    expect(e.manager.isLoaded()).toBe(false);
    e.kv.value = new Error("KV down");
    await e.edge.ensureFresh();
    expect(e.kv.reads).toBe(2);
    e.kv.value = await signRuleset(rulesetVersion(2), key);
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: 2 });
  });
});

describe("refresh interval", () => {
  it("does not read KV again within refreshMs, and does after it", async () => {
    const e = await enforcingV2();
    expect(e.kv.reads).toBe(1);
    e.kv.value = await signRuleset(rulesetVersion(3), key);
    e.clock.now = T0 + 9_999;
    await e.edge.ensureFresh();
    expect(e.kv.reads).toBe(1);
    expect(e.edge.status().version).toBe(2);
    e.clock.now = T0 + 10_000;
    await e.edge.ensureFresh();
    expect(e.kv.reads).toBe(2);
    expect(e.edge.status().version).toBe(3);
  });

  it("shares one read among concurrent requests", async () => {
    const e = isolate();
    e.kv.value = await signRuleset(rulesetVersion(2), key);
    await Promise.all(Array.from({ length: 20 }, () => e.edge.ensureFresh()));
    expect(e.kv.reads).toBe(1);
  });

  it("makes the first request wait for a ruleset, and later ones refresh in the background", async () => {
    const e = isolate();
    e.kv.value = await signRuleset(rulesetVersion(2), key);
    const background: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => background.push(p);
    await e.edge.beforeRequest(waitUntil);
    expect(background).toHaveLength(0);
    expect(e.edge.status().version).toBe(2);

    e.kv.value = await signRuleset(rulesetVersion(3), key);
    let release = () => {};
    e.kv.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    e.clock.now += 10_000;
    await e.edge.beforeRequest(waitUntil);
    // Answered from v2 while KV is still being read: the read runs under waitUntil.
    expect(e.edge.status().version).toBe(2);
    expect(background).toHaveLength(1);
    release();
    await Promise.all(background);
    expect(e.edge.status().version).toBe(3);
  });
});

/**
 * An edge isolate on the sharded format: KV is a map of keys to values, every read is logged, and reads
 * of a key can be held back (a shard that has not reached this location yet, or a slow read).
 */
function shardedIsolate() {
  const values = new Map<string, string>();
  const reads: string[] = [];
  const held = new Map<string, Promise<void>>();
  const clock = { now: T0 };
  const manager = new RulesetHolder(() => clock.now);
  const edge = new EdgeRulesets({
    publicKeys: trusted,
    manager,
    clock: () => clock.now,
    refreshMs: 0,
    read: async (k) => {
      reads.push(k);
      await held.get(k);
      return values.get(k) ?? null;
    },
  });
  /** Writes a ruleset as the publisher does (shards, then the manifest); `shards: false` leaves them out. */
  const publish = async (ruleset: Ruleset, opts: { minShards?: number; shards?: boolean } = {}) => {
    const split = await shardRuleset(ruleset, { maxShardBytes: 1024 * 1024, minShards: opts.minShards ?? 8 });
    const manifest: RulesetManifest = { ...split.manifest, retired: [] };
    if (opts.shards !== false) for (const s of split.shards) if (s) values.set(shardKey(s.sha256), s.text);
    values.set(RULESET_MANIFEST_KV_KEY, await signManifest(manifest, key));
    return { manifest, shards: split.shards };
  };
  /**
   * A check of `meetingId` as the Worker runs it: its shards first, then the app, which may wait for
   * `parsing` (the body) before it takes the ruleset in force and decides.
   */
  const check = (meetingId: string, parsing?: Promise<void>) =>
    edge.withShards({ meetingIds: [meetingId], accountIds: [] }, async () => {
      await parsing;
      const ruleset = manager.current();
      return {
        version: ruleset.version,
        deny: decide(ruleset, { meetingId, location: MUMBAI }, clock.now).decision === "deny",
      };
    });
  const shardReads = () => reads.filter((k) => k.startsWith(RULESET_SHARD_KV_PREFIX));
  return { values, reads, held, manager, edge, publish, check, shardReads };
}

const shardIndexOf = (meetingId: string, count = 8) => shardOf("meeting", meetingId, count);

describe("the sharded format", () => {
  it("reads the manifest, then for a check only the shard of its meeting, once", async () => {
    const e = shardedIsolate();
    await e.publish(rulesetVersion(6));
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: 2 + 4, shards: { count: 8, loaded: 0 } });
    expect(e.shardReads()).toHaveLength(0);
    expect(await e.check("m-3")).toEqual({ version: 6, deny: true });
    expect(e.shardReads()).toHaveLength(1);
    expect(await e.check("m-3")).toEqual({ version: 6, deny: true });
    expect(e.shardReads()).toHaveLength(1);
    expect(e.edge.status().shards).toEqual({ count: 8, loaded: 1 });
    // A meeting no order names, in a shard with no orders, needs no read at all.
    const empty = ["x-1", "x-2", "x-3", "x-4", "x-5", "x-6", "x-7", "x-8", "x-9"].find(
      (id) =>
        e.manager.current() instanceof ShardedRuleset &&
        !(e.manager.current() as ShardedRuleset).manifest.shards[shardIndexOf(id)],
    );
    if (empty) {
      expect(await e.check(empty)).toEqual({ version: 6, deny: false });
      expect(e.shardReads()).toHaveLength(1);
    }
  });

  it("keeps v2 while KV shows v3's manifest before its shards, and takes v3 once they are there", async () => {
    const e = shardedIsolate();
    // One shard: v3's differs from v2's (an unchanged shard keeps its key and would be there already).
    await e.publish(rulesetVersion(2), { minShards: 1 });
    await e.edge.ensureFresh();
    expect(await e.check("m-2")).toEqual({ version: 2, deny: true });
    const v3 = await e.publish(rulesetVersion(3), { minShards: 1, shards: false });
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({
      version: 2,
      lastError: expect.stringMatching(
        /^v3 not installed, keeping the version in force: KV holds no shard \d of v3/,
      ),
    });
    expect(await e.check("m-2")).toEqual({ version: 2, deny: true });
    for (const s of v3.shards) if (s) e.values.set(shardKey(s.sha256), s.text);
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: 3, shards: { count: 1, loaded: 1 } });
    expect(e.edge.status().lastError).toBeUndefined();
    expect(await e.check("m-3")).toEqual({ version: 3, deny: true });
  });

  it("keeps v2 when a shard of v3 is tampered with, or is v2's under v3's key, and says why", async () => {
    const e = shardedIsolate();
    const v2 = await e.publish(rulesetVersion(2), { minShards: 1 });
    await e.edge.ensureFresh();
    expect(await e.check("m-1")).toEqual({ version: 2, deny: true });
    const v3 = await e.publish(rulesetVersion(3), { minShards: 1 });
    const key3 = shardKey(v3.shards[0]?.sha256 as string);
    e.values.set(key3, (e.values.get(key3) as string).replace('"IN-MH"', '"IN-DL"'));
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: 2, lastRejected: { code: "bad-shard", version: 3 } });
    expect(await e.check("m-1")).toEqual({ version: 2, deny: true });
    e.values.set(key3, v2.shards[0]?.text as string);
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({
      version: 2,
      lastRejected: { code: "bad-shard", reason: expect.stringContaining("SHA-256") },
    });
    e.values.set(key3, v3.shards[0]?.text as string);
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: 3 });
    expect(e.edge.status().lastRejected).toBeUndefined();
  });

  it("refuses an older manifest, validly signed, and keeps what is in force", async () => {
    const e = shardedIsolate();
    const old = await e.publish(rulesetVersion(1));
    const oldText = e.values.get(RULESET_MANIFEST_KV_KEY) as string;
    await e.publish(rulesetVersion(2));
    await e.edge.ensureFresh();
    e.values.set(RULESET_MANIFEST_KV_KEY, oldText);
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({
      version: 2,
      lastRejected: { code: "older-version", version: 1 },
    });
    expect(old.manifest.version).toBe(1);
  });

  it("answers no check whose shard cannot be read, and enforces the rest", async () => {
    const e = shardedIsolate();
    const v6 = await e.publish(rulesetVersion(6));
    await e.edge.ensureFresh();
    const gone = v6.shards[shardIndexOf("m-4")];
    e.values.delete(shardKey(gone?.sha256 as string));
    await expect(e.check("m-4")).rejects.toThrow(ShardUnavailableError);
    expect(e.edge.status().lastError).toMatch(/KV holds no shard \d of v6/);
    const elsewhere = ["m-1", "m-2", "m-3", "m-5", "m-6"].find(
      (m) => shardIndexOf(m) !== shardIndexOf("m-4"),
    );
    expect(await e.check(elsewhere as string)).toEqual({ version: 6, deny: true });
  });

  it("carries the shards it holds over to a new manifest, also when the shard count grows", async () => {
    const e = shardedIsolate();
    await e.publish(rulesetVersion(6), { minShards: 2 });
    await e.edge.ensureFresh();
    await e.check("m-1");
    await e.check("m-5");
    await e.publish(rulesetVersion(7), { minShards: 8 });
    await e.edge.ensureFresh();
    const before = e.shardReads().length;
    expect(await e.check("m-1")).toEqual({ version: 7, deny: true });
    expect(await e.check("m-5")).toEqual({ version: 7, deny: true });
    // Read while the manifest was taken, not by the checks.
    expect(e.shardReads()).toHaveLength(before);
  });

  it("decides a check in flight during a manifest switch on one version, with its shard", async () => {
    const e = shardedIsolate();
    // Two shards: m-1 in shard 1; m-7 in shard 0 with m-2, m-3 and m-5, which o-7 joins in v7.
    expect([shardOf("meeting", "m-1", 2), shardOf("meeting", "m-7", 2)]).toEqual([1, 0]);
    const v6 = await e.publish(rulesetVersion(6), { minShards: 2 });
    await e.edge.ensureFresh();
    await e.check("m-1");
    // The check's read of v6's shard 0 is slow; v7 is published and taken meanwhile.
    let release = () => {};
    e.held.set(
      shardKey(v6.shards[0]?.sha256 as string),
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const inFlight = e.check("m-7");
    await new Promise((r) => setTimeout(r, 5));
    const v7 = await e.publish(rulesetVersion(7), { minShards: 2 });
    await e.edge.ensureFresh();
    // v7 was taken with the in-flight check's shard (pinned) as well as the one held before.
    expect(e.edge.status()).toMatchObject({ version: 7, shards: { count: 2, loaded: 2 } });
    expect(e.shardReads()).toContain(shardKey(v7.shards[0]?.sha256 as string));
    release();
    // Decided on v7 and v7's shard (o-7 blocks m-7), never on v6's shard under v7.
    expect(await inFlight).toEqual({ version: 7, deny: true });
  });

  it("takes a manifest while the app is answering a check only with that check's shard", async () => {
    const e = shardedIsolate();
    await e.publish(rulesetVersion(6), { minShards: 2 });
    await e.edge.ensureFresh();
    await e.check("m-1");
    let parsed = () => {};
    const inFlight = e.check(
      "m-7",
      new Promise<void>((r) => {
        parsed = r;
      }),
    );
    await new Promise((r) => setTimeout(r, 5));
    // The check holds v6's shard 0 and is in the app when v7 is taken: v7 must hold shard 0 too.
    await e.publish(rulesetVersion(7), { minShards: 2 });
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: 7, shards: { loaded: 2 } });
    parsed();
    expect(await inFlight).toEqual({ version: 7, deny: true });
  });

  it("reads the single value while KV holds no manifest, and moves on to a newer manifest", async () => {
    const e = shardedIsolate();
    e.values.set(RULESET_KV_KEY, await signRuleset(rulesetVersion(2), key));
    await e.edge.ensureFresh();
    expect(e.edge.status()).toMatchObject({ version: 2 });
    expect(e.edge.status().shards).toBeUndefined();
    expect(await e.check("m-2")).toEqual({ version: 2, deny: true });
    // It holds every order: checks need no shard (and no look at their body).
    expect(e.edge.needsShards()).toBe(false);
    // The publisher's migration: the manifest, then the single value deleted. The manifest is taken
    // with every shard, as the single value held every order.
    const v3 = await e.publish(rulesetVersion(3));
    e.values.delete(RULESET_KV_KEY);
    await e.edge.ensureFresh();
    const nonEmpty = v3.manifest.shards.filter(Boolean).length;
    expect(e.edge.status()).toMatchObject({ version: 3, shards: { count: 8, loaded: nonEmpty } });
    expect(e.edge.needsShards()).toBe(false);
    const reads = e.shardReads().length;
    expect(await e.check("m-3")).toEqual({ version: 3, deny: true });
    expect(e.shardReads()).toHaveLength(reads);
  });
});
