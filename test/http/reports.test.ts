/**
 * GET /v1/reports/{period} through the app: roles, formats, bad periods, and the numbers of a small
 * known history (the exhaustive counting is tested in test/report/).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLACES, T0 } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, orderInput } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await makeHarness({ now: T0 });
  await approvedOrder(h); // IN court, IN-MH, meeting 81234567890: complied in 2026-H1
  const rejected = await h.call("POST", "/v1/orders", {
    as: "responder",
    body: orderInput({ reference: "REJ-1", jurisdictions: ["IN"] }),
  });
  await h.call("POST", `/v1/orders/${rejected.body.id}/reject`, {
    as: "approver",
    body: { reason: "overbroad" },
  });
  await h.call("POST", "/v1/orders", { as: "responder", body: orderInput({ reference: "PEND-1" }) });
  for (const ip of [PLACES.mumbai.ip, PLACES.mumbai.ip, PLACES.bengaluru.ip, PLACES.amsterdam.ip]) {
    await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "81234567890", ip } });
  }
});
afterAll(() => h.close());

describe("GET /v1/reports/{period}", () => {
  it("counts requests by outcome and denied joins per jurisdiction (JSON)", async () => {
    const res = await h.call("GET", "/v1/reports/2026-H1", { as: "auditor" });
    expect(res.status).toBe(200);
    expect(res.body.period).toBe("2026-H1");
    expect(res.body.requests.byJurisdiction.IN).toMatchObject({ complied: 1, rejected: 1 });
    expect(res.body.requests.pendingAtEnd.count).toBe(1);
    expect(res.body.enforcement.byJurisdiction["IN-MH"]).toMatchObject({
      deniedJoins: 2,
      distinctMeetings: 1,
      distinctParticipants: 1,
    });
    expect(res.body.dataset).toHaveLength(2);
  });

  it("counts each check once however often the report is asked for", async () => {
    const again = await h.call("GET", "/v1/reports/2026-03", { as: "auditor" });
    expect(again.body.enforcement.byJurisdiction["IN-MH"].deniedJoins).toBe(2);
  });

  it("serves the CSV dataset with the documented header", async () => {
    const res = await h.call("GET", "/v1/reports/2026-H1?format=csv", { as: "auditor" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    const [header, ...rows] = String(res.body).trim().split(/\r?\n/);
    expect(header).toBe(
      "period,authority_jurisdiction,authority_kind,target_kind,requested_jurisdictions,block_jurisdictions,outcome,reason_code,account_type,account_location,received_date,completed_date,denied_joins,removed_participants",
    );
    expect(rows).toHaveLength(2);
    expect(String(res.body)).not.toContain("81234567890");
  });

  it("serves a self-contained HTML page in Dutch, with a CSP that allows no scripts", async () => {
    const res = await h.call("GET", "/v1/reports/2026-H1?format=html&lang=nl", { as: "auditor" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(String(res.body)).toContain('lang="nl"');
    expect(String(res.body)).toContain("<svg");
    expect(String(res.body)).not.toContain("81234567890");
    expect(String(res.body)).not.toContain("49.32.10.0");
  });

  it.each(["2026", "2026-H3", "2026-Q5", "2026-13", "26-H1", "1969-H1", "2026-h1", "2026-H1 "])(
    "refuses the period %j with 400",
    async (period) => {
      const res = await h.call("GET", `/v1/reports/${encodeURIComponent(period)}`, { as: "auditor" });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("BAD_REQUEST");
    },
  );

  it("refuses unknown formats and other roles", async () => {
    expect((await h.call("GET", "/v1/reports/2026-H1?format=pdf", { as: "auditor" })).status).toBe(400);
    expect((await h.call("GET", "/v1/reports/2026-H1", { as: "responder" })).status).toBe(403);
    expect((await h.call("GET", "/v1/reports/2026-H1")).status).toBe(401);
  });
});
