/**
 * The console at a team's real volume (issue 15, item 1), in a real browser against a real server:
 * 1. 63 orders: the list in pages (previous, next, a page size), sorted by received, reference, authority
 *    and status, searched by reference, authority, meeting id and account id, all without scripts;
 * 2. each status as a coloured badge that also says it in words, every colour at AA contrast;
 * 3. the review queue: each pending order and pending amendment with its age, creator, effect in plain
 *    words and its would-be impact, counted from real checks made against the server before the orders
 *    were entered (allowed joins at its targets inside its block, not exempt, hosts only for
 *    prevent_hosting; refused ones, ones outside the block and ones older than 30 days not counted);
 *    the count is cached and read on incrementally;
 * 4. the approve form shows that summary before its button, to the approver only;
 * 5. axe-core on every new page state, English and Dutch, desktop and phone width, with screenshots.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orderPreview } from "../../src/i18n/console.js";
import { launchBrowser } from "../support/browser.js";
import { axe, serious, serveHarness, shoot, signIn } from "../support/console.js";
import { PLACES } from "../support/fixtures.js";
import { type Harness, makeHarness, orderInput, secretOf, T0, type Who } from "../support/harness.js";

const DAY = 86_400_000;
let h: Harness;
let browser: Browser;
let server: { url: string; close(): Promise<void> };

const AUTHORITIES = ["Bombay High Court", "Delhi Police", "Karnataka High Court"] as const;
const STATUSES = ["pending", "approved", "rejected", "withdrawn"] as const;

interface Seeded {
  id: string;
  reference: string;
  authority: string;
  status: (typeof STATUSES)[number];
  receivedAt: string;
  meetingId?: string;
  accountId?: string;
}
const seeded: Seeded[] = [];

async function call(method: string, path: string, as: Who, body: unknown) {
  const res = await h.call(method, path, { as, body });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const check = (body: Record<string, unknown>) => call("POST", "/v1/check", "checker", body);

/** The impact scenarios' ids, and what each pending item must count. */
const M = { geo: "m-impact-geo", host: "m-impact-host", amend: "m-impact-amend", other: "m-impact-other" };
const ACCT = "acct-impact-target";
const impactOrders: Record<string, string> = {};

beforeAll(async () => {
  h = await makeHarness({ now: T0 });
  server = await serveHarness(h);
  browser = await launchBrowser();

  // 63 orders, received on 63 different days, by three authorities, in four statuses.
  for (let i = 0; i < 63; i++) {
    const status = STATUSES[i % 4] as Seeded["status"];
    const authority = AUTHORITIES[i % 3] as string;
    const byAccount = i % 5 === 0;
    const reference = `VOL/${i + 1}/2026`;
    const receivedAt = new Date(T0 - (80 - i) * DAY).toISOString();
    const target = byAccount
      ? { kind: "account", accountIds: [`acct-vol-${i}`] }
      : { kind: "meeting", meetingIds: [`m-vol-${i}`] };
    const order = await call(
      "POST",
      "/v1/orders",
      "responder",
      orderInput({
        reference,
        authority: { name: authority, jurisdiction: "IN", kind: "court" },
        target,
        receivedAt,
      }),
    );
    if (status === "approved") await call("POST", `/v1/orders/${order.id}/approve`, "approver", {});
    if (status === "rejected")
      await call("POST", `/v1/orders/${order.id}/reject`, "approver", { reason: "no such meeting" });
    if (status === "withdrawn")
      await call("POST", `/v1/orders/${order.id}/withdraw`, "responder", { reason: "the court withdrew it" });
    seeded.push({
      id: order.id,
      reference,
      authority,
      status,
      receivedAt,
      ...(byAccount ? { accountId: `acct-vol-${i}` } : { meetingId: `m-vol-${i}` }),
    });
  }

  // Past checks, before any impact order exists. One 40 days before the review: outside the window.
  h.clock.now = T0 - 37 * DAY;
  await check({ meetingId: M.geo, ip: PLACES.mumbai.ip });
  h.clock.now = T0;
  // At the geoblock order's meeting: 3 allowed joins from Mumbai count; Bengaluru lies outside the
  // block; the exempt account is never refused; a host check counts for a geoblock too (4 in all).
  for (let i = 0; i < 3; i++) await check({ meetingId: M.geo, ip: PLACES.mumbai.ip });
  await check({ meetingId: M.geo, ip: PLACES.mumbai.ip, role: "host" });
  await check({ meetingId: M.geo, ip: PLACES.bengaluru.ip });
  await check({ meetingId: M.geo, ip: PLACES.mumbai.ip, accountId: "acct-exempt" });
  await check({ meetingId: M.geo, ip: PLACES.indiaUnknownRegion.ip });
  await check({ meetingId: M.other, ip: PLACES.mumbai.ip });
  // prevent_hosting counts hosts only: 2 hosts, not the 3 participants.
  for (let i = 0; i < 2; i++) await check({ meetingId: M.host, ip: PLACES.mumbai.ip, role: "host" });
  for (let i = 0; i < 3; i++) await check({ meetingId: M.host, ip: PLACES.mumbai.ip });
  // An account order: the account's joins anywhere (2), not another account's.
  await check({ meetingId: "m-acct-a", ip: PLACES.mumbai.ip, accountId: ACCT });
  await check({ meetingId: "m-acct-b", ip: PLACES.mumbai.ip, accountId: ACCT });
  await check({ meetingId: "m-acct-b", ip: PLACES.mumbai.ip, accountId: "acct-someone-else" });

  // An approved order blocking Mumbai at M.amend: its Mumbai joins are refused (they count for nothing).
  const inForce = await call(
    "POST",
    "/v1/orders",
    "responder",
    orderInput({ reference: "IMPACT/AMEND", target: { kind: "meeting", meetingIds: [M.amend] } }),
  );
  await call("POST", `/v1/orders/${inForce.id}/approve`, "approver", {});
  const denied = await check({ meetingId: M.amend, ip: PLACES.mumbai.ip });
  expect(denied.decision).toBe("deny");
  for (let i = 0; i < 2; i++) await check({ meetingId: M.amend, ip: PLACES.bengaluru.ip });

  // Now the orders under review, entered by responder2 an hour later.
  h.clock.now = T0 + 3_600_000;
  impactOrders.geo = (
    await call(
      "POST",
      "/v1/orders",
      "responder2",
      orderInput({
        reference: "IMPACT/GEO",
        target: { kind: "meeting", meetingIds: [M.geo] },
        exemptAccountIds: ["acct-exempt"],
      }),
    )
  ).id;
  impactOrders.host = (
    await call(
      "POST",
      "/v1/orders",
      "responder2",
      orderInput({
        reference: "IMPACT/HOST",
        target: { kind: "meeting", meetingIds: [M.host] },
        action: "prevent_hosting",
      }),
    )
  ).id;
  impactOrders.account = (
    await call(
      "POST",
      "/v1/orders",
      "responder2",
      orderInput({ reference: "IMPACT/ACCOUNT", target: { kind: "account", accountIds: [ACCT] } }),
    )
  ).id;
  // Widening the approved order to Karnataka: its 2 allowed Bengaluru joins would have been refused.
  await call("POST", `/v1/orders/${inForce.id}/amendments`, "responder2", {
    changes: { jurisdictions: ["IN-MH", "IN-KA"], requested: null },
    reason: "the court widened the order",
  });
  impactOrders.amend = inForce.id;
  // The review happens three days later.
  h.clock.now = T0 + 3 * DAY + 3_600_000;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await h?.close();
});

/** A browser context with scripts off: the list must work with server-rendered forms and links alone. */
async function signInNoScript(who: Who): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    baseURL: server.url,
    javaScriptEnabled: false,
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  await page.goto("/console/sign-in?lang=en");
  await page.fill("#token", secretOf(who));
  await page.locator("main button[type=submit]").click();
  await page.waitForURL(/\/console\/(orders|review)/);
  return { context, page };
}

const references = (page: Page) => page.locator("#orders tbody tr td:first-child a").allTextContents();
const all = () => [
  ...seeded.map((s) => s.reference),
  "IMPACT/AMEND",
  "IMPACT/GEO",
  "IMPACT/HOST",
  "IMPACT/ACCOUNT",
];

/** Every reference the list shows over all its pages, following its next links. */
async function everyPage(page: Page): Promise<string[]> {
  const out = [...(await references(page))];
  while ((await page.locator("#next-page").count()) > 0) {
    await page.locator("#next-page").click();
    out.push(...(await references(page)));
  }
  return out;
}

describe("the orders list at volume", () => {
  it("pages through 67 orders, 25 at a time, newest received first, with previous and next links", async () => {
    const { context, page } = await signInNoScript("responder");
    await page.goto("/console/orders");
    expect(await page.textContent("#page-of")).toBe("Page 1 of 3 · 67 orders");
    expect(await page.locator("#previous-page").count()).toBe(0);
    const first = await references(page);
    expect(first).toHaveLength(25);
    // Newest received first: the impact orders (received 2026-02-20) and then the seeded ones backwards.
    const byReceived = [...seeded].sort((a, b) => b.receivedAt.localeCompare(a.receivedAt));
    expect(first.slice(4)).toEqual(byReceived.slice(0, 21).map((s) => s.reference));
    expect(await page.getAttribute("th[aria-sort]", "aria-sort")).toBe("descending");
    await page.locator("#next-page").click();
    expect(await page.textContent("#page-of")).toBe("Page 2 of 3 · 67 orders");
    expect(page.url()).toContain("page=2");
    await page.locator("#next-page").click();
    expect(await references(page)).toHaveLength(17);
    expect(await page.locator("#next-page").count()).toBe(0);
    await page.locator("#previous-page").click();
    expect(await page.textContent("#page-of")).toBe("Page 2 of 3 · 67 orders");
    // Every order exactly once over the pages.
    await page.goto("/console/orders");
    expect((await everyPage(page)).sort()).toEqual(all().sort());
    // A larger page: all of them at once, no next link.
    await page.selectOption("#size", "100");
    await page.getByRole("button", { name: "Apply filters" }).click();
    expect(await references(page)).toHaveLength(67);
    expect(await page.locator("#next-page").count()).toBe(0);
    // A page past the end shows the last one.
    await page.goto("/console/orders?page=99");
    expect(await page.textContent("#page-of")).toBe("Page 3 of 3 · 67 orders");
    await context.close();
  }, 90_000);

  it("sorts by reference, authority, status and received, both ways, keeping the page size", async () => {
    const { context, page } = await signInNoScript("responder");
    await page.goto("/console/orders?size=100");
    const collator = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });
    await page.getByRole("link", { name: "Sort by reference" }).click();
    expect(page.url()).toContain("size=100");
    expect(await page.getAttribute("th[aria-sort]", "aria-sort")).toBe("ascending");
    const asc = await references(page);
    expect(asc).toEqual([...all()].sort(collator));
    expect(asc.indexOf("VOL/2/2026")).toBeLessThan(asc.indexOf("VOL/10/2026"));
    await page.getByRole("link", { name: "Sort by reference" }).click();
    expect(await page.getAttribute("th[aria-sort]", "aria-sort")).toBe("descending");
    expect(await references(page)).toEqual([...all()].sort(collator).reverse());

    await page.getByRole("link", { name: "Sort by authority" }).click();
    const authorities = await page.locator("#orders tbody tr td:nth-child(2)").allTextContents();
    expect(authorities).toEqual([...authorities].sort(collator));
    expect(new Set(authorities)).toEqual(new Set(AUTHORITIES));

    await page.getByRole("link", { name: "Sort by status" }).click();
    const statuses = await page.locator("#orders tbody tr .badge").allTextContents();
    const rank = (s: string) => STATUSES.findIndex((x) => s.startsWith(x));
    expect(statuses.map(rank)).toEqual([...statuses.map(rank)].sort((a, b) => a - b));
    expect(statuses[0]).toBe("pending");
    await page.getByRole("link", { name: "Sort by status" }).click();
    expect((await page.locator("#orders tbody tr .badge").allTextContents())[0]).toBe("withdrawn");

    await page.getByRole("link", { name: "Sort by received" }).click();
    expect(await page.getAttribute("th[aria-sort]", "aria-sort")).toBe("descending");
    await page.getByRole("link", { name: "Sort by received" }).click();
    const oldest = [...seeded].sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))[0] as Seeded;
    expect((await references(page))[0]).toBe(oldest.reference);
    // A search keeps the sort.
    await page.fill("#authority", "delhi");
    await page.getByRole("button", { name: "Apply filters" }).click();
    expect(page.url()).toContain("dir=asc");
    expect(await page.getAttribute("th[aria-sort]", "aria-sort")).toBe("ascending");
    await context.close();
  }, 90_000);

  it("searches by reference, authority, meeting id and account id", async () => {
    const { context, page } = await signInNoScript("responder");
    const search = async (field: string, value: string) => {
      await page.goto("/console/orders?size=100");
      await page.fill(`#${field}`, value);
      await page.getByRole("button", { name: "Apply filters" }).click();
      return (await references(page)).sort();
    };
    expect(await search("q", "VOL/1")).toEqual(
      seeded
        .filter((s) => s.reference.includes("VOL/1"))
        .map((s) => s.reference)
        .sort(),
    );
    expect(await search("authority", "karnataka")).toEqual(
      seeded
        .filter((s) => s.authority === "Karnataka High Court")
        .map((s) => s.reference)
        .sort(),
    );
    expect(await search("meetingId", "m-vol-7")).toEqual(["VOL/8/2026"]);
    expect(await search("meetingId", M.geo)).toEqual(["IMPACT/GEO"]);
    expect(await search("accountId", "acct-vol-10")).toEqual(["VOL/11/2026"]);
    expect(await search("accountId", ACCT)).toEqual(["IMPACT/ACCOUNT"]);
    await search("meetingId", "m-nowhere");
    expect(await page.locator("main").textContent()).toContain("No orders match.");
    // Searches combine with the filters: Delhi's withdrawn orders.
    await page.goto("/console/orders?size=100&status=withdrawn&authority=delhi");
    expect((await references(page)).sort()).toEqual(
      seeded
        .filter((s) => s.status === "withdrawn" && s.authority === "Delhi Police")
        .map((s) => s.reference)
        .sort(),
    );
    await context.close();
  }, 90_000);

  it("shows each status in colour and in words, every colour at AA contrast", async () => {
    const { context, page } = await signIn(browser, server.url, "responder");
    await page.goto("/console/orders?size=100&sort=status&dir=asc");
    const badges = await page.locator("#orders .badge").evaluateAll((els) =>
      els.map((el) => {
        const style = getComputedStyle(el);
        return { cls: el.className, text: el.textContent, fg: style.color, bg: style.backgroundColor };
      }),
    );
    const seen = new Map<string, { fg: string; bg: string }>();
    for (const b of badges) {
      const status = /status-(\w+)/.exec(b.cls)?.[1] as string;
      expect(b.text?.startsWith(status), `${b.cls}: ${b.text}`).toBe(true);
      seen.set(status, { fg: b.fg, bg: b.bg });
    }
    expect([...seen.keys()].sort()).toEqual([...STATUSES].sort());
    // Four different colours, each legible.
    expect(new Set([...seen.values()].map((c) => c.bg)).size).toBe(4);
    for (const [status, c] of seen) expect(contrast(c.fg, c.bg), status).toBeGreaterThanOrEqual(4.5);
    await context.close();
  }, 90_000);
});

/** WCAG contrast ratio of two `rgb(r, g, b)` colours. */
function contrast(a: string, b: string): number {
  const lum = (css: string) => {
    const [r, g, bl] = (css.match(/\d+/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** A review row: the order's own (`item-<id>`), or its amendment's (`item-<id>-<amendment id>`). */
const row = (page: Page, orderId: string, kind: "order" | "amendment" = "order") =>
  kind === "order"
    ? page.locator(`#review > li[id='item-${orderId}']`)
    : page.locator(`#review > li[id^='item-${orderId}-']`);

describe("the review queue at volume", () => {
  it("shows each pending order and amendment with its age, creator, effect and would-be impact", async () => {
    const { context, page } = await signIn(browser, server.url, "approver");
    await page.goto("/console/review");
    const pending = seeded.filter((s) => s.status === "pending").length + 4;
    expect(await page.locator("#review > li").count()).toBe(pending);
    const cells = async (orderId: string, kind: "order" | "amendment" = "order") => {
      const r = row(page, orderId, kind);
      expect(await r.count()).toBe(1);
      return {
        age: (await r.locator(".age").textContent())?.trim(),
        creator: (await r.locator(".creator").textContent())?.trim(),
        effect: (await r.locator(".effect").textContent())?.trim(),
        impact: (await r.locator(".impact").textContent())?.trim(),
      };
    };
    const geo = await cells(impactOrders.geo as string);
    expect(geo.age).toBe("3 days");
    expect(geo.creator).toBe("responder2");
    expect(geo.effect).toBe(
      "Participants located in Mahārāshtra, India will be refused meeting m-impact-geo from the moment it is approved; everyone else joins as usual.",
    );
    expect(geo.impact).toBe("4 joins in the last 30 days");
    // When it was computed, and up to which check (the last one made, at T0).
    expect(await page.textContent("#impact-note")).toContain(
      "computed 4 Mar 2026, 01:00 UTC, up to the check of 1 Mar 2026, 00:00 UTC.",
    );
    const host = await cells(impactOrders.host as string);
    expect(host.impact).toBe("2 joins in the last 30 days");
    expect(host.effect).toBe(
      orderPreview(
        orderInput({
          target: { kind: "meeting", meetingIds: [M.host] },
          action: "prevent_hosting",
        }) as never,
        "en",
      ),
    );
    expect((await cells(impactOrders.account as string)).impact).toBe("2 joins in the last 30 days");
    const amendment = await cells(impactOrders.amend as string, "amendment");
    const amendRow = row(page, impactOrders.amend as string, "amendment");
    expect(await amendRow.textContent()).toContain("Amendment of IMPACT/AMEND");
    // It links to the amendment's own review page (the amendment pages).
    expect(await amendRow.locator("h2 a").getAttribute("href")).toMatch(
      new RegExp(`^/console/orders/${impactOrders.amend}/amendments/amd_`),
    );
    expect(await row(page, impactOrders.geo as string).textContent()).toContain("new order");
    expect(amendment.impact).toBe("2 joins in the last 30 days");
    expect(amendment.creator).toBe("responder2");
    expect(amendment.effect).toBe(
      "Participants located in Mahārāshtra, India or Karnātaka, India will be refused meeting m-impact-amend from 1 March 2026; everyone else joins as usual.",
    );
    // The seeded orders entered 3 days before, too, by responder; none has any check: 0.
    const oldest = seeded.find((s) => s.status === "pending") as Seeded;
    const plain = await cells(oldest.id);
    expect(plain.creator).toBe("responder");
    expect(plain.impact).toBe("0 joins in the last 30 days");
    expect(plain.age).toBe("3 days");

    // Cached: a new check is not counted until the numbers are a minute old; then it is read on.
    await check({ meetingId: M.geo, ip: PLACES.mumbai.ip });
    await page.reload();
    expect((await cells(impactOrders.geo as string)).impact).toBe("4 joins in the last 30 days");
    h.clock.now += 2 * 60_000;
    await page.reload();
    expect((await cells(impactOrders.geo as string)).impact).toBe("5 joins in the last 30 days");
    expect(await page.textContent("#impact-note")).toContain(
      "computed 4 Mar 2026, 01:02 UTC, up to the check of 4 Mar 2026, 01:00 UTC.",
    );

    // In Dutch.
    await page.goto("/console/review?lang=nl");
    const nl = row(page, impactOrders.geo as string);
    expect(await nl.textContent()).toContain("nieuw bevel");
    expect((await nl.locator(".impact").textContent())?.trim()).toBe("5 deelnames in de afgelopen 30 dagen");
    expect((await nl.locator(".age").textContent())?.trim()).toBe("3 dagen");
    await page.goto("/console/review?lang=en");
    await context.close();
  }, 90_000);

  it("shows the approver the effect and the impact before the approve button; not the creator", async () => {
    const { context, page } = await signIn(browser, server.url, "approver");
    await page.goto(`/console/orders/${impactOrders.host}`);
    expect(await page.textContent("#approve-summary-title")).toBe("Before you approve");
    expect((await page.textContent("#approve-effect"))?.trim()).toBe(
      "Hosts located in Mahārāshtra, India cannot start or host meeting m-impact-host from the moment it is approved; participants are not refused.",
    );
    expect((await page.textContent("#approve-impact"))?.trim()).toBe("2 joins in the last 30 days");
    expect(await page.textContent("#approve-summary")).toContain("computed 4 Mar 2026");
    // The summary comes before the approve button in the page (and so in reading order).
    const before = await page.evaluate(() => {
      const summary = document.querySelector("#approve-summary") as Element;
      const button = document.querySelector("form[action$='/approve'] button") as Element;
      return Boolean(summary.compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    expect(before).toBe(true);
    await context.close();
    // The creator is offered no approval, so no summary.
    const creator = await signIn(browser, server.url, "responder2");
    await creator.page.goto(`/console/orders/${impactOrders.host}`);
    expect(await creator.page.locator("#approve-summary").count()).toBe(0);
    await creator.context.close();
  }, 90_000);
});

describe("accessibility of the new page states", () => {
  for (const lang of ["en", "nl"] as const) {
    it(`has no serious axe violation on any of them, desktop and phone, in ${lang}`, async () => {
      const { context, page } = await signIn(browser, server.url, "approver", { lang });
      const states: [string, string][] = [
        ["orders-page-1", "/console/orders"],
        ["orders-page-2", "/console/orders?page=2"],
        ["orders-sorted", "/console/orders?sort=reference&dir=asc&size=50"],
        ["orders-searched", `/console/orders?meetingId=${M.geo}`],
        ["orders-none", "/console/orders?accountId=acct-none"],
        ["orders-bad-jurisdiction", "/console/orders?jurisdiction=XX-NOPE&authority=delhi"],
        ["review-queue", "/console/review"],
        ["approve-summary", `/console/orders/${impactOrders.geo}`],
      ];
      const report: Record<string, unknown> = {};
      for (const [name, path] of states) {
        await page.goto(path);
        expect(await page.getAttribute("html", "lang"), name).toBe(lang);
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: 900 });
          const found = serious(await axe(page));
          if (found.length > 0) report[`${name}@${width}`] = found;
        }
        const { overflow } = await shoot(page, `volume-${name}-${lang}`);
        expect(overflow, `${name} scrolls sideways`).toEqual([]);
      }
      expect(report).toEqual({});
      await context.close();
    }, 120_000);
  }
});
