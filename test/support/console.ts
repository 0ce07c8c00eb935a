/**
 * Console page tests need a real HTTP server (a browser cannot call `app.request`): the harness's app
 * served by @hono/node-server on a free port, plus helpers to sign in, run axe-core in the page and take
 * screenshots at desktop and phone width.
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type Harness, secretOf, type Who } from "./harness.js";

export const OUT = new URL("../../test-results/", import.meta.url).pathname;

export async function serveHarness(h: Harness): Promise<{ url: string; close(): Promise<void> }> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function signIn(
  browser: Browser,
  base: string,
  who: Who,
  opts: { width?: number; lang?: "en" | "nl" } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    baseURL: base,
    viewport: { width: opts.width ?? 1280, height: 900 },
  });
  const page = await context.newPage();
  await page.goto(`/console/sign-in${opts.lang ? `?lang=${opts.lang}` : ""}`);
  await page.fill("#token", secretOf(who));
  await page.locator("main button[type=submit]").click();
  await page.waitForURL(/\/console\/(orders|review)/);
  return { context, page };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * Runs axe-core in the page. The pages' CSP forbids every script, so axe is not added as a <script>: it
 * is evaluated through the DevTools protocol (Playwright's evaluate), which CSP does not govern.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  // Once per document: the same page at its second width already has it.
  if (!(await page.evaluate(() => typeof (window as any).axe?.run === "function")))
    await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const result = await (window as any).axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      // Only the violations are read. Every rule still runs on every node; axe just skips describing
      // each passing and inapplicable node (selectors, HTML), which was a third to a half of its time.
      resultTypes: ["violations"],
    });
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n: any) => ({ target: n.target })),
    }));
  });
}

export const serious = (violations: AxeViolation[]) =>
  violations.filter((v) => v.impact === "serious" || v.impact === "critical");

/** Screenshots of the page as it is, at desktop and phone width; checks nothing scrolls sideways. */
export async function shoot(page: Page, name: string): Promise<{ overflow: number[] }> {
  await mkdir(OUT, { recursive: true });
  const overflow: number[] = [];
  for (const [label, width] of [
    ["desktop", 1280],
    ["phone", 390],
  ] as const) {
    await page.setViewportSize({ width, height: label === "phone" ? 844 : 900 });
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scroll > width) overflow.push(width);
    await page.screenshot({ path: `${OUT}console-${name}-${label}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  return { overflow };
}

/** The session's CSRF token, as the page carries it (every page has the sign-out form). */
export async function csrfOf(page: Page): Promise<string> {
  return (await page.getAttribute("form[action='/console/sign-out'] input[name=csrf]", "value")) ?? "";
}
