/**
 * The console's hardening (issue 10, hole 7): a form post too large is a 413 page, never a 500 with a
 * stack; a malformed country in the new-order form is a 400 with the form; sessions are bounded per
 * principal, so one principal signing in again and again never signs another out.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySessionStore } from "../../src/console/session.js";
import { type ConsoleClient, formBody, type Send, signInHttp } from "../support/console-http.js";
import { type Harness, makeHarness, secretOf } from "../support/harness.js";

let h: Harness;
let send: Send;
let responder: ConsoleClient;
const BASE = "http://localhost";

beforeAll(async () => {
  h = await makeHarness();
  send = async (path, init) => h.app.request(path, init);
  responder = await signInHttp(send, BASE, secretOf("responder"));
});
afterAll(() => h.close());

function expectPage(html: string) {
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).not.toMatch(/\bat .+\(.*:\d+:\d+\)|node_modules|Error:/);
}

describe("a console post over 64 KiB", () => {
  const big = "x".repeat(70 * 1024);

  it.each([
    ["without a session, stating its length", "/console/sign-in", true],
    ["without a session, chunked", "/console/sign-in", false],
    ["with a session", "/console/orders/new", true],
  ])("answers 413 with the error page, %s", async (_name, path, withLength) => {
    const body = formBody({ csrf: responder.csrf, notes: big });
    const res = await send(path, {
      method: "POST",
      headers: {
        origin: BASE,
        cookie: responder.cookie,
        "content-type": "application/x-www-form-urlencoded",
        ...(withLength ? { "content-length": String(body.length) } : {}),
      },
      body,
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expectPage(await res.text());
  });
});

describe("the new-order form", () => {
  const countries = ["ZZ", "Z", "12", "IN-MH", "<b>", "ÄÖ", "x".repeat(300)];
  it.each(countries.flatMap((country) => ["preview", "regions"].map((intent) => ({ country, intent }))))(
    "answers 400 with the form for the country $country ($intent)",
    async ({ country, intent }) => {
      const res = await responder.post("/console/orders/new", {
        intent,
        reference: "R-1",
        authorityName: "Court",
        authorityKind: "court",
        country,
        targetKind: "meeting",
        targetIds: "81234567890",
        receivedAt: "2026-02-20",
      });
      expect(res.status).toBe(400);
      const html = await res.text();
      expectPage(html);
      expect(html).toContain('id="country-error"');
    },
  );

  it("still shows the regions of a valid country", async () => {
    const res = await responder.post("/console/orders/new", { intent: "regions", country: "in" });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('value="IN-MH"');
  });
});

describe("console sessions", () => {
  it("evicts only the oldest session of the principal who signs in again, never another's", async () => {
    let now = 0;
    const store = new MemorySessionStore(() => now, { perPrincipal: 3 });
    const other = await store.create({ name: "approver", role: "approver" }, "en");
    const mine = [];
    for (let i = 0; i < 25; i++) {
      now += 1;
      mine.push(await store.create({ name: "responder", role: "responder" }, "en"));
    }
    expect((await store.get(other.id))?.principal.name).toBe("approver");
    // Each principal keeps its newest sessions only.
    const live = [];
    for (const s of mine) if (await store.get(s.id)) live.push(s.id);
    expect(live).toEqual(mine.slice(-3).map((s) => s.id));
    expect(store.size).toBe(4);
  });
});
