/**
 * The order page's enforcement events over the retention (in process; the browser test covers the
 * events themselves): once the store has dropped events older than CORDON_EVENTS_RETENTION_HOURS, an
 * order approved before that window says what its list covers instead of "not taken effect", and an
 * order approved within it lists its events with no such note.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Send, signInHttp } from "../support/console-http.js";
import { HOUR } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, secretOf, T0 } from "../support/harness.js";

let h: Harness;
let send: Send;
const BASE = "http://localhost";
const DAY = 24 * HOUR;

beforeAll(async () => {
  h = await makeHarness();
  send = async (path, init) => h.app.request(path, init);
});
afterAll(() => h.close());

/** The text of the page's enforcement events section, tags dropped. */
async function eventsSection(orderId: string, lang: "en" | "nl" = "en"): Promise<string> {
  // Signed in anew: the harness clock moves by days, past any session's lifetime.
  const auditor = await signInHttp(send, BASE, secretOf("auditor"));
  const res = await auditor.get(`/console/orders/${encodeURIComponent(orderId)}?lang=${lang}`);
  expect(res.status).toBe(200);
  const html = await res.text();
  const section = /id="events-title"[\s\S]*?(?=<h2 id="history-title")/.exec(html)?.[0] ?? "";
  return section
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

describe("the order page's enforcement events past the retention", () => {
  it("says what the list covers for an order approved before the window, and lists a recent order's events plainly", async () => {
    expect(h.events.store.retentionMs).toBe(7 * DAY);
    const old = await approvedOrder(h, {
      reference: "OLD/1",
      target: { kind: "meeting", meetingIds: ["m-old"] },
    });
    expect(await eventsSection(old.id)).toContain("The block took effect");
    expect(await eventsSection(old.id)).not.toContain("Events are kept");

    // Eight days on, the next publish drops the old order's event.
    h.clock.now = T0 + 8 * DAY;
    const recent = await approvedOrder(h, {
      reference: "RECENT/1",
      target: { kind: "meeting", meetingIds: ["m-recent"] },
    });
    expect((await h.events.store.eventsFor(old.id, 10)).events).toEqual([]);

    const oldText = await eventsSection(old.id);
    expect(oldText).toContain(
      "Events are kept for 7 days: this list covers those since 2 Mar 2026, 00:00 UTC; older ones are no longer kept.",
    );
    expect(oldText).not.toContain("The block took effect");
    // Its block did take effect: the page does not say it has not.
    expect(oldText).not.toContain("has not taken effect");
    expect(await eventsSection(old.id, "nl")).toContain(
      "Gebeurtenissen worden 7 dagen bewaard: deze lijst toont die sinds 2 mrt 2026, 00:00 UTC; oudere zijn niet meer bewaard.",
    );

    const recentText = await eventsSection(recent.id);
    expect(recentText).toContain(
      "The block took effect: participants located in Mahārāshtra, India are refused meeting m-recent.",
    );
    expect(recentText).not.toContain("Events are kept");
  });
});
