/**
 * Bad input gets a clear 4xx in the error envelope, never a 5xx, and never reaches storage half-written.
 * The fuzz part posts thousands of arbitrary JSON bodies (and some non-JSON) to every write route.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH_BODY_LIMIT, BODY_LIMIT } from "../../src/http/app.js";
import { type Harness, makeHarness, orderInput } from "../support/harness.js";

let h: Harness;
let pendingId: string;
beforeAll(async () => {
  h = await makeHarness();
  pendingId = (await h.call("POST", "/v1/orders", { as: "responder", body: orderInput() })).body.id;
});
afterAll(() => h.close());

function expectEnvelope(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe("string");
  expect(res.body.error.message.length).toBeGreaterThan(5);
  expect(res.body.error.requestId).toBeTruthy();
}

describe("the check refuses bad input with 400 naming the field", () => {
  it.each([
    ["an IPv4 with an octet above 255", "256.1.1.1"],
    ["an IPv4 with leading zeros", "010.1.1.1"],
    ["a CIDR", "8.8.8.0/24"],
    ["a hostname", "example.com"],
    ["an IPv6 with a zone", "fe80::1%eth0"],
    ["a truncated IPv6", "2001:db8:::1"],
    ["an empty string", ""],
    ["padding spaces", " 8.8.8.8 "],
    ["a very long string", "1".repeat(5000)],
  ])("an invalid IP: %s", async (_name, ip) => {
    const res = await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "m", ip } });
    expectEnvelope(res, 400, "BAD_REQUEST");
    expect(res.body.error.issues.map((i: any) => i.path)).toContain("ip");
  });

  it.each([
    ["a space", "812 345"],
    ["a slash", "a/b"],
    ["a newline", "m\n1"],
    ["non-ASCII", "réunion"],
    ["an emoji", "📞1"],
    ["129 characters", "a".repeat(129)],
    ["a leading dash", "-rf"],
    ["nothing", ""],
  ])("a meeting id with %s", async (_name, meetingId) => {
    const res = await h.call("POST", "/v1/check", { as: "checker", body: { meetingId, ip: "8.8.8.8" } });
    expectEnvelope(res, 400, "BAD_REQUEST");
    expect(res.body.error.issues[0].path).toBe("meetingId");
  });

  it("missing fields, unknown fields and wrong types", async () => {
    const missing = await h.call("POST", "/v1/check", { as: "checker", body: { ip: "8.8.8.8" } });
    expectEnvelope(missing, 400, "BAD_REQUEST");
    expect(missing.body.error.message).toContain("meetingId");
    const unknown = await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m", ip: "8.8.8.8", country: "US" },
    });
    expectEnvelope(unknown, 400, "BAD_REQUEST");
    expect(unknown.body.error.message).toContain("country");
    const wrongType = await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: 123, ip: "8.8.8.8" },
    });
    expectEnvelope(wrongType, 400, "BAD_REQUEST");
    for (const body of [[], "x", 1, null]) {
      expectEnvelope(await h.call("POST", "/v1/check", { as: "checker", body }), 400, "BAD_REQUEST");
    }
  });

  it("broken JSON", async () => {
    const res = await h.call("POST", "/v1/check", { as: "checker", raw: '{"meetingId": "m", "ip": ' });
    expectEnvelope(res, 400, "BAD_REQUEST");
    expect(res.body.error.message).toMatch(/JSON/);
  });

  it("a body that is not declared as JSON gets 415", async () => {
    const res = await h.call("POST", "/v1/check", {
      as: "checker",
      raw: "meetingId=m&ip=8.8.8.8",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expectEnvelope(res, 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  it("oversized bodies get 413 (64 KiB, 1 MiB for batches)", async () => {
    const big = await h.call("POST", "/v1/check", {
      as: "checker",
      raw: JSON.stringify({ meetingId: "m", ip: "8.8.8.8", pad: "x".repeat(BODY_LIMIT) }),
    });
    expectEnvelope(big, 413, "PAYLOAD_TOO_LARGE");
    const order = await h.call("POST", "/v1/orders", {
      as: "responder",
      body: orderInput({ notes: "x".repeat(BODY_LIMIT) }),
    });
    expectEnvelope(order, 413, "PAYLOAD_TOO_LARGE");
    const batch = await h.call("POST", "/v1/check/batch", {
      as: "checker",
      raw: JSON.stringify({ checks: [], pad: "x".repeat(BATCH_BODY_LIMIT) }),
    });
    expectEnvelope(batch, 413, "PAYLOAD_TOO_LARGE");
  });
});

describe("orders refuse bad input", () => {
  it.each([
    ["a missing reference", { reference: undefined }, "reference"],
    ["an unknown field", { priority: "high" }, "(body)"],
    [
      "an unknown nested field",
      { authority: { name: "C", jurisdiction: "IN", kind: "court", seal: 1 } },
      "authority",
    ],
    [
      "an unknown authority kind",
      { authority: { name: "C", jurisdiction: "IN", kind: "king" } },
      "authority.kind",
    ],
    [
      "a made-up country",
      { authority: { name: "C", jurisdiction: "XX", kind: "court" } },
      "authority.jurisdiction",
    ],
    ["a lower-case code", { jurisdictions: ["in-mh"] }, "jurisdictions.0"],
    ["no jurisdictions", { jurisdictions: [] }, "jurisdictions"],
    [
      "a meeting target without meetings",
      { target: { kind: "meeting", meetingIds: [] } },
      "target.meetingIds",
    ],
    ["a target of an unknown kind", { target: { kind: "room", ids: ["1"] } }, "target.kind"],
    ["a date without a time zone", { receivedAt: "2026-02-20 09:00" }, "receivedAt"],
    [
      "an end before the start",
      { effectiveFrom: "2026-03-02T00:00:00Z", effectiveUntil: "2026-03-01T00:00:00Z" },
      "effectiveUntil",
    ],
    ["an unknown mode", { mode: "maybe" }, "mode"],
    ["an unknown account type", { accountType: "gold" }, "accountType"],
    ["a subdivision as account location", { accountLocation: "IN-MH" }, "accountLocation"],
    [
      "a meeting id with a space",
      { target: { kind: "meeting", meetingIds: ["812 345"] } },
      "target.meetingIds.0",
    ],
  ])("%s", async (_name, overrides, path) => {
    const before = (await h.call("GET", "/v1/audit?limit=1000", { as: "auditor" })).body.entries.length;
    const body = orderInput(overrides as Record<string, unknown>);
    for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
    const res = await h.call("POST", "/v1/orders", { as: "responder", body });
    expectEnvelope(res, 400, "BAD_REQUEST");
    expect(res.body.error.issues.map((i: any) => i.path)).toContain(path);
    const after = (await h.call("GET", "/v1/audit?limit=1000", { as: "auditor" })).body.entries.length;
    expect(after).toBe(before);
  });

  it("an unknown field in a transition body", async () => {
    const res = await h.call("POST", `/v1/orders/${pendingId}/approve`, {
      as: "approver",
      body: { note: "ok", force: true },
    });
    expectEnvelope(res, 400, "BAD_REQUEST");
    expect((await h.call("GET", `/v1/orders/${pendingId}`, { as: "auditor" })).body.status).toBe("pending");
  });

  it("bad decision cursors and limits", async () => {
    expectEnvelope(
      await h.call("GET", "/v1/decisions?after=garbage!!", { as: "auditor" }),
      400,
      "BAD_REQUEST",
    );
    expectEnvelope(await h.call("GET", "/v1/decisions?limit=0", { as: "auditor" }), 400, "BAD_REQUEST");
    expectEnvelope(await h.call("GET", "/v1/decisions?limit=abc", { as: "auditor" }), 400, "BAD_REQUEST");
  });
});

describe("fuzz: arbitrary bodies never cause a 5xx", () => {
  const routes = () => [
    { path: "/v1/check", as: "checker" as const },
    { path: "/v1/check/batch", as: "checker" as const },
    { path: "/v1/orders", as: "responder" as const },
    { path: `/v1/orders/${pendingId}/approve`, as: "approver" as const },
    { path: `/v1/orders/${pendingId}/reject`, as: "approver" as const },
    { path: `/v1/orders/${pendingId}/withdraw`, as: "responder" as const },
  ];

  // Values shaped like the real inputs make the fuzzer reach deep into the schemas, not just the top.
  const near = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        meetingId: fc.oneof(fc.string(), fc.constant("81234567890")),
        ip: fc.oneof(fc.string(), fc.ipV4(), fc.ipV6(), fc.constant("::ffff:1.2.3.4")),
        accountId: fc.jsonValue(),
        checks: fc.array(fc.record({ meetingId: fc.string(), ip: fc.oneof(fc.ipV4(), fc.string()) }), {
          maxLength: 5,
        }),
        reference: fc.string(),
        authority: fc.record({
          name: fc.string(),
          jurisdiction: fc.constantFrom("IN", "IN-MH", "XX", "", "RU"),
          kind: fc.string(),
        }),
        jurisdictions: fc.array(fc.constantFrom("IN", "IN-MH", "IN-KA", "RU", "NL", "ZZ-ZZ")),
        target: fc.oneof(
          fc.jsonValue(),
          fc.record({ kind: fc.constantFrom("meeting", "account"), meetingIds: fc.array(fc.string()) }),
        ),
        receivedAt: fc.oneof(
          fc.string(),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        effectiveFrom: fc.oneof(
          fc.string(),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        note: fc.jsonValue(),
        reason: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
  );

  it("posts thousands of bodies to each write route", async () => {
    let sent = 0;
    for (const route of routes()) {
      await fc.assert(
        fc.asyncProperty(near, async (body) => {
          const res = await h.call("POST", route.path, { as: route.as, raw: JSON.stringify(body) });
          sent++;
          return res.status < 500 && (res.status < 400 || typeof res.body?.error?.code === "string");
        }),
        { numRuns: 1500 },
      );
      await fc.assert(
        fc.asyncProperty(fc.string(), async (raw) => {
          const res = await h.call("POST", route.path, { as: route.as, raw });
          sent++;
          return res.status < 500;
        }),
        { numRuns: 300 },
      );
    }
    expect(sent).toBe(routes().length * 1800);
    expect(h.logs.filter((l) => l.level === "error")).toEqual([]);
  }, 120_000);
});
