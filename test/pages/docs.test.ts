/**
 * The API reference at `/docs` in a real browser (headless Chromium) against the real Node service:
 * it renders the operations of /openapi.json, with no request leaving the server and no
 * Content-Security-Policy violation; a screenshot goes to test-results/ for a person to look at.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { type ServerProcess, startServer, TOKENS } from "../support/server.js";

let dir: string;
let server: ServerProcess;
let browser: Browser;
const OUT = new URL("../../test-results/", import.meta.url).pathname;

beforeAll(async () => {
  await mkdir(OUT, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "cordon-docs-page-"));
  server = await startServer({
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
  });
  browser = await launchBrowser();
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the API reference page", () => {
  it.each([
    ["desktop", 1280, 900],
    ["phone", 390, 844],
  ] as const)(
    "renders the operations at %s width, loading everything from the server itself",
    async (name, width, height) => {
      const page = await browser.newPage({ viewport: { width, height } });
      const requests: string[] = [];
      const problems: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("response", (r) => {
        if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
      });
      const res = await page.goto(`${server.url}/docs`, { waitUntil: "load" });
      expect(res?.status()).toBe(200);
      // Swagger UI renders the document's operations once it has fetched /openapi.json.
      const check = page.locator(".opblock-summary", { hasText: "/v1/check" }).first();
      await check.waitFor({ timeout: 60_000 });
      const text = (await page.textContent("#swagger-ui")) ?? "";
      expect(text).toContain("Cordon");
      expect(text).toMatch(/POST\s*\/v1\/check\b/);
      expect(text).toMatch(/GET\s*\/v1\/orders\b/);
      expect(text).toContain("Decide whether a participant may join a meeting");
      // Every request went to this server: the page, its assets and the document.
      expect(requests.length).toBeGreaterThanOrEqual(4);
      for (const url of requests) expect(new URL(url).origin, url).toBe(server.url);
      expect(requests).toContain(`${server.url}/openapi.json`);
      // Nothing the CSP refused, no failed request (the favicon included), and no script error.
      expect(problems).toEqual([]);
      await page.screenshot({ path: `${OUT}docs-${name}.png` });
      await page.close();
    },
    90_000,
  );
});
