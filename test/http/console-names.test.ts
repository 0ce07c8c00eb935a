/**
 * How console pages name things for people (issue 15), in process: the order page's state is the list's
 * badge (its words and a colour class per status, so colour is a second carrier, never the only one),
 * and the check simulator names the orders behind a decision by the authority's case reference, linked
 * to their page, not by Cordon's internal `ord_` id.
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

describe("the order page's state", () => {
  it("is a badge with the status's words and its colour class", async () => {
    const order = await approvedOrder(h, { reference: "BADGE/1" });
    const auditor = await signInHttp(send, BASE, secretOf("auditor"));
    const res = await auditor.get(`/console/orders/${encodeURIComponent(order.id)}`);
    expect(res.status).toBe(200);
    const badge = /<span class="(badge[^"]*)">([^<]*)<\/span>/.exec(await res.text());
    expect(badge?.[1]).toBe("badge status-approved");
    expect(badge?.[2]).toMatch(/approved/i);
  });
});

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

describe("the orders list's address", () => {
  it("answers 400 naming the values it does not take, and lists with its defaults", async () => {
    await approvedOrder(h, { reference: "LIST/1" });
    const auditor = await signInHttp(send, BASE, secretOf("auditor"));
    const bad = await auditor.get("/console/orders?size=7&sort=bogus&dir=up&page=0&status=lost");
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain(
      "This address asks for something the list does not offer (status=lost, sort=bogus, dir=up, size=7, page=0)",
    );
    // The list is still there, with its defaults.
    expect(html).toContain("LIST/1");
    const nl = await auditor.get("/console/orders?size=7&lang=nl");
    expect(nl.status).toBe(400);
    expect(await nl.text()).toContain("Dit adres vraagt iets wat de lijst niet biedt (size=7)");
    for (const good of [
      "/console/orders",
      "/console/orders?status=&enforcement=&size=",
      "/console/orders?size=50&sort=status&dir=asc&page=2&status=approved",
    ]) {
      const res = await auditor.get(good);
      expect(res.status, good).toBe(200);
      expect(await res.text()).not.toContain("does not offer");
    }
  });
});
