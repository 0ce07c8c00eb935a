/**
 * The checks' fast path (`src/http/routes/check-fast-path.ts`): it answers well-formed checks without the
 * router's validation, and hands everything else to the router, whose answers (statuses, envelopes,
 * headers) it does not change. The whole check contract runs both ways in
 * `test/contract/check-routes.test.ts`; here, that the fast path is the one answering, and that its
 * answers carry the router's headers.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { BatchRequest, CheckRequest } from "../../src/http/routes/v1-check.js";
import { PLACES, T0 } from "../support/fixtures.js";
import { type Harness, makeHarness, secretOf } from "../support/harness.js";

let harnesses: Harness[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(harnesses.map((h) => h.close()));
  harnesses = [];
});

async function open(fastChecks: boolean): Promise<Harness> {
  const h = await makeHarness({ now: T0, fastChecks });
  harnesses.push(h);
  return h;
}

/** A POST as a client sends it over HTTP: with its Content-Length (or without, `sized: false`). */
function post(h: Harness, path: string, body: string, headers: Record<string, string> = {}, sized = true) {
  return h.app.request(path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${secretOf("checker")}`,
      ...(sized ? { "content-length": String(Buffer.byteLength(body)) } : {}),
      ...headers,
    },
    body,
  });
}

const valid = JSON.stringify({ meetingId: "81234567890", ip: PLACES.mumbai.ip });

describe("the checks' fast path", () => {
  it.each([true, false])(
    "answers a well-formed check without the router's validation (sized: %s)",
    async (sized) => {
      const h = await open(true);
      const single = vi.spyOn(CheckRequest, "safeParseAsync");
      const batch = vi.spyOn(BatchRequest, "safeParseAsync");
      const one = await post(h, "/v1/check", valid, {}, sized);
      expect(one.status).toBe(200);
      const many = await post(
        h,
        "/v1/check/batch",
        JSON.stringify({ checks: [JSON.parse(valid), JSON.parse(valid)] }),
        {},
        sized,
      );
      expect(many.status).toBe(200);
      expect((await many.json()).results).toHaveLength(2);
      expect(single).not.toHaveBeenCalled();
      expect(batch).not.toHaveBeenCalled();
    },
  );

  it("hands a body the schema refuses to the router, which names the issue", async () => {
    const h = await open(true);
    const single = vi.spyOn(CheckRequest, "safeParseAsync");
    const res = await post(h, "/v1/check", JSON.stringify({ meetingId: "81234567890" }));
    expect(res.status).toBe(400);
    expect(single).toHaveBeenCalledTimes(1);
    expect((await res.json()).error.issues[0].path).toBe("ip");
  });

  it("answers with the router's headers and keeps the caller's request id", async () => {
    const fast = await open(true);
    const router = await open(false);
    const headers = (res: Response) => ({
      type: res.headers.get("content-type"),
      cache: res.headers.get("cache-control"),
      id: res.headers.get("x-request-id"),
    });
    const ids: Record<string, string>[] = [
      { "x-request-id": "join-42" },
      { "x-request-id": "not a plain id" },
      {},
    ];
    for (const extra of ids) {
      const a = await post(fast, "/v1/check", valid, extra);
      const b = await post(router, "/v1/check", valid, extra);
      expect(a.status).toBe(b.status);
      const [ha, hb] = [headers(a), headers(b)];
      expect({ ...ha, id: null }).toEqual({ ...hb, id: null });
      if (extra["x-request-id"] === "join-42") expect(ha.id).toBe("join-42");
      else expect(ha.id).toMatch(/^[0-9a-f-]{36}$/);
      const [ba, bb] = [await a.json(), await b.json()];
      expect({ ...ba, decisionId: "" }).toEqual({ ...bb, decisionId: "" });
    }
  });

  it.each([
    ["no token", { authorization: "" }],
    ["an unknown token", { authorization: "Bearer nope-nope-nope" }],
    ["a role that may not check", { authorization: `Bearer ${secretOf("auditor")}` }],
    ["form data", { "content-type": "application/x-www-form-urlencoded" }],
    ["a JSON type the router's gates read differently", { "content-type": "application/json; x" }],
    ["a body larger than stated limits", { "content-length": String(64 * 1024 + 1) }],
  ])("answers %s exactly as the router does", async (_, extra) => {
    const fast = await open(true);
    const router = await open(false);
    const a = await post(fast, "/v1/check", valid, extra);
    const b = await post(router, "/v1/check", valid, extra);
    expect(a.status).toBe(b.status);
    expect(a.status).toBeGreaterThanOrEqual(400);
    const [ba, bb] = [await a.json(), await b.json()];
    expect({ ...ba.error, requestId: "" }).toEqual({ ...bb.error, requestId: "" });
    expect(a.headers.get("cache-control")).toBe(b.headers.get("cache-control"));
  });

  it("answers malformed JSON and an oversized chunked batch exactly as the router does", async () => {
    const fast = await open(true);
    const router = await open(false);
    const big = JSON.stringify({
      checks: Array.from({ length: 1000 }, () => ({ meetingId: "x".repeat(1200), ip: "8.8.8.8" })),
    });
    for (const [path, body, sized] of [
      ["/v1/check", "{not json", true],
      ["/v1/check/batch", big, false],
    ] as const) {
      const a = await post(fast, path, body, {}, sized);
      const b = await post(router, path, body, {}, sized);
      expect(a.status).toBe(b.status);
      const [ba, bb] = [await a.json(), await b.json()];
      expect({ ...ba.error, requestId: "" }).toEqual({ ...bb.error, requestId: "" });
    }
  });
});
