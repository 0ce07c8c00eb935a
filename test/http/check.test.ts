/** POST /v1/check and /v1/check/batch: the meeting-join flow's answers, each logged (I4, I5, I6). */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PLACES } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, T0 } from "../support/harness.js";

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(() => h.close());

const check = (body: unknown, headers?: Record<string, string>) =>
  h.call("POST", "/v1/check", { as: "checker", body, ...(headers ? { headers } : {}) });

describe("POST /v1/check", () => {
  it("allows with NO_ORDER when no order names the meeting", async () => {
    const res = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ decision: "allow", code: "NO_ORDER", orderIds: [], rulesetVersion: 0 });
    expect(res.body.geo).toEqual({ country: "IN", subdivision: "IN-MH" });
    expect(res.body.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.notice).toBeUndefined();
  });

  it("denies a participant located in the blocked region, with a 200 and a notice", async () => {
    const order = await approvedOrder(h);
    const res = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      decision: "deny",
      code: "BLOCKED",
      orderIds: [order.id],
      jurisdiction: "IN-MH",
    });
    expect(res.body.notice).toMatch(/India/);
    expect(res.body.notice).toMatch(/legal order/);
    expect(res.body.notice).not.toContain(order.reference);
  });

  it("writes the notice in Dutch when the join flow asks for it", async () => {
    await approvedOrder(h, { jurisdictions: ["IN"] });
    const res = await check(
      { meetingId: "81234567890", ip: PLACES.mumbai.ip },
      { "accept-language": "nl-NL,nl;q=0.9,en;q=0.5" },
    );
    expect(res.body.notice).toMatch(/U kunt vanuit India niet/);
    expect(res.body.notice).toMatch(/wettelijk bevel/);
  });

  it("allows a participant in another region of the same country (OUTSIDE_JURISDICTION)", async () => {
    const order = await approvedOrder(h);
    const res = await check({ meetingId: "81234567890", ip: PLACES.bengaluru.ip });
    expect(res.body).toMatchObject({ decision: "allow", code: "OUTSIDE_JURISDICTION", orderIds: [order.id] });
  });

  it("allows a participant in another country, whatever the meeting", async () => {
    await approvedOrder(h);
    const res = await check({ meetingId: "81234567890", ip: PLACES.amsterdam.ip });
    expect(res.body).toMatchObject({ decision: "allow", code: "OUTSIDE_JURISDICTION" });
  });

  it("fails open with GEO_UNKNOWN for private addresses and addresses not in the database (I2)", async () => {
    await approvedOrder(h, { jurisdictions: ["IN"] });
    for (const ip of [PLACES.privateLan.ip, PLACES.nowhere.ip, "::1", "127.0.0.1"]) {
      const res = await check({ meetingId: "81234567890", ip });
      expect(res.body, ip).toMatchObject({
        decision: "allow",
        code: "GEO_UNKNOWN",
        geo: { country: null, subdivision: null },
      });
    }
  });

  it("fails open when the database knows the country but not the region a subdivision order needs", async () => {
    await approvedOrder(h);
    const res = await check({ meetingId: "81234567890", ip: PLACES.indiaUnknownRegion.ip });
    expect(res.body).toMatchObject({ decision: "allow", code: "GEO_UNKNOWN" });
  });

  it("reads IPv6 and IPv4-mapped IPv6 addresses", async () => {
    await approvedOrder(h, {
      authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" },
      jurisdictions: ["RU"],
    });
    for (const ip of [PLACES.moscowV6.ip, "::ffff:5.8.10.20", "::FFFF:5.8.10.20"]) {
      const res = await check({ meetingId: "81234567890", ip });
      expect(res.body, ip).toMatchObject({ decision: "deny", code: "BLOCKED", geo: { country: "RU" } });
    }
  });

  it("enforces account orders for the named account only", async () => {
    await approvedOrder(h, { target: { kind: "account", accountIds: ["acct_42"] } });
    const named = await check({ meetingId: "999", accountId: "acct_42", ip: PLACES.mumbai.ip });
    const other = await check({ meetingId: "999", accountId: "acct_43", ip: PLACES.mumbai.ip });
    const none = await check({ meetingId: "999", ip: PLACES.mumbai.ip });
    expect(named.body.code).toBe("BLOCKED");
    expect(other.body.code).toBe("NO_ORDER");
    expect(none.body.code).toBe("NO_ORDER");
  });

  it("stops denying when the order expires, without any order change (I3)", async () => {
    await approvedOrder(h, { effectiveUntil: "2026-03-02T00:00:00Z" });
    expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("BLOCKED");
    h.clock.now = Date.parse("2026-03-02T00:00:00Z");
    expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("NO_ORDER");
  });

  it("starts denying at effectiveFrom", async () => {
    await approvedOrder(h, { effectiveFrom: "2026-03-05T00:00:00Z" });
    expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("NO_ORDER");
    h.clock.now = Date.parse("2026-03-05T00:00:00Z");
    expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("BLOCKED");
  });

  it("reports SHADOW_MATCH and allows for a shadow-mode order", async () => {
    const order = await approvedOrder(h, { mode: "shadow" });
    const res = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
    expect(res.body).toMatchObject({
      decision: "allow",
      code: "SHADOW_MATCH",
      orderIds: [order.id],
      jurisdiction: "IN-MH",
    });
  });

  it("lifts the block as soon as the order is withdrawn", async () => {
    const order = await approvedOrder(h);
    expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("BLOCKED");
    const withdrawn = await h.call("POST", `/v1/orders/${order.id}/withdraw`, {
      as: "responder",
      body: { reason: "authority withdrew" },
    });
    expect(withdrawn.status).toBe(200);
    const after = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
    expect(after.body.code).toBe("NO_ORDER");
    expect(after.body.rulesetVersion).toBeGreaterThan(0);
  });

  it("logs one record per answer, with prefix and keyed hash but never the address (I5, I6)", async () => {
    await approvedOrder(h);
    const a = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
    const b = await check({ meetingId: "81234567890", ip: PLACES.californiaV6.ip, accountId: "acct_1" });
    const page = await h.call("GET", "/v1/decisions", { as: "auditor" });
    expect(page.status).toBe(200);
    const records = page.body.records;
    expect(records.map((r: any) => r.decisionId)).toEqual([a.body.decisionId, b.body.decisionId]);
    expect(records[0]).toMatchObject({
      meetingId: "81234567890",
      decision: "deny",
      code: "BLOCKED",
      country: "IN",
      subdivision: "IN-MH",
      ipPrefix: "49.32.10.0/24",
      geoSource: "mmdb",
      rulesetVersion: a.body.rulesetVersion,
      at: new Date(T0).toISOString(),
    });
    expect(records[0].ipHash).toMatch(/^[0-9a-f]{64}$/);
    expect(records[1]).toMatchObject({ accountId: "acct_1", ipPrefix: "2001:4860:4860::/48" });
    expect(JSON.stringify(records)).not.toContain(PLACES.mumbai.ip);
    expect(JSON.stringify(records)).not.toContain("2001:4860:4860::8888");
  });
});

describe("POST /v1/check/batch", () => {
  it("answers every check in request order against one ruleset, and logs each", async () => {
    await approvedOrder(h);
    const checks = [
      { meetingId: "81234567890", ip: PLACES.mumbai.ip },
      { meetingId: "81234567890", ip: PLACES.bengaluru.ip },
      { meetingId: "other", ip: PLACES.mumbai.ip },
      { meetingId: "81234567890", ip: "10.0.0.1" },
    ];
    const res = await h.call("POST", "/v1/check/batch", { as: "checker", body: { checks } });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => r.code)).toEqual([
      "BLOCKED",
      "OUTSIDE_JURISDICTION",
      "NO_ORDER",
      "GEO_UNKNOWN",
    ]);
    const ids = new Set(res.body.results.map((r: any) => r.decisionId));
    expect(ids.size).toBe(4);
    const page = await h.call("GET", "/v1/decisions?limit=10", { as: "auditor" });
    expect(page.body.records.map((r: any) => r.decisionId)).toEqual(
      res.body.results.map((r: any) => r.decisionId),
    );
  });

  it("accepts 1000 checks and refuses 1001", async () => {
    const one = { meetingId: "m", ip: PLACES.amsterdam.ip };
    const ok = await h.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: Array(1000).fill(one) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.results).toHaveLength(1000);
    const tooMany = await h.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: Array(1001).fill(one) },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.issues[0].path).toBe("checks");
  });

  it("refuses the whole batch when one item is malformed, naming the item, and logs nothing", async () => {
    const res = await h.call("POST", "/v1/check/batch", {
      as: "checker",
      body: {
        checks: [
          { meetingId: "m", ip: PLACES.amsterdam.ip },
          { meetingId: "m", ip: "999.1.1.1" },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.issues[0].path).toBe("checks.1.ip");
    const page = await h.call("GET", "/v1/decisions", { as: "auditor" });
    expect(page.body.records).toHaveLength(0);
  });
});
