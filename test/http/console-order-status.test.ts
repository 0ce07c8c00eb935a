/**
 * The order page shows the order's state as the list does: its words and a colour class per status
 * (`StatusBadge`), so colour is a second carrier on every page, never the only one (issue 15).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Send, signInHttp } from "../support/console-http.js";
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
