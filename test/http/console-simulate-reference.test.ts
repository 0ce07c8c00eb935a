/**
 * The check simulator names the orders behind a decision by the authority's case reference, the name the
 * response team knows them by, linked to their page: not by Cordon's internal `ord_` id (issue 15).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Send, signInHttp } from "../support/console-http.js";
import { PLACES } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, secretOf } from "../support/harness.js";

let h: Harness;
let send: Send;
const BASE = "http://localhost";

beforeAll(async () => {
  h = await makeHarness();
  send = async (path, init) => h.app.request(path, init);
});
afterAll(() => h.close());

describe("the check simulator's orders", () => {
  it("are named by their reference and linked to their page", async () => {
    const order = await approvedOrder(h, {
      reference: "MOS-2026/117",
      authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" },
      jurisdictions: ["RU"],
      target: { kind: "meeting", meetingIds: ["m-sim-1"] },
    });
    const approver = await signInHttp(send, BASE, secretOf("approver"));
    const res = await approver.post("/console/simulate", {
      meetingId: "m-sim-1",
      ip: PLACES.moscow.ip,
      role: "participant",
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<a href="/console/orders/${order.id}">MOS-2026/117</a>`);
    expect(html).not.toContain(`>${order.id}</a>`);
  });
});
