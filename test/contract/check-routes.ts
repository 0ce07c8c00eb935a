/**
 * The HTTP contract of the meeting-join check routes, written once and run on both runtimes: on Node
 * (`check-routes.test.ts` here, the app in-process over the file store) and in workerd
 * (`test/workers/check-routes.test.ts`, the Worker's fetch handler over KV and the Queue). Same requests,
 * same expectations; only the hooks differ:
 * - `call` sends a request as a principal;
 * - `approvedOrder` / `withdraw` put an order in force or lift it (Node: the orders API; the edge: a
 *   ruleset compiled from the same order input, signed, written to KV, and loaded);
 * - `setNow` moves the clock the check reads;
 * - `records` reads the decision records written so far, in answer order (Node: the decision log; the
 *   edge: what the Worker sent to its Queue).
 *
 * Imports nothing of either runtime: the fixture database's places come from `test/support/fixtures.ts`.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { PLACES, T0 } from "../support/fixtures.js";
import type { RequestOptions } from "../support/requests.js";
import type { ContractWho } from "./principals.js";

export interface CallOptions extends RequestOptions {
  /** Who sends it (their bearer token); null or absent: no Authorization header. */
  as?: ContractWho | null;
}

export interface CallResult {
  status: number;
  body: any;
  headers: Headers;
}

export interface ApprovedOrder {
  id: string;
  reference: string;
}

export interface CheckRoutesTarget {
  call(method: string, path: string, opts?: CallOptions): Promise<CallResult>;
  /**
   * Enters `orderInput(overrides)` (test/support/fixtures.ts), approves it (four eyes), and waits until
   * checks enforce it. Targets start with the clock at the fixtures' `T0`.
   */
  approvedOrder(overrides?: Record<string, unknown>): Promise<ApprovedOrder>;
  /** Withdraws an approved order and waits until checks no longer enforce it. */
  withdraw(orderId: string): Promise<void>;
  setNow(ms: number): void;
  records(): Promise<DecisionRecord[]>;
  close(): Promise<void>;
}

export function checkRoutesContract(runtime: string, open: () => Promise<CheckRoutesTarget>): void {
  describe(`check routes on ${runtime}`, () => {
    let t: CheckRoutesTarget;
    beforeEach(async () => {
      t = await open();
    });
    afterEach(() => t.close());

    const check = (body: unknown, headers?: Record<string, string>) =>
      t.call("POST", "/v1/check", { as: "checker", body, ...(headers ? { headers } : {}) });

    describe("POST /v1/check", () => {
      it("allows with NO_ORDER when no order names the meeting", async () => {
        const res = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          decision: "allow",
          code: "NO_ORDER",
          orderIds: [],
          rulesetVersion: 0,
        });
        expect(res.body.geo).toEqual({ country: "IN", subdivision: "IN-MH", source: "mmdb" });
        expect(res.body.decisionId).toMatch(/^[0-9a-f-]{36}$/);
        expect(res.body.notice).toBeUndefined();
      });

      it("denies a participant located in the blocked region, with a 200 and a notice", async () => {
        const order = await t.approvedOrder();
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
        await t.approvedOrder({ jurisdictions: ["IN"] });
        const res = await check(
          { meetingId: "81234567890", ip: PLACES.mumbai.ip },
          { "accept-language": "nl-NL,nl;q=0.9,en;q=0.5" },
        );
        expect(res.body.notice).toMatch(/U kunt vanuit India niet/);
        expect(res.body.notice).toMatch(/wettelijk bevel/);
      });

      it("allows a participant in another region of the same country (OUTSIDE_JURISDICTION)", async () => {
        const order = await t.approvedOrder();
        const res = await check({ meetingId: "81234567890", ip: PLACES.bengaluru.ip });
        expect(res.body).toMatchObject({
          decision: "allow",
          code: "OUTSIDE_JURISDICTION",
          orderIds: [order.id],
        });
      });

      it("allows a participant in another country, whatever the meeting", async () => {
        await t.approvedOrder();
        const res = await check({ meetingId: "81234567890", ip: PLACES.amsterdam.ip });
        expect(res.body).toMatchObject({ decision: "allow", code: "OUTSIDE_JURISDICTION" });
      });

      it("fails open with GEO_UNKNOWN for private addresses and addresses not in the database (I2)", async () => {
        await t.approvedOrder({ jurisdictions: ["IN"] });
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
        await t.approvedOrder();
        const res = await check({ meetingId: "81234567890", ip: PLACES.indiaUnknownRegion.ip });
        expect(res.body).toMatchObject({ decision: "allow", code: "GEO_UNKNOWN" });
      });

      it("reads IPv6 and IPv4-mapped IPv6 addresses", async () => {
        await t.approvedOrder({
          authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" },
          jurisdictions: ["RU"],
        });
        for (const ip of [PLACES.moscowV6.ip, "::ffff:5.8.10.20", "::FFFF:5.8.10.20"]) {
          const res = await check({ meetingId: "81234567890", ip });
          expect(res.body, ip).toMatchObject({ decision: "deny", code: "BLOCKED", geo: { country: "RU" } });
        }
      });

      it("enforces account orders for the named account only", async () => {
        await t.approvedOrder({ target: { kind: "account", accountIds: ["acct_42"] } });
        const named = await check({ meetingId: "999", accountId: "acct_42", ip: PLACES.mumbai.ip });
        const other = await check({ meetingId: "999", accountId: "acct_43", ip: PLACES.mumbai.ip });
        const none = await check({ meetingId: "999", ip: PLACES.mumbai.ip });
        expect(named.body.code).toBe("BLOCKED");
        expect(other.body.code).toBe("NO_ORDER");
        expect(none.body.code).toBe("NO_ORDER");
      });

      it("stops denying when the order expires, without any order change (I3)", async () => {
        await t.approvedOrder({ effectiveUntil: "2026-03-02T00:00:00Z" });
        expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("BLOCKED");
        t.setNow(Date.parse("2026-03-02T00:00:00Z"));
        expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("NO_ORDER");
      });

      it("starts denying at effectiveFrom", async () => {
        await t.approvedOrder({ effectiveFrom: "2026-03-05T00:00:00Z" });
        expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("NO_ORDER");
        t.setNow(Date.parse("2026-03-05T00:00:00Z"));
        expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("BLOCKED");
      });

      it("reports SHADOW_MATCH and allows for a shadow-mode order", async () => {
        const order = await t.approvedOrder({ mode: "shadow" });
        const res = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
        expect(res.body).toMatchObject({
          decision: "allow",
          code: "SHADOW_MATCH",
          orderIds: [order.id],
          jurisdiction: "IN-MH",
        });
      });

      it("lifts the block as soon as the order is withdrawn", async () => {
        const order = await t.approvedOrder();
        expect((await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip })).body.code).toBe("BLOCKED");
        await t.withdraw(order.id);
        const after = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
        expect(after.body.code).toBe("NO_ORDER");
        expect(after.body.rulesetVersion).toBeGreaterThan(0);
      });

      it("logs one record per answer, with prefix and keyed hash but never the address (I5, I6)", async () => {
        await t.approvedOrder();
        const a = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
        const b = await check({ meetingId: "81234567890", ip: PLACES.californiaV6.ip, accountId: "acct_1" });
        const records = await t.records();
        expect(records.map((r) => r.decisionId)).toEqual([a.body.decisionId, b.body.decisionId]);
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
        expect(records[0]?.ipHash).toMatch(/^[0-9a-f]{64}$/);
        expect(records[1]).toMatchObject({ accountId: "acct_1", ipPrefix: "2001:4860:4860::/48" });
        expect(JSON.stringify(records)).not.toContain(PLACES.mumbai.ip);
        expect(JSON.stringify(records)).not.toContain("2001:4860:4860::8888");
      });

      it("hashes one address alike on every check, and two addresses apart", async () => {
        await check({ meetingId: "m", ip: PLACES.mumbai.ip });
        await check({ meetingId: "m", ip: PLACES.mumbai.ip });
        await check({ meetingId: "m", ip: PLACES.bengaluru.ip });
        const [a, b, c] = await t.records();
        expect(a?.ipHash).toBe(b?.ipHash);
        expect(a?.ipHash).not.toBe(c?.ipHash);
      });

      it("answers 401 without a token and 403 for a role that may not check, and logs nothing", async () => {
        const body = { meetingId: "m", ip: PLACES.mumbai.ip };
        const anonymous = await t.call("POST", "/v1/check", { as: null, body });
        expect(anonymous.status).toBe(401);
        expect(anonymous.body.error).toMatchObject({ code: "UNAUTHORIZED" });
        const responder = await t.call("POST", "/v1/check", { as: "responder", body });
        expect(responder.status).toBe(403);
        expect(responder.body.error).toMatchObject({ code: "FORBIDDEN" });
        const admin = await t.call("POST", "/v1/check", { as: "admin", body });
        expect(admin.status).toBe(200);
        expect(await t.records()).toHaveLength(1);
      });

      it("refuses bad input with 400 or 415 in the error envelope", async () => {
        const noMeeting = await check({ ip: PLACES.mumbai.ip });
        expect(noMeeting.status).toBe(400);
        expect(noMeeting.body.error.issues.map((i: { path: string }) => i.path)).toContain("meetingId");
        const badIp = await check({ meetingId: "m", ip: "999.1.1.1" });
        expect(badIp.status).toBe(400);
        expect(badIp.body.error.issues.map((i: { path: string }) => i.path)).toContain("ip");
        const unknownField = await check({ meetingId: "m", ip: PLACES.mumbai.ip, country: "US" });
        expect(unknownField.status).toBe(400);
        const form = await t.call("POST", "/v1/check", {
          as: "checker",
          raw: "meetingId=m",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        });
        expect(form.status).toBe(415);
        expect(form.body.error).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
        expect(form.body.error.requestId).toEqual(expect.any(String));
        expect(await t.records()).toHaveLength(0);
      });
    });

    describe("dial-in callers, hosts and exemptions", () => {
      const russia = {
        authority: { name: "Moscow City Court", jurisdiction: "RU", kind: "court" },
        jurisdictions: ["RU"],
      };

      it("locates a dial-in caller by calling code and leading digits: +7 495 is RU, +7 701 is KZ", async () => {
        const order = await t.approvedOrder(russia);
        const moscow = await check({ meetingId: "81234567890", phone: "+74951234567" });
        expect(moscow.body).toMatchObject({ decision: "deny", code: "BLOCKED", orderIds: [order.id] });
        expect(moscow.body.geo).toEqual({ country: "RU", subdivision: null, source: "phone" });
        const almaty = await check({ meetingId: "81234567890", phone: "+77012345678" });
        expect(almaty.body).toMatchObject({ decision: "allow", code: "OUTSIDE_JURISDICTION" });
        expect(almaty.body.geo).toEqual({ country: "KZ", subdivision: null, source: "phone" });
        const records = await t.records();
        expect(records[0]).toMatchObject({
          phase: "join",
          role: "participant",
          ipPrefix: null,
          phoneCountryCode: "+7",
          geoSource: "phone",
          country: "RU",
          subdivision: null,
        });
        expect(records[0]?.ipHash).toMatch(/^[0-9a-f]{64}$/);
        expect(records[1]?.ipHash).not.toBe(records[0]?.ipHash);
        // I6: the number is never at rest, not even its national part.
        expect(JSON.stringify(records)).not.toContain("4951234567");
        expect(JSON.stringify(records)).not.toContain("7012345678");
      });

      it("answers GEO_UNKNOWN for a caller under a subdivision block: a number says no region (I2)", async () => {
        await t.approvedOrder();
        const res = await check({ meetingId: "81234567890", phone: "+912223456789" });
        expect(res.body).toMatchObject({ decision: "allow", code: "GEO_UNKNOWN" });
        expect(res.body.geo).toMatchObject({ country: "IN", source: "phone" });
      });

      it("answers GEO_UNKNOWN for a toll-free caller ID, which is no place", async () => {
        await t.approvedOrder({
          authority: { name: "US District Court", jurisdiction: "US", kind: "court" },
          jurisdictions: ["US"],
        });
        const res = await check({ meetingId: "81234567890", phone: "+18005550100" });
        expect(res.body).toMatchObject({ decision: "allow", code: "GEO_UNKNOWN" });
      });

      it("refuses a check with both ip and phone, with neither, or with a number that is not E.164", async () => {
        const both = await check({ meetingId: "m", ip: PLACES.mumbai.ip, phone: "+74951234567" });
        expect(both.status).toBe(400);
        expect(both.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["phone"]);
        const neither = await check({ meetingId: "m" });
        expect(neither.status).toBe(400);
        expect(neither.body.error.issues[0]).toMatchObject({
          path: "ip",
          message: expect.stringMatching(/phone/),
        });
        for (const phone of ["84951234567", "+0495123456", "+7 495 123 45 67", "+7495", "tel:+74951234567"]) {
          const bad = await check({ meetingId: "m", phone });
          expect(bad.status, phone).toBe(400);
          expect(bad.body.error.issues[0].path).toBe("phone");
        }
        expect(await t.records()).toHaveLength(0);
      });

      it("refuses a host inside a prevent_hosting block, never a participant, and records the role", async () => {
        const order = await t.approvedOrder({ action: "prevent_hosting" });
        const host = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip, role: "host" });
        expect(host.body).toMatchObject({ decision: "deny", code: "BLOCKED", orderIds: [order.id] });
        const guest = await check({ meetingId: "81234567890", ip: PLACES.mumbai.ip });
        expect(guest.body).toMatchObject({ decision: "allow", code: "NO_ORDER" });
        const elsewhere = await check({ meetingId: "81234567890", ip: PLACES.amsterdam.ip, role: "host" });
        expect(elsewhere.body).toMatchObject({ decision: "allow", code: "OUTSIDE_JURISDICTION" });
        expect((await t.records()).map((r) => r.role)).toEqual(["host", "participant", "host"]);
        const badRole = await check({ meetingId: "m", ip: PLACES.mumbai.ip, role: "cohost" });
        expect(badRole.status).toBe(400);
      });

      it("lets an exempt account in with EXEMPT, inside the block, and still refuses others", async () => {
        const order = await t.approvedOrder({ exemptAccountIds: ["acct_diplomat"] });
        const exempt = await check({
          meetingId: "81234567890",
          ip: PLACES.mumbai.ip,
          accountId: "acct_diplomat",
        });
        expect(exempt.body).toMatchObject({
          decision: "allow",
          code: "EXEMPT",
          orderIds: [order.id],
          jurisdiction: "IN-MH",
        });
        expect(exempt.body.notice).toBeUndefined();
        const other = await check({
          meetingId: "81234567890",
          ip: PLACES.mumbai.ip,
          accountId: "acct_other",
        });
        expect(other.body).toMatchObject({ decision: "deny", code: "BLOCKED" });
        expect((await t.records())[0]).toMatchObject({
          code: "EXEMPT",
          decision: "allow",
          accountId: "acct_diplomat",
        });
      });
    });

    describe("POST /v1/meetings/{meetingId}/recheck", () => {
      const recheck = (meetingId: string, body: unknown) =>
        t.call("POST", `/v1/meetings/${meetingId}/recheck`, { as: "checker", body });

      it("lists who must leave, in request order, and records each check as in_meeting", async () => {
        const order = await t.approvedOrder();
        const res = await recheck("81234567890", {
          participants: [
            { participantId: "p-1", ip: PLACES.mumbai.ip },
            { participantId: "p-2", ip: PLACES.bengaluru.ip },
            { participantId: "p-3", phone: "+31201234567", accountId: "acct_3" },
            { participantId: "p-4", ip: PLACES.mumbai.ip, role: "host" },
          ],
        });
        expect(res.status).toBe(200);
        expect(res.body.remove).toEqual(["p-1", "p-4"]);
        expect(res.body.results.map((r: { code: string }) => r.code)).toEqual([
          "BLOCKED",
          "OUTSIDE_JURISDICTION",
          "OUTSIDE_JURISDICTION",
          "BLOCKED",
        ]);
        expect(res.body.results[0].orderIds).toEqual([order.id]);
        const records = await t.records();
        expect(records.map((r) => r.phase)).toEqual(["in_meeting", "in_meeting", "in_meeting", "in_meeting"]);
        expect(records.map((r) => r.meetingId)).toEqual(Array(4).fill("81234567890"));
        expect(records.map((r) => r.decisionId)).toEqual(
          res.body.results.map((r: { decisionId: string }) => r.decisionId),
        );
        // The meeting service's handles are echoed, never stored.
        expect(JSON.stringify(records)).not.toContain("p-1");
      });

      it("refuses a duplicate participant, a missing locator or a bad meeting id, and logs nothing", async () => {
        const dup = await recheck("81234567890", {
          participants: [
            { participantId: "p-1", ip: PLACES.mumbai.ip },
            { participantId: "p-1", ip: PLACES.bengaluru.ip },
          ],
        });
        expect(dup.status).toBe(400);
        expect(dup.body.error.issues[0].path).toBe("participants.1.participantId");
        const none = await recheck("81234567890", { participants: [{ participantId: "p-1" }] });
        expect(none.status).toBe(400);
        expect(none.body.error.issues[0].path).toBe("participants.0.ip");
        const empty = await recheck("81234567890", { participants: [] });
        expect(empty.status).toBe(400);
        const badMeeting = await recheck("bad%20id", {
          participants: [{ participantId: "p", ip: PLACES.mumbai.ip }],
        });
        expect(badMeeting.status).toBe(400);
        expect(await t.records()).toHaveLength(0);
      });

      it("is for checkers: 401 without a token, 403 for a responder", async () => {
        const body = { participants: [{ participantId: "p", ip: PLACES.mumbai.ip }] };
        expect((await t.call("POST", "/v1/meetings/m/recheck", { body })).status).toBe(401);
        expect((await t.call("POST", "/v1/meetings/m/recheck", { as: "responder", body })).status).toBe(403);
      });
    });

    describe("POST /v1/check/batch", () => {
      it("answers every check in request order against one ruleset, and logs each", async () => {
        await t.approvedOrder();
        const checks = [
          { meetingId: "81234567890", ip: PLACES.mumbai.ip },
          { meetingId: "81234567890", ip: PLACES.bengaluru.ip },
          { meetingId: "other", ip: PLACES.mumbai.ip },
          { meetingId: "81234567890", ip: "10.0.0.1" },
        ];
        const res = await t.call("POST", "/v1/check/batch", { as: "checker", body: { checks } });
        expect(res.status).toBe(200);
        expect(res.body.results.map((r: { code: string }) => r.code)).toEqual([
          "BLOCKED",
          "OUTSIDE_JURISDICTION",
          "NO_ORDER",
          "GEO_UNKNOWN",
        ]);
        const ids = res.body.results.map((r: { decisionId: string }) => r.decisionId);
        expect(new Set(ids).size).toBe(4);
        expect((await t.records()).map((r) => r.decisionId)).toEqual(ids);
      });

      it("accepts 1000 checks and refuses 1001", async () => {
        const one = { meetingId: "m", ip: PLACES.amsterdam.ip };
        const ok = await t.call("POST", "/v1/check/batch", {
          as: "checker",
          body: { checks: Array(1000).fill(one) },
        });
        expect(ok.status).toBe(200);
        expect(ok.body.results).toHaveLength(1000);
        const tooMany = await t.call("POST", "/v1/check/batch", {
          as: "checker",
          body: { checks: Array(1001).fill(one) },
        });
        expect(tooMany.status).toBe(400);
        expect(tooMany.body.error.issues[0].path).toBe("checks");
        expect(await t.records()).toHaveLength(1000);
      });

      it("refuses the whole batch when one item is malformed, naming the item, and logs nothing", async () => {
        const res = await t.call("POST", "/v1/check/batch", {
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
        expect(await t.records()).toHaveLength(0);
      });
    });

    describe("GET /v1/ruleset, /healthz, /readyz", () => {
      it("summarises the ruleset in force for the response team, not for checkers", async () => {
        await t.approvedOrder();
        const res = await t.call("GET", "/v1/ruleset", { as: "auditor" });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ orders: 1, meetings: 1, accounts: 0, excluded: [] });
        expect(res.body.version).toBeGreaterThan(0);
        expect(res.body.hash).toMatch(/^[0-9a-f]{64}$/);
        expect((await t.call("GET", "/v1/ruleset", { as: "checker" })).status).toBe(403);
      });

      it("is live and ready once the ruleset and the geo database are loaded", async () => {
        const live = await t.call("GET", "/healthz");
        expect(live.status).toBe(200);
        expect(live.body).toMatchObject({ status: "ok" });
        const ready = await t.call("GET", "/readyz", { as: "checker" });
        expect(ready.status).toBe(200);
        expect(ready.body).toMatchObject({
          ready: true,
          ruleset: { loaded: true },
          geo: { databaseType: "GeoIP2-City", subdivisions: true },
        });
      });

      it("documents the check routes in /openapi.json", async () => {
        const res = await t.call("GET", "/openapi.json");
        expect(res.status).toBe(200);
        expect(Object.keys(res.body.paths)).toEqual(
          expect.arrayContaining(["/v1/check", "/v1/check/batch", "/v1/ruleset", "/healthz", "/readyz"]),
        );
      });
    });
  });
}
