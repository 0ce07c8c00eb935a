/**
 * OpenID Connect sign-in to the console, end to end: the real Node entry (a child process, embedded
 * mode) configured with CORDON_OIDC_*, a real OpenID Connect provider (`oidc-provider`, its own child
 * process: test/support/oidc-provider-main.ts) and headless Chromium going through the provider's login
 * and consent pages.
 * 1. OIDC users land in the console with the role their groups map to; the page shows their email;
 * 2. an OIDC approver approves an OIDC responder's order; an OIDC admin cannot approve their own
 *    (FOUR_EYES), yet may approve the order of the API token user with the same short name;
 * 3. a user with no mapped group is refused with a page saying so, and it is logged without tokens;
 * 4. a callback with a wrong state, a tampered nonce or PKCE verifier, or no sign-in in progress is
 *    refused with 400 and no session;
 * 5. sessions (OIDC and token) survive a restart of the server;
 * 6. sign-out ends the local session and offers the provider's own sign-out; a provider that is down
 *    does not stop the start, the page says it cannot be reached, and tokens still sign in;
 * 7. axe-core on the sign-in page states, both languages, desktop and phone width, with screenshots.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { axe, csrfOf, serious, shoot } from "../support/console.js";
import { orderInput } from "../support/fixtures.js";
import { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, type OidcProvider, startOidcProvider } from "../support/oidc.js";
import { freePort } from "../support/redis.js";
import { readResult, requestInit } from "../support/requests.js";
import { type ServerProcess, startServer } from "../support/server.js";

const ADA_TOKEN = "api-admin-token-secret-000000001";
const AUDITOR_TOKEN = "api-auditor-token-secret-00000001";

let provider: OidcProvider;
let server: ServerProcess;
let browser: Browser;
let env: Record<string, string>;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const port = await freePort();
  provider = await startOidcProvider(`http://127.0.0.1:${port}`);
  env = {
    PORT: String(port),
    CORDON_DATA_DIR: mkdtempSync(join(tmpdir(), "cordon-oidc-")),
    // A token principal named `ada`, as the OIDC user `ada` is at the provider: two different people.
    CORDON_TOKENS: `ada:admin:${ADA_TOKEN},audit-1:auditor:${AUDITOR_TOKEN}`,
    CORDON_OIDC_ISSUER: provider.issuer,
    CORDON_OIDC_CLIENT_ID: OIDC_CLIENT_ID,
    CORDON_OIDC_CLIENT_SECRET: OIDC_CLIENT_SECRET,
    CORDON_OIDC_SCOPES: "openid email profile groups",
    CORDON_OIDC_ROLES: "cordon-admins:admin,cordon-approvers:approver,cordon-responders:responder",
  };
  server = await startServer(env, { timeoutMs: 60_000 });
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  await provider?.stop();
});

async function newPage(lang?: "en" | "nl"): Promise<Page> {
  const context = await browser.newContext({
    baseURL: server.url,
    viewport: { width: 1280, height: 900 },
    ...(lang ? { locale: lang === "nl" ? "nl-NL" : "en-GB" } : {}),
  });
  contexts.push(context);
  return context.newPage();
}

/** From the console's sign-in page to the provider's login page (the transaction cookie now set). */
async function toProvider(page: Page, lang: "en" | "nl" = "en"): Promise<void> {
  await page.goto(`/console/sign-in?lang=${lang}`);
  await page.locator("#oidc-sign-in").click();
  await page.waitForURL((url) => url.href.startsWith(provider.issuer));
}

/** Through the provider's login and consent pages, back to the console. */
async function atProvider(page: Page, login: string): Promise<void> {
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", "any password");
  await page.locator("button[type=submit]").click();
  await page.waitForLoadState();
  // The consent page, the first time this browser's user meets the client.
  for (let i = 0; i < 3 && page.url().startsWith(`${provider.issuer}/interaction`); i++) {
    const button = page.locator("button[type=submit]").first();
    if ((await button.count()) === 0) break;
    await button.click();
    await page.waitForLoadState();
  }
}

async function oidcSignIn(login: string, lang: "en" | "nl" = "en"): Promise<Page> {
  const page = await newPage(lang);
  await toProvider(page, lang);
  await atProvider(page, login);
  await page.waitForURL(/\/console\/(orders|review)/);
  return page;
}

/** Whether the page's browser holds a console session: the orders page, or the sign-in page. */
async function signedIn(page: Page): Promise<boolean> {
  await page.goto("/console/orders");
  return new URL(page.url()).pathname === "/console/orders";
}

const logs = () => server.stderr.join("") + server.stdout.join("");

async function fillOrder(page: Page, meetingIds: string, reference: string) {
  await page.goto("/console/orders/new?lang=en");
  await page.fill("#reference", reference);
  await page.fill("#authorityName", "Bombay High Court");
  await page.selectOption("#country", "IN");
  await page.getByRole("button", { name: "Show regions" }).click();
  await page.getByLabel(/Mahārāshtra \(IN-MH\)/).check();
  await page.fill("#targetIds", meetingIds);
  await page.fill("#receivedAt", "2026-02-20");
  await page.fill("#effectiveFrom", "2026-03-01");
  await page.getByRole("button", { name: "Preview" }).click();
  await page.getByRole("button", { name: "Submit for approval" }).click();
  await page.waitForURL(/\/console\/orders\/ord_/);
  return new URL(page.url()).pathname;
}

async function apiGet(path: string) {
  return readResult(await fetch(server.url + path, requestInit("GET", AUDITOR_TOKEN)));
}

describe("OpenID Connect sign-in", () => {
  it("signs OIDC users in with the role their groups map to, showing their email", async () => {
    const rita = await oidcSignIn("rita");
    expect(new URL(rita.url()).pathname).toBe("/console/orders");
    expect(await rita.textContent("header .who")).toBe("Signed in as rita@example.org (responder)");
    const anton = await oidcSignIn("anton");
    expect(new URL(anton.url()).pathname).toBe("/console/review");
    expect(await anton.textContent("header .who")).toBe("Signed in as anton@example.org (approver)");
    // The provider's tokens and the authorization code never reach the log.
    expect(logs()).toMatch(
      /"message":"console sign-in","principal":"oidc:127\.0\.0\.1:\d+#anton","role":"approver"/,
    );
    expect(logs()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  }, 90_000);

  it("lets an OIDC approver approve an OIDC responder's order; an OIDC creator cannot approve their own", async () => {
    const rita = await oidcSignIn("rita");
    const path = await fillOrder(rita, "81234567801", "OIDC/1/2026");
    const id = decodeURIComponent(path.split("/").at(-1) as string);

    const anton = await oidcSignIn("anton");
    await anton.goto(path);
    await anton.fill("#approve-reason", "checked against the court's order");
    await anton.getByRole("button", { name: "Approve" }).click();
    await anton.waitForURL(/done=approved/);
    const approved = await apiGet(`/v1/orders/${encodeURIComponent(id)}`);
    expect(approved.body).toMatchObject({ status: "approved" });
    expect(approved.body.createdBy).toMatch(/^oidc:127\.0\.0\.1:\d+#rita$/);
    expect(approved.body.decidedBy).toMatch(/^oidc:127\.0\.0\.1:\d+#anton$/);

    // ada (OIDC, admin) may create and approve: four eyes alone stands between her and her own order.
    const ada = await oidcSignIn("ada");
    const own = await fillOrder(ada, "81234567802", "OIDC/2/2026");
    const replay = await ada.request.post(`${own}/approve`, {
      form: { csrf: await csrfOf(ada), note: "" },
      headers: { origin: server.url },
      maxRedirects: 0,
    });
    expect(replay.status()).toBe(403);
    expect(await replay.text()).toContain("cannot also approve");
    const ownId = decodeURIComponent(own.split("/").at(-1) as string);
    expect((await apiGet(`/v1/orders/${encodeURIComponent(ownId)}`)).body.status).toBe("pending");
    // The API token principal named `ada` is another person: the OIDC ada may approve its order.
    const created = await readResult(
      await fetch(
        `${server.url}/v1/orders`,
        requestInit("POST", ADA_TOKEN, { body: orderInput({ reference: "TOKEN/ADA/1" }) }),
      ),
    );
    expect(created.status).toBe(201);
    const other = await ada.request.post(`/console/orders/${encodeURIComponent(created.body.id)}/approve`, {
      form: { csrf: await csrfOf(ada), note: "a second person" },
      headers: { origin: server.url },
      maxRedirects: 0,
    });
    expect(other.status()).toBe(303);
    expect((await apiGet(`/v1/orders/${encodeURIComponent(created.body.id)}`)).body.status).toBe("approved");
    // And the token user `ada` may approve the OIDC ada's order.
    const byToken = await readResult(
      await fetch(
        `${server.url}/v1/orders/${encodeURIComponent(ownId)}/approve`,
        requestInit("POST", ADA_TOKEN, { body: {} }),
      ),
    );
    expect(byToken.status).toBe(200);
  }, 120_000);

  it("refuses a user none of whose groups maps to a role, with a page saying so, and logs it", async () => {
    const page = await newPage();
    await toProvider(page);
    await atProvider(page, "nora");
    await page.waitForURL(/\/console\/oidc\/callback/);
    expect(await page.textContent("h1")).toBe("No role in Cordon");
    expect(await page.textContent("main")).toContain(
      "You signed in as nora@example.org, but none of your groups has a role in Cordon",
    );
    expect(await signedIn(page)).toBe(false);
    expect(logs()).toMatch(
      /"message":"console oidc sign-in refused: no group mapped to a role","principal":"oidc:127\.0\.0\.1:\d+#nora","groups":\["staff"\]/,
    );
  }, 90_000);

  it("refuses a callback with a wrong state, a tampered nonce or verifier, or no sign-in in progress: 400, no session", async () => {
    // The browser's transaction (the cookie `start` set) altered before the provider answers: the
    // provider's state, the ID token's nonce or the code's PKCE challenge no longer match it; or
    // gone, as in a browser that never started a sign-in (an attacker's callback link).
    for (const field of ["state", "nonce", "verifier", "none"] as const) {
      const page = await newPage();
      const statuses: number[] = [];
      page.on("response", (r) => {
        if (new URL(r.url()).pathname === "/console/oidc/callback") statuses.push(r.status());
      });
      await toProvider(page);
      const context = page.context();
      const cookie = (await context.cookies()).find((c) => c.name === "cordon_oidc");
      expect(cookie, "the transaction cookie").toBeDefined();
      const kept = cookie as NonNullable<typeof cookie>;
      if (field === "none") {
        await context.clearCookies({ name: "cordon_oidc" });
      } else {
        const transaction = JSON.parse(decodeURIComponent(kept.value));
        expect(transaction[field]).toBeTruthy();
        // Well-formed, just not the one sent: a verifier is 43-128 unreserved characters.
        transaction[field] = field === "verifier" ? "v".repeat(43) : `forged-${field}-value`;
        await context.addCookies([{ ...kept, value: encodeURIComponent(JSON.stringify(transaction)) }]);
      }
      const refusedBefore = logs().split("console oidc callback refused").length;
      await atProvider(page, "anton");
      await page.waitForURL(/\/console\/oidc\/callback/);
      expect(statuses, field).toEqual([400]);
      await expect
        .poll(() => logs().split("console oidc callback refused").length, { message: field })
        .toBe(refusedBefore + 1);
      expect(await page.textContent("main"), field).toContain("Sign-in did not complete");
      expect(await signedIn(page), field).toBe(false);
    }
    // And a made-up callback.
    const made = await fetch(`${server.url}/console/oidc/callback?code=x&state=y`, { redirect: "manual" });
    expect(made.status).toBe(400);
    expect(made.headers.get("set-cookie") ?? "").not.toContain("cordon_session=");
    expect(logs()).toContain("console oidc callback refused");
  }, 120_000);

  it("keeps OIDC and token sessions across a restart of the server (embedded mode)", async () => {
    const anton = await oidcSignIn("anton", "nl");
    const token = await newPage();
    await token.goto("/console/sign-in");
    await token.fill("#token", AUDITOR_TOKEN);
    await token.locator("#token-sign-in").click();
    await token.waitForURL(/\/console\/orders/);

    await server.stop();
    server = await startServer(env, { timeoutMs: 60_000 });

    await anton.goto("/console/review");
    expect(new URL(anton.url()).pathname).toBe("/console/review");
    expect(await anton.textContent("header .who")).toBe("Ingelogd als anton@example.org (beoordelaar)");
    expect(await signedIn(token)).toBe(true);
  }, 120_000);

  it("starts with the provider down, and then says the sign-in service cannot be reached; tokens still sign in", async () => {
    const down = await startServer(
      {
        ...env,
        PORT: "0",
        CORDON_DATA_DIR: mkdtempSync(join(tmpdir(), "cordon-oidc-down-")),
        // Nothing listens there.
        CORDON_OIDC_ISSUER: `http://127.0.0.1:${await freePort()}`,
      },
      { timeoutMs: 60_000 },
    );
    try {
      const report: Record<string, unknown> = {};
      for (const lang of ["en", "nl"] as const) {
        const context = await browser.newContext({ baseURL: down.url });
        contexts.push(context);
        const page = await context.newPage();
        await page.goto(`/console/sign-in?lang=${lang}`);
        const statuses: number[] = [];
        page.on("response", (r) => {
          if (new URL(r.url()).pathname === "/console/oidc/start") statuses.push(r.status());
        });
        await page.locator("#oidc-sign-in").click();
        await page.waitForLoadState();
        expect(statuses).toEqual([503]);
        expect(await page.textContent("main")).toContain(
          lang === "en"
            ? "The sign-in service cannot be reached right now"
            : "De inlogdienst is nu niet bereikbaar",
        );
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: 900 });
          const found = serious(await axe(page));
          if (found.length > 0) report[`oidc-unavailable-${lang}@${width}`] = found;
        }
        const { overflow } = await shoot(page, `oidc-unavailable-${lang}`);
        expect(overflow).toEqual([]);
        await page.fill("#token", AUDITOR_TOKEN);
        await page.locator("#token-sign-in").click();
        await page.waitForURL(/\/console\/orders/);
      }
      expect(report).toEqual({});
      expect(down.stderr.join("")).toContain("oidc discovery failed");
    } finally {
      await down.stop();
    }
  }, 120_000);

  it("signs out locally and offers the provider's own sign-out", async () => {
    const page = await oidcSignIn("rita");
    await page.locator("form[action='/console/sign-out'] button").click();
    const link = page.locator("#provider-sign-out");
    const href = (await link.getAttribute("href")) ?? "";
    expect(href.startsWith(`${provider.issuer}/session/end`)).toBe(true);
    expect(new URL(href).searchParams.get("client_id")).toBe(OIDC_CLIENT_ID);
    expect(await signedIn(page)).toBe(false);
  }, 90_000);

  it("passes axe on the sign-in page states, in English and Dutch, at desktop and phone width", async () => {
    const report: Record<string, unknown> = {};
    for (const lang of ["en", "nl"] as const) {
      const states: [string, (p: Page) => Promise<void>][] = [
        ["oidc-sign-in", async (p) => void (await p.goto(`/console/sign-in?lang=${lang}`))],
        [
          "oidc-refused",
          async (p) => {
            await toProvider(p, lang);
            await atProvider(p, "nora");
            await p.waitForURL(/\/console\/oidc\/callback/);
          },
        ],
        [
          "oidc-failed",
          async (p) => {
            await p.goto(`/console/oidc/callback?code=x&state=y&lang=${lang}`);
          },
        ],
        [
          "oidc-signed-out",
          async (p) => {
            await toProvider(p, lang);
            await atProvider(p, "rita");
            await p.waitForURL(/\/console\/orders/);
            await p.locator("form[action='/console/sign-out'] button").click();
            await p.locator("#provider-sign-out").waitFor();
          },
        ],
      ];
      for (const [name, visit] of states) {
        const page = await newPage(lang);
        await visit(page);
        expect(await page.getAttribute("html", "lang"), name).toBe(lang);
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: 900 });
          const found = serious(await axe(page));
          if (found.length > 0) report[`${name}-${lang}@${width}`] = found;
        }
        const { overflow } = await shoot(page, `${name}-${lang}`);
        expect(overflow, `${name}-${lang} scrolls sideways`).toEqual([]);
      }
    }
    expect(report).toEqual({});
  }, 120_000);
});
