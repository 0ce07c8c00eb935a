/**
 * `GET /docs` on the real Node service (the entry as a child process, real HTTP): the API reference
 * page, with every script and stylesheet it references served by Cordon itself (200, the right content
 * type), and a Content-Security-Policy that lets the page load nothing from anywhere else.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServer, TOKENS } from "../support/server.js";

let dir: string;
let server: ServerProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-docs-"));
  server = await startServer({
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The `src` of every script and the `href` of every stylesheet in a page, as written. */
function assetsOf(html: string): { kind: "script" | "style"; ref: string }[] {
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => ({
    kind: "script" as const,
    ref: m[1] as string,
  }));
  const styles = [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g)].map((m) => ({
    kind: "style" as const,
    ref: m[1] as string,
  }));
  return [...scripts, ...styles];
}

describe("GET /docs", () => {
  it("answers the reference page without a token, with headers that allow only 'self'", async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = await res.text();
    expect(html).toContain('id="swagger-ui"');
    // No inline script or style: everything the page runs or styles with is a file of its own.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style\b|\bstyle="/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("serves every script and stylesheet the page references itself, with the right content type", async () => {
    const page = `${server.url}/docs`;
    const assets = assetsOf(await (await fetch(page)).text());
    expect(assets.filter((a) => a.kind === "script").length).toBeGreaterThanOrEqual(2);
    expect(assets.filter((a) => a.kind === "style").length).toBeGreaterThanOrEqual(1);
    for (const { kind, ref } of assets) {
      const url = new URL(ref, page);
      expect(url.origin, ref).toBe(server.url);
      const res = await fetch(url);
      expect(res.status, ref).toBe(200);
      expect(res.headers.get("content-type"), ref).toMatch(
        kind === "script" ? /^text\/javascript; charset=utf-8$/ : /^text\/css; charset=utf-8$/,
      );
      expect(res.headers.get("x-content-type-options"), ref).toBe("nosniff");
      const body = await res.text();
      expect(body.length, ref).toBeGreaterThan(kind === "script" ? 100 : 1000);
    }
    // The reference reads this instance's own document.
    const init = assets.find((a) => a.ref.endsWith("init.js"));
    expect(init).toBeDefined();
    const code = await (await fetch(new URL(init?.ref ?? "", page))).text();
    expect(code).toContain('"openapi.json"');
    expect(code).toContain("validatorUrl: null");
  });

  it("answers 404 with the error envelope for a file it does not serve", async () => {
    const res = await fetch(`${server.url}/docs/assets/swagger-ui.js.map`);
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("NOT_FOUND");
  });
});
