/**
 * The auditor's pages in a real browser against a real server (issue 15, item 1): the reporting periods
 * with their state in words (open, provisional, finalized), a period's report framed under the console's
 * banner (the same bytes the API serves), finalizing (a confirmation; refused before the period's end
 * plus the grace days, said in plain words; then done on the server's clock), and the manifest with the
 * command that verifies it, which is run here and verifies. Roles: the auditor (and admin) only. Every
 * page state through axe-core in both languages at desktop and phone width, with screenshots.
 *
 * The server's clock: 5 April 2026. February is finalized up front (it ended 1 March, plus 14 grace days);
 * March has ended but may be finalized only from 15 April; April is running.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { REPORT_FRAME_CSP } from "../../src/console/pages/reports.js";
import { type Period, parsePeriod } from "../../src/report/periods.js";
import { launchBrowser } from "../support/browser.js";
import { axe, csrfOf, serious, serveHarness, shoot, signIn } from "../support/console.js";
import { PLACES } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness } from "../support/harness.js";

/** axe-core's source, evaluated in the framed report (whose CSP, like the console's, allows no script). */
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const NOW = Date.parse("2026-04-05T12:00:00Z");
const MARCH_FINALIZABLE = Date.parse("2026-04-15T00:00:00Z");

let h: Harness;
let browser: Browser;
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  h = await makeHarness({ now: NOW });
  // Orders received in February and March, so both months are periods; a denied join in April.
  await approvedOrder(h, { reference: "REPORT/FEB", receivedAt: "2026-02-20T09:00:00Z" });
  await approvedOrder(h, { reference: "REPORT/MAR", receivedAt: "2026-03-10T09:00:00Z" });
  await h.call("POST", "/v1/check", {
    as: "checker",
    body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
  });
  expect((await h.call("POST", "/v1/reports/2026-02/finalize", { as: "auditor" })).status).toBe(200);
  server = await serveHarness(h);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await h?.close();
});

/** The periods table's rows by period: its state's words and the names of its links. */
async function periodRows(page: Page): Promise<Record<string, { state: string; links: string[] }>> {
  const rows = await page.locator("#periods tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({
      period: tr.getAttribute("data-period") ?? "",
      state: (tr.querySelectorAll("td")[2]?.textContent ?? "").trim(),
      links: Array.from(tr.querySelectorAll("a"), (a) => (a.textContent ?? "").trim()),
    })),
  );
  return Object.fromEntries(rows.map((r) => [r.period, { state: r.state, links: r.links }]));
}

/** A POST's response status while the page follows it. */
async function submitted(page: Page, click: () => Promise<void>): Promise<number> {
  const response = page.waitForResponse((r) => r.request().method() === "POST");
  await click();
  return (await response).status();
}

describe("the auditor's pages", () => {
  it("lists the periods with their state in words, each linked to what can be done with it", async () => {
    const { context, page } = await signIn(browser, server.url, "auditor");
    await page.getByRole("link", { name: "Reports", exact: true }).click();
    await page.waitForURL(/\/console\/reports$/);
    const rows = await periodRows(page);
    expect(rows["2026-02"]).toEqual({
      state: "finalized: frozen and signed",
      links: ["Preview", "Manifest"],
    });
    expect(rows["2026-03"]).toEqual({
      state: "provisional: ended, numbers may change",
      links: ["Preview", "Finalize"],
    });
    expect(rows["2026-04"]).toEqual({ state: "open: still running", links: ["Preview"] });
    expect(rows["2026-H1"]?.state).toBe("open: still running");
    // Named in words with the dates they cover.
    expect(await page.textContent("tr[data-period='2026-Q1']")).toContain("Quarter 1 of 2026 2026-Q1");
    expect(await page.textContent("tr[data-period='2026-Q1']")).toContain("1 January 2026 to 31 March 2026");
    // Never a period that has not started.
    expect(rows["2026-05"]).toBeUndefined();
    await context.close();

    // A responder has no report pages: no menu entry, and the page refuses.
    const { context: rc, page: rp } = await signIn(browser, server.url, "responder");
    expect(await rp.locator("header nav a[href='/console/reports']").count()).toBe(0);
    const refused = await rp.goto("/console/reports");
    expect(refused?.status()).toBe(403);
    await rc.close();
  }, 90_000);

  it("previews a provisional period's report under a banner, and a finalized one's frozen bytes", async () => {
    const { context, page } = await signIn(browser, server.url, "auditor");
    const res = await page.goto("/console/reports/2026-03");
    expect(res?.headers()["content-security-policy"]).toContain("frame-src 'self'");
    expect(res?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(await page.textContent("#report-banner")).toBe(
      "Provisional: this period is not finalized, so these numbers may still change as late records arrive.",
    );
    const frame = page.frameLocator("#report-frame");
    await expect.poll(() => frame.locator("body").textContent()).toContain("has not been finalized yet");
    expect(await page.getAttribute("#report-frame", "title")).toBe("The transparency report for 2026-03");
    // The framed page: the report's own policy (inline styles, framed by the console only).
    const framed = await page.request.get("/console/reports/2026-03/report.html?lang=en");
    expect(framed.headers()["content-security-policy"]).toBe(REPORT_FRAME_CSP);
    expect(framed.headers()["x-frame-options"]).toBe("SAMEORIGIN");
    expect(framed.headers()["x-cordon-provisional"]).toBe("true");

    await page.goto("/console/reports/2026-02");
    expect(await page.textContent("#report-banner")).toMatch(
      /^Finalized on .+ UTC: these are the frozen, signed bytes/,
    );
    const frozen = await page.request.get("/console/reports/2026-02/report.html?lang=en");
    const text = await frozen.text();
    expect(frozen.headers()["x-cordon-provisional"]).toBe("false");
    const api = await h.call("GET", "/v1/reports/2026-02?format=html&lang=en", { as: "auditor" });
    expect(text).toBe(api.body);
    const manifest = await h.reports.manifest(parsePeriod("2026-02") as Period);
    expect(createHash("sha256").update(text).digest("hex")).toBe(manifest?.sha256["html-en"]);
    await expect.poll(() => frame.locator("body").textContent()).not.toContain("Provisional");
    await context.close();
  }, 90_000);

  it("asks for confirmation and refuses to finalize before the period's end plus the grace days, in plain words", async () => {
    const { context, page } = await signIn(browser, server.url, "auditor");
    await page.goto("/console/reports");
    await page.getByRole("link", { name: "Finalize: 2026-03" }).click();
    await page.waitForURL(/\/reports\/2026-03\/finalize$/);
    expect(await page.textContent("#finalize-when")).toBe(
      "It can be finalized from 15 April 2026: the period's end (1 April 2026) plus 14 grace days. That moment has not come yet, so finalizing now will be refused.",
    );
    // Without the confirmation: asked for it, nothing done.
    expect(await submitted(page, () => page.getByRole("button", { name: "Finalize 2026-03" }).click())).toBe(
      400,
    );
    expect(await page.textContent("#confirm-error")).toBe(
      "Tick the box to confirm that the report is to be frozen.",
    );
    expect(await page.getAttribute("#confirm", "aria-invalid")).toBe("true");

    await page.check("#confirm");
    expect(await submitted(page, () => page.getByRole("button", { name: "Finalize 2026-03" }).click())).toBe(
      409,
    );
    expect(await page.textContent("main .alert")).toBe(
      "2026-03 cannot be finalized yet. It can be finalized from 15 April 2026: the period's end (1 April 2026) plus 14 grace days. Nothing was changed.",
    );
    expect(await page.textContent("main")).not.toMatch(/FINALIZE_TOO_EARLY|T00:00:00/);
    expect(h.finalized).not.toContain("2026-03");
    expect((await h.call("GET", "/v1/reports/2026-03/manifest", { as: "auditor" })).status).toBe(404);
    // The manifest page of a period not finalized says so.
    const none = await page.goto("/console/reports/2026-03/manifest");
    expect(none?.status()).toBe(404);
    expect(await page.textContent("main .alert")).toContain(
      "2026-03 is not finalized, so it has no manifest yet.",
    );
    await context.close();
  }, 90_000);

  it("finalizes once the grace days have passed, then shows the manifest with a verify command that verifies", async () => {
    h.clock.now = MARCH_FINALIZABLE + 3_600_000;
    const { context, page } = await signIn(browser, server.url, "auditor");
    await page.goto("/console/reports/2026-03/finalize");
    expect(await page.textContent("#finalize-when")).toContain(
      "That moment has passed: the period can be finalized now.",
    );
    await page.check("#confirm");
    await page.getByRole("button", { name: "Finalize 2026-03" }).click();
    await page.waitForURL(/\/reports\/2026-03\/manifest\?done=finalized$/);
    expect(await page.textContent(".flash")).toBe(
      "2026-03 is finalized: its report is frozen and its manifest signed.",
    );
    expect(h.finalized).toContain("2026-03");
    const api = await h.call("GET", "/v1/reports/2026-03/manifest", { as: "auditor" });
    expect(api.status).toBe(200);
    const manifest = api.body;
    // Every hash, the signature and the key, as the manifest has them.
    const hashes = await page
      .locator("#manifest-hashes tbody tr")
      .evaluateAll((rows) =>
        rows.map((r) => Array.from(r.querySelectorAll("td"), (td) => (td.textContent ?? "").trim())),
      );
    expect(Object.fromEntries(hashes)).toEqual(manifest.sha256);
    expect(await page.textContent("#signature")).toBe(manifest.signature);
    expect(await page.textContent("#public-key")).toBe(manifest.signer.publicKey);
    const command = ((await page.textContent("#verify-command")) ?? "").trim();
    expect(command).toBe(
      `npm run cli -- verify-report --data-dir ./data --public-key ${manifest.signer.publicKey} 2026-03`,
    );
    // The command as shown, run against this server's data directory: it verifies.
    const args = command
      .replace(/^npm run cli -- /, "")
      .split(" ")
      .map((a) => (a === "./data" ? h.dir : a));
    let out = "";
    expect(await run(args, (s) => (out += s), {})).toBe(0);
    expect(out).toContain("report 2026-03 VERIFIED");
    // The manifest to download is the one served by the API.
    const download = await page.request.get("/console/reports/2026-03/manifest.json");
    expect(download.headers()["content-disposition"]).toContain("cordon-2026-03-manifest.json");
    expect(await download.json()).toEqual(manifest);

    // The list now says so; finalizing again is not offered, and the page says it is done.
    await page.goto("/console/reports");
    expect((await periodRows(page))["2026-03"]).toEqual({
      state: "finalized: frozen and signed",
      links: ["Preview", "Manifest"],
    });
    await page.goto("/console/reports/2026-03/finalize");
    expect(await page.textContent("main")).toContain("2026-03 is already finalized.");
    expect(await page.locator("#confirm").count()).toBe(0);
    // A responder may not finalize, even by replaying the form.
    const { context: rc, page: rp } = await signIn(browser, server.url, "responder");
    const replay = await rp.request.post("/console/reports/2026-Q1/finalize", {
      form: { csrf: await csrfOf(rp), confirm: "yes" },
      headers: { origin: server.url },
      maxRedirects: 0,
    });
    expect(replay.status()).toBe(403);
    expect(h.finalized).not.toContain("2026-Q1");
    await rc.close();
    await context.close();
  }, 90_000);

  it.each(["en", "nl"] as const)(
    "has no serious accessibility violations on any report page in %s, at desktop and phone width",
    async (lang) => {
      const { context, page } = await signIn(browser, server.url, "admin", { lang });
      const button = lang === "en" ? "Finalize 2026-04" : "2026-04 definitief maken";
      const visits: [string, (p: Page) => Promise<unknown>][] = [
        ["reports", (p) => p.goto("/console/reports")],
        ["report-preview", (p) => p.goto("/console/reports/2026-04")],
        ["report-preview-finalized", (p) => p.goto("/console/reports/2026-02")],
        ["report-finalize", (p) => p.goto("/console/reports/2026-04/finalize")],
        ["report-finalize-confirm", (p) => p.getByRole("button", { name: button }).click()],
        [
          "report-finalize-refused",
          async (p) => {
            await p.check("#confirm");
            await p.getByRole("button", { name: button }).click();
          },
        ],
        ["report-manifest", (p) => p.goto("/console/reports/2026-02/manifest")],
        ["report-no-manifest", (p) => p.goto("/console/reports/2026-04/manifest")],
      ];
      const report: Record<string, unknown> = {};
      for (const [name, visit] of visits) {
        await visit(page);
        await page.waitForLoadState();
        expect(await page.getAttribute("html", "lang"), name).toBe(lang);
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: 900 });
          const found = serious(await axe(page));
          if (found.length > 0) report[`${name}@${width}`] = found;
        }
        const { overflow } = await shoot(page, `${name}-${lang}`);
        expect(overflow, `${name} scrolls sideways`).toEqual([]);
      }
      // The framed report itself, in the page's language, at both widths.
      await page.goto("/console/reports/2026-02");
      const frame = page.frame({ url: /report\.html/ });
      expect(frame, "the report's frame").not.toBeNull();
      await frame?.waitForLoadState();
      expect(await frame?.getAttribute("html", "lang")).toBe(lang);
      await frame?.evaluate(AXE);
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 900 });
        const found = await frame?.evaluate(async () => {
          const result = await (window as any).axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
            // As in axe() (test/support/console.ts): only the violations are read.
            resultTypes: ["violations"],
          });
          return result.violations
            .filter((v: any) => v.impact === "serious" || v.impact === "critical")
            .map((v: any) => ({ id: v.id, nodes: v.nodes.map((n: any) => n.target) }));
        });
        if (found?.length) report[`framed-report@${width}`] = found;
      }
      expect(report).toEqual({});
      await context.close();
    },
    120_000,
  );
});
