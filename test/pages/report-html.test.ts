/**
 * The report page in a real browser (headless Chromium): the charts render (SVG with real size), in
 * English and Dutch, at desktop and phone width, with nothing fetched from anywhere; screenshots go to
 * test-results/ for a person to look at.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { PLACES } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, orderInput } from "../support/harness.js";

let h: Harness;
let browser: Browser;
const OUT = new URL("../../test-results/", import.meta.url).pathname;

beforeAll(async () => {
  await mkdir(OUT, { recursive: true });
  browser = await launchBrowser();
  h = await makeHarness({ now: Date.parse("2026-03-01T00:00:00Z") });
  const ru = {
    authority: { name: "Regulator", jurisdiction: "RU", kind: "regulator" },
    jurisdictions: ["RU"],
  };
  await approvedOrder(h);
  await approvedOrder(h, {
    ...ru,
    target: { kind: "meeting", meetingIds: ["m-ru-7731"] },
    accountType: "pro",
  });
  const rejected = await h.call("POST", "/v1/orders", {
    as: "responder",
    body: orderInput({ reference: "R-2" }),
  });
  await h.call("POST", `/v1/orders/${rejected.body.id}/reject`, {
    as: "approver",
    body: { reason: "overbroad" },
  });
  for (let i = 0; i < 30; i++) {
    await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    });
    await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m-ru-7731", ip: i % 2 ? PLACES.moscow.ip : PLACES.moscowV6.ip },
    });
  }
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe.each(["en", "nl"] as const)("the report page in %s", (lang) => {
  it.each([
    ["desktop", 1280, 900],
    ["phone", 390, 844],
  ] as const)("renders its charts at %s width, fetching nothing", async (name, width, height) => {
    const res = await h.call("GET", `/v1/reports/2026-H1?format=html&lang=${lang}&threshold=3`, {
      as: "auditor",
    });
    expect(res.status).toBe(200);
    const page = await browser.newPage({ viewport: { width, height } });
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.setContent(String(res.body), { waitUntil: "load" });
    expect(await page.getAttribute("html", "lang")).toBe(lang);
    const charts = await page.$$("svg");
    expect(charts.length).toBeGreaterThanOrEqual(2);
    for (const chart of charts) {
      const box = await chart.boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(box?.height).toBeGreaterThan(25);
    }
    // The page itself never scrolls sideways: at phone width a chart scrolls inside its own figure,
    // keeping its text legible, and the tables below it carry the same numbers.
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(width);
    const text = (await page.textContent("body")) ?? "";
    // Nothing inside the page scrolls sideways either: every table and chart fits its column.
    const overflowing = await page.evaluate(() =>
      Array.from(document.querySelectorAll("table, figure, svg, dl, p"))
        .filter(
          (el) =>
            el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > window.innerWidth + 1,
        )
        .map((el) => `${el.tagName} ${el.textContent?.slice(0, 40)}`),
    );
    expect(overflowing).toEqual([]);
    const bars = await page.$$("svg rect");
    expect(bars.length).toBeGreaterThan(2);
    // A reader can tell who publishes it, how it was counted, what changed, and fetch its dataset.
    expect(text).toContain(lang === "nl" ? "Gepubliceerd door" : "Published by");
    expect(text).toContain(lang === "nl" ? "Bij twijfel toelaten" : "Fail open");
    expect(text).toContain(lang === "nl" ? "Vorige periode" : "Previous period");
    const link = await page.getAttribute("#dataset ~ p a, section[aria-labelledby=dataset] a", "href");
    expect(link).toBe("?format=csv&threshold=3");
    const csv = await h.call("GET", "/v1/reports/2026-H1?format=csv&threshold=3", { as: "auditor" });
    const sha = createHash("sha256").update(String(csv.body)).digest("hex");
    expect(text).toContain(sha);
    expect(text).toContain(lang === "nl" ? "Rusland" : "Russia");
    for (const secret of [
      "81234567890",
      "m-ru-7731",
      PLACES.mumbai.ip,
      "49.32.10.0",
      "ord_",
      "WP/1234/2026",
    ]) {
      expect(text.includes(secret), secret).toBe(false);
    }
    expect(requests).toEqual([]);
    await page.screenshot({ path: `${OUT}report-${lang}-${name}.png`, fullPage: true });
    await page.close();
  });
});
