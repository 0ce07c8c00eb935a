/**
 * The checks' fast path on Node's raw request (`src/runtime/node/check-front.ts`), over real HTTP: it
 * answers what it takes without the adapter, and every request, taken or not, gets the answer the
 * router gives (the same app served through @hono/node-server alone, checks through the router).
 */
import { once } from "node:events";
import { createServer, type RequestListener, request, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { checkFastPathOf } from "../../src/http/routes/check-fast-path.js";
import { CheckRequest } from "../../src/http/routes/v1-check.js";
import { nodeCheckFront } from "../../src/runtime/node/check-front.js";
import { PLACES, T0 } from "../support/fixtures.js";
import { type Harness, makeHarness, secretOf } from "../support/harness.js";

let fast: Harness;
let router: Harness;
let servers: Server[] = [];
let fastUrl: string;
let routerUrl: string;
let adapterCalls = 0;

async function listen(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

beforeAll(async () => {
  fast = await makeHarness({ now: T0 });
  router = await makeHarness({ now: T0, fastChecks: false });
  const front = checkFastPathOf(fast.app);
  if (!front) throw new Error("no fast path");
  const adapter = getRequestListener(fast.app.fetch);
  fastUrl = await listen(
    nodeCheckFront(
      front,
      (req, env) => fast.app.fetch(req, env),
      (req, res) => {
        adapterCalls++;
        return adapter(req, res);
      },
    ),
  );
  routerUrl = await listen(getRequestListener(router.app.fetch));
});
afterAll(async () => {
  for (const s of servers) s.close();
  servers = [];
  await Promise.all([fast.close(), router.close()]);
});

interface Sent {
  path: string;
  body: string | Buffer;
  headers?: Record<string, string | string[]>;
  chunked?: boolean;
}
interface Got {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

function send(base: string, s: Sent): Promise<Got> {
  const body = typeof s.body === "string" ? Buffer.from(s.body) : s.body;
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${s.path}`,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${secretOf("checker")}`,
          ...(s.chunked ? { "transfer-encoding": "chunked" } : { "content-length": body.length }),
          ...s.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
            headers: res.headers,
          }),
        );
      },
    );
    req.on("error", reject);
    if (s.chunked) {
      for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
      req.end();
    } else req.end(body);
  });
}

/** What must agree: status, the body without its generated ids, and the headers the router sets. */
const comparable = (g: Got) => ({
  status: g.status,
  body: g.body.error
    ? { ...g.body.error, requestId: "" }
    : g.body.results
      ? g.body.results.map((r: any) => ({ ...r, decisionId: "" }))
      : { ...g.body, decisionId: "" },
  type: g.headers["content-type"],
  cache: g.headers["cache-control"],
});

const one = { meetingId: "81234567890", ip: PLACES.mumbai.ip };
const overBatch = JSON.stringify({
  checks: Array.from({ length: 1000 }, () => ({ meetingId: "x".repeat(1100), ip: "8.8.8.8" })),
});

describe("the checks' fast path on Node's raw request", () => {
  it("answers a check and a batch itself, without the adapter or the schema", async () => {
    const spy = vi.spyOn(CheckRequest, "safeParseAsync");
    const before = adapterCalls;
    const a = await send(fastUrl, { path: "/v1/check", body: JSON.stringify(one) });
    const b = await send(fastUrl, { path: "/v1/check/batch", body: JSON.stringify({ checks: [one, one] }) });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(adapterCalls).toBe(before);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it.each<[string, Sent]>([
    ["a check", { path: "/v1/check", body: JSON.stringify(one) }],
    [
      "a batch",
      { path: "/v1/check/batch", body: JSON.stringify({ checks: [one, { ...one, ip: "8.8.8.8" }] }) },
    ],
    [
      "a dial-in caller",
      { path: "/v1/check", body: JSON.stringify({ meetingId: "m1", phone: "+74951234567" }) },
    ],
    ["a missing locator", { path: "/v1/check", body: JSON.stringify({ meetingId: "m1" }) }],
    ["an unknown field", { path: "/v1/check", body: JSON.stringify({ ...one, extra: 1 }) }],
    ["malformed JSON", { path: "/v1/check", body: "{nope" }],
    ["a byte-order mark", { path: "/v1/check", body: `\uFEFF${JSON.stringify(one)}` }],
    ["bytes that are not UTF-8", { path: "/v1/check", body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }],
    ["no token", { path: "/v1/check", body: JSON.stringify(one), headers: { authorization: "" } }],
    [
      "a role that may not check",
      {
        path: "/v1/check",
        body: JSON.stringify(one),
        headers: { authorization: `Bearer ${secretOf("auditor")}` },
      },
    ],
    [
      "two Authorization fields",
      {
        path: "/v1/check",
        body: JSON.stringify(one),
        headers: { authorization: [`Bearer ${secretOf("checker")}`, `Bearer ${secretOf("checker")}`] },
      },
    ],
    [
      "form data",
      { path: "/v1/check", body: "a=1", headers: { "content-type": "application/x-www-form-urlencoded" } },
    ],
    [
      "a body over the limit",
      { path: "/v1/check", body: JSON.stringify({ ...one, pad: "x".repeat(70_000) }) },
    ],
    ["a chunked check", { path: "/v1/check", body: JSON.stringify(one), chunked: true }],
    ["a chunked batch over the limit", { path: "/v1/check/batch", body: overBatch, chunked: true }],
    ["another path", { path: "/v1/check/", body: JSON.stringify(one) }],
  ])("answers %s as the router does", async (_, sent) => {
    const [a, b] = await Promise.all([send(fastUrl, sent), send(routerUrl, sent)]);
    expect(comparable(a)).toEqual(comparable(b));
  });

  it("keeps a plain request id and replaces another", async () => {
    const kept = await send(fastUrl, {
      path: "/v1/check",
      body: JSON.stringify(one),
      headers: { "x-request-id": "join-7" },
    });
    expect(kept.headers["x-request-id"]).toBe("join-7");
    const replaced = await send(fastUrl, {
      path: "/v1/check",
      body: JSON.stringify(one),
      headers: { "x-request-id": "a b" },
    });
    expect(replaced.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});
