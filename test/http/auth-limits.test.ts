/**
 * Failed authentication is logged and slowed (issue 10, hole 7), against the real Node entry, since the
 * client is the connection's address: each test's clients come from their own loopback address
 * (127.0.0.x), and a spoofed X-Forwarded-For changes nothing. Plus, in process, the per-principal
 * budget of a valid token calling routes its role may not.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRINCIPAL_BUDGET } from "../../src/http/rate-limit.js";
import { formBody } from "../support/console-http.js";
import { makeHarness } from "../support/harness.js";
import { type ServerProcess, secret, startServer, TOKENS } from "../support/server.js";

let dir: string;
let server: ServerProcess;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-auth-limits-"));
  server = await startServer({
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "auth-limits-ip-hash-key-0123456789abcdef",
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request from the loopback address `from`. */
function send(
  from: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      { method, headers, localAddress: from, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const WRONG = "guessed-secret-that-is-wrong-0001";
const bearer = (s: string) => ({ authorization: `Bearer ${s}` });
const logLines = () =>
  server.stderr
    .join("")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("failed bearer tokens on the API", () => {
  it("logs each failure, then answers 429 with Retry-After to the client that keeps failing", async () => {
    const from = "127.0.0.2";
    for (let i = 0; i < 10; i++) {
      const res = await send(from, "GET", "/v1/orders", bearer(WRONG));
      expect(res.status).toBe(401);
    }
    const limited = await send(from, "GET", "/v1/orders", {
      ...bearer(WRONG),
      "x-forwarded-for": "10.9.9.9",
    });
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body).error.code).toBe("RATE_LIMITED");
    const retry = Number(limited.headers["retry-after"]);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(limited.headers["cache-control"]).toBe("no-store");
    // A missing token counts too.
    expect((await send(from, "GET", "/v1/orders")).status).toBe(429);

    // Another client is not slowed by the first one's failures.
    expect((await send("127.0.0.3", "GET", "/v1/orders", bearer(WRONG))).status).toBe(401);
    // A valid token still works from the limited client: success is never looked up (the hot path).
    expect((await send(from, "GET", "/v1/orders", bearer(secret("auditor")))).status).toBe(200);

    const failures = logLines().filter(
      (l) => l.message === "authentication failed" && String(l.client).endsWith("127.0.0.2"),
    );
    expect(failures).toHaveLength(10);
    expect(failures[0]).toMatchObject({ level: "warn", route: "/v1/orders", method: "GET" });
    expect(
      logLines().filter(
        (l) => l.message === "authentication failures rate limited" && String(l.client).endsWith("127.0.0.2"),
      ),
    ).toHaveLength(1);
    expect(server.stderr.join("")).not.toContain(WRONG);
  });
});

describe("failed console sign-ins", () => {
  async function signIn(from: string, token: string): Promise<Answer> {
    const page = await send(from, "GET", "/console/sign-in");
    const cookie = String(page.headers["set-cookie"]?.[0]).split(";")[0] as string;
    return send(
      from,
      "POST",
      "/console/sign-in",
      { origin: server.url, cookie, "content-type": "application/x-www-form-urlencoded" },
      formBody({ csrf: cookie.split("=")[1] as string, lang: "en", token }),
    );
  }

  it("are logged, then slowed: once over the budget even the right token waits", async () => {
    const from = "127.0.0.4";
    for (let i = 0; i < 10; i++) expect((await signIn(from, WRONG)).status).toBe(401);
    const limited = await signIn(from, WRONG);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limited.body).toMatch(/^<!doctype html>/);
    expect(limited.body).toContain("Too many failed attempts");
    // The token is not looked at while the client is over its budget: guessing runs at its pace.
    expect((await signIn(from, secret("responder"))).status).toBe(429);
    // Someone else signs in as usual.
    expect((await signIn("127.0.0.5", secret("responder"))).status).toBe(303);

    const lines = logLines().filter((l) => String(l.client).endsWith("127.0.0.4"));
    expect(lines.filter((l) => l.message === "authentication failed")).toHaveLength(10);
    expect(lines[0]).toMatchObject({ level: "warn", route: "/console/sign-in", method: "POST" });
    expect(server.stderr.join("")).not.toContain(WRONG);
  });
});

describe("a valid principal calling routes its role may not", () => {
  it("is slowed by principal, logged with its name, and its own routes still answer", async () => {
    const h = await makeHarness();
    try {
      for (let i = 0; i < PRINCIPAL_BUDGET.burst; i++) {
        expect((await h.call("GET", "/v1/orders", { as: "checker" })).status).toBe(403);
      }
      const limited = await h.call("GET", "/v1/audit", { as: "checker" });
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe("RATE_LIMITED");
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // Another principal with the same role is not slowed by it; nor are the checker's own routes.
      expect((await h.call("GET", "/v1/orders", { as: "responder" })).status).toBe(200);
      const check = await h.call("POST", "/v1/check", {
        as: "checker",
        body: { meetingId: "m1", ip: "8.8.8.8" },
      });
      expect(check.status).toBe(200);
      // After waiting as told, the next wrong call is counted (403) again.
      h.clock.now += Number(limited.headers.get("retry-after")) * 1000;
      expect((await h.call("GET", "/v1/orders", { as: "checker" })).status).toBe(403);

      const warned = h.logs.filter((l) => l.message === "authentication failed");
      expect(warned).toHaveLength(PRINCIPAL_BUDGET.burst + 1);
      expect(warned[0]).toMatchObject({
        level: "warn",
        fields: { principal: "checker", route: "/v1/orders" },
      });
    } finally {
      await h.close();
    }
  });
});
