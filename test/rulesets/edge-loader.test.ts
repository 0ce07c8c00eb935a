/**
 * The edge's last good ruleset: a tampered or older value in KV is refused and the one in force keeps
 * being enforced (the acceptance test for signed rulesets), KV failing or empty changes nothing, and KV
 * is read at most once per refresh interval. The manager is the real one, and checks go through the real
 * `decide`, so "still enforced" means a participant is still denied.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile, decide } from "../../src/engine/index.js";
import { EdgeRulesets } from "../../src/rulesets/edge-loader.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { RULESET_MANIFEST_KV_KEY } from "../../src/rulesets/sharded.js";
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
