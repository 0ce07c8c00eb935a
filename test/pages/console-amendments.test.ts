/**
 * Amendments in the console, in a real browser against a real server (issue 15, item 1): a responder
 * proposes an amendment from the order page with a plain-words preview of what changes; a proposal the
 * rules refuse is answered next to its fields in plain words (no API field names); an approver approves
 * or rejects it on its own page, which shows the order before and after; the proposer cannot decide it
 * (four eyes), through the page or by replaying the form. Every page state through axe-core in both
 * languages at desktop and phone width, with screenshots.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { axe, csrfOf, serious, serveHarness, shoot, signIn } from "../support/console.js";
import { approvedOrder, type Harness, makeHarness, orderInput } from "../support/harness.js";

let h: Harness;
let browser: Browser;
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  h = await makeHarness();
  server = await serveHarness(h);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await h?.close();
});

/** API field names a page must never show a person (the "must be later than effectiveFrom"). */
const API_NAMES =
  /effectiveFrom|effectiveUntil|exemptAccountIds|meetingIds|accountIds|requested\.\w|changes\.\w/;

/** An approved order whose authority asked for all of India, so it can be widened to Karnātaka. */
const widenable = (reference: string) =>
  approvedOrder(h, { reference, requested: { jurisdictions: ["IN"] } });

/** The before/after table's rows, as their cells read. */
const changeRows = (page: Page) =>
  page
    .locator("#amendment-changes tbody tr")
    .evaluateAll((rows) =>
      rows.map((r) => Array.from(r.querySelectorAll("th,td"), (c) => (c.textContent ?? "").trim())),
    );

/** A POST's response status while the page follows it. */
async function submitted(page: Page, click: () => Promise<void>): Promise<number> {
  const response = page.waitForResponse((r) => r.request().method() === "POST");
  await click();
  return (await response).status();
}

describe("amendments in the console", () => {
  it("lets a responder propose an amendment with a plain-words preview that an approver approves on its own page", async () => {
    const order = await widenable("AMEND/1");
    const { context: rc, page } = await signIn(browser, server.url, "responder");
    await page.goto(`/console/orders/${order.id}`);
    expect(await page.textContent("#no-amendments")).toBe("No amendment has been proposed.");
    await page.locator("#propose-amendment").click();
    await page.waitForURL(/\/amend$/);
    // The form starts from the order as it is.
    expect(await page.locator("input[name=jurisdictions][value='IN-MH']").isChecked()).toBe(true);
    expect(await page.inputValue("#targetIds")).toBe("81234567890");

    await page.locator("input[name=jurisdictions][value='IN-KA']").check();
    await page.fill("#effectiveUntil", "2026-06-01");
    await page.fill("#reason", "the court extended the order to Karnataka");
    expect(await submitted(page, () => page.locator("button[value=preview]").click())).toBe(200);
    expect(await changeRows(page)).toEqual([
      ["Blocked in", "Mahārāshtra, India", "Karnātaka, India; Mahārāshtra, India"],
      ["Effective until", "no end date", "1 June 2026"],
    ]);
    expect(await page.textContent("#after-text")).toBe(
      // In force since its approval (the harness's clock, 1 March 2026), not "from the moment it is approved".
      "Participants located in Karnātaka, India or Mahārāshtra, India will be refused meeting 81234567890 from 1 March 2026 until 1 June 2026; everyone else joins as usual.",
    );
    // Nothing is stored before the submit.
    expect((await h.store.getOrder(order.id))?.amendmentLog ?? []).toEqual([]);

    await page.locator("button[value=submit]").click();
    await page.waitForURL(/\/amendments\/amd_1\?done=proposed$/);
    expect(await page.textContent(".flash")).toBe(
      "The amendment is proposed and waits for a second person to approve it.",
    );
    const stored = (await h.store.getOrder(order.id))?.amendmentLog?.[0];
    expect(stored).toMatchObject({ status: "pending", proposedBy: "responder" });
    // Only what the form changed: not the fields it merely carried.
    expect(Object.keys(stored?.changes ?? {}).sort()).toEqual(["effectiveUntil", "jurisdictions"]);
    expect(stored?.changes.effectiveUntil).toBe("2026-06-01T00:00:00Z");
    // A responder's role may not decide: no form.
    expect(await page.locator("form[action$='/approve']").count()).toBe(0);
    await rc.close();

    const { context: ac, page: ap } = await signIn(browser, server.url, "approver");
    await ap.goto(`/console/orders/${order.id}`);
    expect(await ap.textContent("#amendments")).toContain("amd_1 – pending – responder");
    await ap.getByRole("link", { name: "amd_1" }).click();
    expect(await ap.textContent("h1")).toBe("Amendment amd_1 of order AMEND/1");
    expect(await changeRows(ap)).toEqual([
      ["Blocked in", "Mahārāshtra, India", "Karnātaka, India; Mahārāshtra, India"],
      ["Effective until", "no end date", "1 June 2026"],
    ]);
    await ap.fill("#approve-note", "checked against the extended order");
    await ap.getByRole("button", { name: "Approve amendment" }).click();
    await ap.waitForURL(/done=approved$/);
    expect(await ap.textContent(".flash")).toBe(
      "The amendment is approved: the order now applies as amended.",
    );
    expect(await ap.textContent(".badge")).toBe("approved");
    // The page still says what it was before.
    expect(await changeRows(ap)).toEqual([
      ["Blocked in", "Mahārāshtra, India", "Karnātaka, India; Mahārāshtra, India"],
      ["Effective until", "no end date", "1 June 2026"],
    ]);
    const amended = await h.store.getOrder(order.id);
    expect([...(amended?.jurisdictions ?? [])].sort()).toEqual(["IN-KA", "IN-MH"]);
    expect(amended?.effectiveUntil).toBe("2026-06-01T00:00:00Z");
    expect(amended?.amendmentLog?.[0]).toMatchObject({ status: "approved", decidedBy: "approver" });
    await ap.goto(`/console/orders/${order.id}`);
    expect(await ap.textContent("#amendments")).toContain("amd_1 – approved");
    await ac.close();
  }, 90_000);

  it("lets an approver reject an amendment, with a reason required, and leaves the order unchanged", async () => {
    const order = await widenable("AMEND/REJECT");
    const proposed = await h.call("POST", `/v1/orders/${order.id}/amendments`, {
      as: "responder",
      body: { changes: { mode: "shadow" }, reason: "try it in shadow first" },
    });
    expect(proposed.status).toBe(201);
    const { context, page } = await signIn(browser, server.url, "approver");
    await page.goto(`/console/orders/${order.id}/amendments/amd_1`);
    expect(await changeRows(page)).toEqual([
      ["Mode", "enforce (refuse as the order says)", "shadow (only record what would be refused)"],
    ]);
    expect(await submitted(page, () => page.getByRole("button", { name: "Reject amendment" }).click())).toBe(
      400,
    );
    expect(await page.textContent(".alert")).toBe("Say why the amendment is rejected.");
    expect((await h.store.getOrder(order.id))?.amendmentLog?.[0]?.status).toBe("pending");

    await page.fill("#reject-reason", "the order must be enforced as granted");
    await page.getByRole("button", { name: "Reject amendment" }).click();
    await page.waitForURL(/done=rejected$/);
    expect(await page.textContent(".flash")).toBe("The amendment is rejected: the order is unchanged.");
    expect(await page.textContent("#manifest, dl.fields")).toContain("the order must be enforced as granted");
    const after = await h.store.getOrder(order.id);
    expect(after?.mode).toBe("enforce");
    expect(after?.amendmentLog?.[0]).toMatchObject({ status: "rejected", decidedBy: "approver" });
    await context.close();
  }, 90_000);

  it.each(["en", "nl"] as const)(
    "refuses a proposal the rules forbid in plain words next to its fields, without API field names (%s)",
    async (lang) => {
      // Requested as granted: Mahārāshtra only.
      const created = await h.call("POST", "/v1/orders", {
        as: "responder",
        body: orderInput({ reference: `AMEND/REFUSED/${lang}`, effectiveFrom: "2026-04-01T00:00:00Z" }),
      });
      const id = created.body.id as string;
      const { context, page } = await signIn(browser, server.url, "responder", { lang });
      await page.goto(`/console/orders/${id}/amend`);
      await page.locator("input[name=jurisdictions][value='IN-KA']").check();
      await page.fill("#effectiveUntil", "2026-03-15");
      expect(await submitted(page, () => page.locator("button[value=preview]").click())).toBe(400);
      const words = {
        en: {
          jurisdictions:
            "Karnātaka, India: not inside what the authority asked for, so the order cannot block it",
          until: "The end date must be later than the start date.",
          reason: "Say why the order is amended.",
        },
        nl: {
          jurisdictions:
            "Karnātaka, India: valt niet binnen wat de autoriteit vroeg, dus het bevel kan het niet blokkeren",
          until: "De einddatum moet later zijn dan de ingangsdatum.",
          reason: "Zeg waarom het bevel gewijzigd wordt.",
        },
      }[lang];
      expect(await page.textContent("#effectiveUntil-error")).toBe(words.until);
      expect(await page.textContent("#reason-error")).toBe(words.reason);
      // The engine's I10 check answered in the page's words (the block beyond the request is Karnātaka).
      expect(await page.textContent("#jurisdictions-error")).toBe(words.jurisdictions);
      expect(await page.getAttribute("#effectiveUntil", "aria-invalid")).toBe("true");
      expect(await page.getAttribute("#effectiveUntil", "aria-describedby")).toBe(
        "effectiveUntil-hint effectiveUntil-error",
      );
      expect(await page.locator(".summary a[href='#effectiveUntil']").count()).toBe(1);
      expect(await page.locator("button[value=submit]").count()).toBe(0);
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, with breaks between blocks, so adjacent elements' words do not run together
      expect(await page.innerText("main")).not.toMatch(API_NAMES);
      // What was typed is kept.
      expect(await page.inputValue("#effectiveUntil")).toBe("2026-03-15");

      // Nothing changed at all: said so, nothing stored.
      await page.goto(`/console/orders/${id}/amend`);
      await page.fill("#reason", "no change");
      expect(await submitted(page, () => page.locator("button[value=preview]").click())).toBe(400);
      expect(await page.textContent(".alert")).toBe(
        lang === "en"
          ? "Nothing is changed yet: change at least one field."
          : "Er is nog niets gewijzigd: wijzig ten minste één veld.",
      );
      expect((await h.store.getOrder(id))?.amendmentLog ?? []).toEqual([]);
      await context.close();
    },
    90_000,
  );

  it("never lets the proposer decide their own amendment, through the page or by replaying the form", async () => {
    // admin may propose and decide: only four eyes stands between them and their own amendment.
    const order = await widenable("AMEND/FOUR/EYES");
    const { context, page } = await signIn(browser, server.url, "admin");
    await page.goto(`/console/orders/${order.id}/amend`);
    await page.check("input[name=mode][value=shadow]");
    await page.fill("#reason", "record only while the appeal runs");
    await page.locator("button[value=preview]").click();
    await page.locator("button[value=submit]").click();
    await page.waitForURL(/\/amendments\/amd_1/);
    const path = new URL(page.url()).pathname;
    expect(await page.textContent("#four-eyes")).toBe(
      "You proposed this amendment, so a second person must approve or reject it.",
    );
    expect(await page.getByRole("button", { name: "Approve amendment" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Reject amendment" }).count()).toBe(0);

    for (const [step, form] of [
      ["approve", { note: "" }],
      ["reject", { reason: "mine" }],
    ] as const) {
      const replay = await page.request.post(`${path}/${step}`, {
        form: { csrf: await csrfOf(page), ...form },
        headers: { origin: server.url },
        maxRedirects: 0,
      });
      expect(replay.status()).toBe(403);
      expect(await replay.text()).toContain("You proposed this amendment");
    }
    expect((await h.store.getOrder(order.id))?.amendmentLog?.[0]?.status).toBe("pending");
    // A second proposal waits for this one to be decided.
    await page.goto(`/console/orders/${order.id}`);
    expect(await page.locator("#propose-amendment").count()).toBe(0);
    const second = await page.goto(`/console/orders/${order.id}/amend`);
    expect(second?.status()).toBe(409);
    expect(await page.textContent("main .alert")).toBe(
      "Amendment amd_1 waits for a decision: it must be approved or rejected before another is proposed.",
    );
    await context.close();

    // Another approver may decide it.
    const { context: ac, page: ap } = await signIn(browser, server.url, "approver2");
    await ap.goto(path);
    await ap.getByRole("button", { name: "Approve amendment" }).click();
    await ap.waitForURL(/done=approved$/);
    expect((await h.store.getOrder(order.id))?.mode).toBe("shadow");
    await ac.close();
  }, 90_000);

  it.each(["en", "nl"] as const)(
    "has no serious accessibility violations on any amendment page in %s, at desktop and phone width",
    async (lang) => {
      const fresh = await widenable(`A11Y/AMEND/${lang}`);
      const decided = await widenable(`A11Y/AMEND/DECIDED/${lang}`);
      for (const [i, step] of (["approve", "reject"] as const).entries()) {
        const amended = await h.call("POST", `/v1/orders/${decided.id}/amendments`, {
          as: "responder",
          body: { changes: { effectiveUntil: `2026-0${6 + i}-01T00:00:00Z` }, reason: `step ${step}` },
        });
        await h.call("POST", `/v1/orders/${decided.id}/amendments/${amended.body.id}/${step}`, {
          as: "approver",
          body: step === "approve" ? {} : { reason: "not needed" },
        });
      }
      const pending = await widenable(`A11Y/AMEND/PENDING/${lang}`);
      await h.call("POST", `/v1/orders/${pending.id}/amendments`, {
        as: "admin",
        body: { changes: { jurisdictions: ["IN-MH", "IN-KA"] }, reason: "wider" },
      });
      const { context, page } = await signIn(browser, server.url, "admin", { lang });
      const { context: ac, page: ap } = await signIn(browser, server.url, "approver", { lang });
      const visits: [string, Page, (p: Page) => Promise<unknown>][] = [
        ["amend-order", page, (p) => p.goto(`/console/orders/${decided.id}`)],
        ["amend-form", page, (p) => p.goto(`/console/orders/${fresh.id}/amend`)],
        [
          "amend-errors",
          page,
          async (p) => {
            await p.fill("#targetIds", "bad id");
            await p.fill("#effectiveFrom", "2026-05-01");
            await p.fill("#effectiveUntil", "2026-04-01");
            await p.locator("button[value=preview]").click();
          },
        ],
        [
          "amend-preview",
          page,
          async (p) => {
            await p.goto(`/console/orders/${fresh.id}/amend`);
            await p.locator("input[name=jurisdictions][value='IN-KA']").check();
            await p.check("input[name=action][value=prevent_hosting]");
            await p.fill("#exemptAccountIds", "acct_x");
            await p.fill("#reason", "wider, hosts only");
            await p.locator("button[value=preview]").click();
          },
        ],
        ["amend-blocked", page, (p) => p.goto(`/console/orders/${pending.id}/amend`)],
        ["amend-four-eyes", page, (p) => p.goto(`/console/orders/${pending.id}/amendments/amd_1`)],
        ["amend-review", ap, (p) => p.goto(`/console/orders/${pending.id}/amendments/amd_1`)],
        [
          "amend-review-error",
          ap,
          (p) =>
            p
              .getByRole("button", { name: lang === "en" ? "Reject amendment" : "Wijziging afwijzen" })
              .click(),
        ],
        ["amend-approved", ap, (p) => p.goto(`/console/orders/${decided.id}/amendments/amd_1`)],
        ["amend-rejected", ap, (p) => p.goto(`/console/orders/${decided.id}/amendments/amd_2`)],
      ];
      const report: Record<string, unknown> = {};
      for (const [name, p, visit] of visits) {
        await visit(p);
        await p.waitForLoadState();
        expect(await p.getAttribute("html", "lang"), name).toBe(lang);
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, with breaks between blocks, so adjacent elements' words do not run together
        expect(await p.innerText("main"), name).not.toMatch(API_NAMES);
        for (const width of [1280, 390]) {
          await p.setViewportSize({ width, height: 900 });
          const found = serious(await axe(p));
          if (found.length > 0) report[`${name}@${width}`] = found;
        }
        const { overflow } = await shoot(p, `${name}-${lang}`);
        expect(overflow, `${name} scrolls sideways`).toEqual([]);
      }
      expect(report).toEqual({});
      await context.close();
      await ac.close();
    },
    120_000,
  );
});
