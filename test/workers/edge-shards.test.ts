/**
 * The sharded ruleset in workerd: the Worker reads the manifest and, per check, only the shards of the
 * meetings and accounts it names (a check, a batch, a re-check, a join ticket); it answers 503 until a
 * verified manifest is loaded, and for a check whose shard cannot be read; and it still reads the single
 * value of earlier releases, moving on to a manifest once one is published.
 */
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { afterEach, describe, expect, it } from "vitest";
import { compile, createOrder, OrderInput, transition } from "../../src/engine/index.js";
import {
  RULESET_MANIFEST_KV_KEY,
  RULESET_SHARD_KV_PREFIX,
  type RulesetManifest,
  shardKey,
  shardOf,
  shardRuleset,
  signManifest,
} from "../../src/rulesets/sharded.js";
import { loadSigningKey } from "../../src/rulesets/signed.js";
import { orderInput, PLACES } from "../support/fixtures.js";
import { RULESET_KEY_ID } from "./constants.js";
import { type EdgeTarget, type EdgeTargetOptions, openEdgeTarget } from "./edge-target.js";

let t: EdgeTarget | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});
const open = async (options?: EdgeTargetOptions) => {
  t = await openEdgeTarget(options);
  return t;
};

/** Meetings spread over eight shards: the first two of different shards. */
const MEETINGS = Array.from({ length: 16 }, (_, i) => `8100000000${i}`);
const [A, B] = (() => {
  const a = MEETINGS[0] as string;
  const b = MEETINGS.find((m) => shardOf("meeting", m, 8) !== shardOf("meeting", a, 8)) as string;
  return [a, b];
})();

const check = (edge: EdgeTarget, meetingId: string) =>
  edge.call("POST", "/v1/check", { as: "checker", body: { meetingId, ip: PLACES.mumbai.ip } });

/** Shard reads since `from`. */
const shardReads = (edge: EdgeTarget, from = 0) =>
  edge.kvReads.slice(from).filter((k) => k.startsWith(RULESET_SHARD_KV_PREFIX));

async function manifestOf(edge: EdgeTarget): Promise<RulesetManifest> {
  return JSON.parse(JSON.parse((await edge.value(RULESET_MANIFEST_KV_KEY)) as string).payload);
}

describe("a sharded ruleset", () => {
  it("reads the manifest, and for a check only the shard of its meeting", async () => {
    const edge = await open({ shards: 8 });
    await edge.approvedOrder({ target: { kind: "meeting", meetingIds: MEETINGS } });
    const manifest = await manifestOf(edge);
    expect(manifest.shards.filter(Boolean).length).toBeGreaterThan(1);

    const before = edge.kvReads.length;
    expect((await check(edge, A)).body).toMatchObject({ code: "BLOCKED", rulesetVersion: 2 });
    expect(shardReads(edge, before)).toEqual([
      shardKey(manifest.shards[shardOf("meeting", A, 8)]?.sha256 ?? ""),
    ]);
    // Held for the isolate's life: the same meeting again reads no shard.
    const again = edge.kvReads.length;
    expect((await check(edge, A)).body).toMatchObject({ code: "BLOCKED" });
    expect(shardReads(edge, again)).toEqual([]);

    const other = edge.kvReads.length;
    expect((await check(edge, B)).body).toMatchObject({ code: "BLOCKED" });
    expect(shardReads(edge, other)).toHaveLength(1);
    const ready = await edge.call("GET", "/readyz", { as: "checker" });
    expect(ready.body.checks[0].detail).toMatchObject({ version: 2, shards: { count: 8, loaded: 2 } });
    // The summary counts every order, so it reads every shard.
    const summary = await edge.call("GET", "/v1/ruleset", { as: "auditor" });
    expect(summary.body).toMatchObject({
      version: 2,
      hash: manifest.hash,
      orders: 1,
      meetings: MEETINGS.length,
    });
    const all = await edge.call("GET", "/readyz", { as: "checker" });
    const nonEmpty = manifest.shards.filter(Boolean).length;
    expect(all.body.checks[0].detail).toMatchObject({ shards: { count: 8, loaded: nonEmpty } });
  });

  it("reads the shards of a batch's meetings, a re-check's meeting and a join ticket's meeting", async () => {
    const edge = await open({ shards: 8 });
    await edge.approvedOrder({ target: { kind: "meeting", meetingIds: MEETINGS } });
    const batch = await edge.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: MEETINGS.map((meetingId) => ({ meetingId, ip: PLACES.mumbai.ip })) },
    });
    expect(batch.body.results.map((r: { code: string }) => r.code)).toEqual(MEETINGS.map(() => "BLOCKED"));

    const fresh = await openEdgeTarget({ shards: 8 });
    try {
      await fresh.approvedOrder({ target: { kind: "meeting", meetingIds: MEETINGS } });
      const recheck = await fresh.call("POST", `/v1/meetings/${A}/recheck`, {
        as: "checker",
        body: { participants: [{ participantId: "p1", ip: PLACES.mumbai.ip }] },
      });
      expect(recheck.body).toMatchObject({ remove: ["p1"] });
      const now = Math.floor(Date.now() / 1000);
      const ticket = await sign({ meeting: B, iat: now, exp: now + 300 }, env.CORDON_TICKET_KEY, "HS256");
      const self = await fresh.call("POST", "/v1/check/self", {
        body: { ticket },
        cf: { country: "IN", regionCode: "MH" },
      });
      expect(self.body).toMatchObject({ code: "BLOCKED" });
      expect(shardReads(fresh)).toHaveLength(2);
    } finally {
      await fresh.close();
    }
  });

  it("reads the shard of a check's account", async () => {
    const edge = await open({ shards: 8 });
    await edge.approvedOrder({ target: { kind: "account", accountIds: ["acct_blocked"] } });
    const res = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: A, accountId: "acct_blocked", ip: PLACES.mumbai.ip },
    });
    expect(res.body).toMatchObject({ code: "BLOCKED" });
  });

  it("answers 503 until a verified manifest is loaded", async () => {
    const edge = await open({ noRuleset: true, shards: 8 });
    const res = await check(edge, A);
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: "UNAVAILABLE" });
    await edge.setValue(
      RULESET_MANIFEST_KV_KEY,
      JSON.stringify({ v: 1, keyId: RULESET_KEY_ID, payload: "{}", signature: "AAAA" }),
    );
    expect((await check(edge, A)).status).toBe(503);
    expect(await edge.records()).toHaveLength(0);
    await edge.approvedOrder({ target: { kind: "meeting", meetingIds: [A] } });
    expect((await check(edge, A)).body).toMatchObject({ code: "BLOCKED", rulesetVersion: 2 });
  });

  it("answers 503 for a check whose shard is gone or tampered with, and answers the others", async () => {
    const edge = await open({ shards: 8 });
    await edge.approvedOrder({ target: { kind: "meeting", meetingIds: MEETINGS } });
    const manifest = await manifestOf(edge);
    const keyOfA = shardKey(manifest.shards[shardOf("meeting", A, 8)]?.sha256 ?? "");
    const text = (await edge.value(keyOfA)) as string;
    await edge.setValue(keyOfA, text.replace('"IN-MH"', '"IN-GJ"'));
    const res = await check(edge, A);
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: "UNAVAILABLE" });
    expect(await edge.records()).toHaveLength(0);
    expect((await check(edge, B)).body).toMatchObject({ code: "BLOCKED" });
    await edge.setValue(keyOfA, null);
    expect((await check(edge, A)).status).toBe(503);
    await edge.setValue(keyOfA, text);
    expect((await check(edge, A)).body).toMatchObject({ code: "BLOCKED" });
  });
});

describe("the single value of earlier releases", () => {
  it("is still read while KV holds no manifest, and a newer manifest replaces it", async () => {
    const edge = await open();
    await edge.approvedOrder({ target: { kind: "meeting", meetingIds: [A] } });
    expect((await check(edge, A)).body).toMatchObject({ code: "BLOCKED", rulesetVersion: 2 });
    expect(edge.kvReads).toContain("ruleset/current");

    // The publisher's migration: v3 (another order for B) as a manifest and shards.
    const at = new Date(Date.now()).toISOString();
    const order = (id: string, meetingId: string) =>
      transition(
        createOrder(OrderInput.parse(orderInput({ target: { kind: "meeting", meetingIds: [meetingId] } })), {
          id,
          actor: "responder",
          at,
        }),
        { type: "approve" },
        "approver",
        at,
      );
    const v3 = compile([order("ord_a", A), order("ord_b", B)], { version: 3, compiledAt: at });
    const split = await shardRuleset(v3, { maxShardBytes: 1024 * 1024, minShards: 8 });
    for (const s of split.shards) if (s) await edge.setValue(shardKey(s.sha256), s.text);
    const signing = await loadSigningKey(env.TEST_RULESET_SIGNING_KEY, RULESET_KEY_ID);
    await edge.setValue(
      RULESET_MANIFEST_KV_KEY,
      await signManifest({ ...split.manifest, retired: [] }, signing),
    );
    await edge.setValue("ruleset/current", null);
    await edge.call("GET", "/readyz");
    expect((await check(edge, B)).body).toMatchObject({ code: "BLOCKED", rulesetVersion: 3 });
    expect((await check(edge, A)).body).toMatchObject({ code: "BLOCKED", rulesetVersion: 3 });
  });
});
