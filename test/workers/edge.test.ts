/**
 * What only the edge does: refuse a check without `ip` (the caller is not the participant), answer a
 * browser with a join ticket on `/v1/check/self`, located from `request.cf`, refuse to answer without a record (the Queue send is awaited: a failed send is a 503), serve only its surface,
 * and enforce only a signed ruleset it has loaded. The shared contract (check-routes.test.ts) covers
 * everything both runtimes do alike.
 */
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { afterEach, describe, expect, it } from "vitest";
import { parseEdgeConfig } from "../../src/config/worker.js";
import { createWorker, type WorkerEnv } from "../../src/runtime/worker.js";
import { isEdgeDecisionId } from "../../src/store/ingest-index.js";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import {
  type EdgeCallOptions,
  type EdgeTarget,
  type EdgeTargetOptions,
  openEdgeTarget,
} from "./edge-target.js";

let t: EdgeTarget | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});
const open = async (options?: EdgeTargetOptions) => {
  t = await openEdgeTarget(options);
  return t;
};

const MUMBAI_CF = { country: "IN", regionCode: "MH" };

const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

async function hmacHex(key: string, text: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("a check without an ip", () => {
  it("is refused with 400 naming the field, on /v1/check and /v1/check/batch, whatever request.cf says", async () => {
    const edge = await open();
    await edge.approvedOrder();
    // The caller here is a server of the join flow: locating it would place every participant there.
    const single = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890" },
      cf: MUMBAI_CF,
    });
    expect(single.status).toBe(400);
    expect(single.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["ip"]);
    const batch = await edge.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: [{ meetingId: "81234567890", ip: PLACES.mumbai.ip }, { meetingId: "81234567890" }] },
      cf: MUMBAI_CF,
    });
    expect(batch.status).toBe(400);
    expect(batch.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["checks.1.ip"]);
    expect(await edge.records()).toEqual([]);
  });
});

describe("POST /v1/check/self, a browser with a join ticket, located from request.cf", () => {
  const nowS = () => Math.floor(Date.now() / 1000);
  /** A ticket as the meeting service signs it: for the blocked meeting, valid for five minutes. */
  const ticket = (claims: Record<string, unknown> = {}, key: string = env.CORDON_TICKET_KEY) =>
    sign({ meeting: "81234567890", iat: nowS(), exp: nowS() + 300, ...claims }, key, "HS256");
  const self = async (edge: EdgeTarget, body: unknown, opts: Omit<EdgeCallOptions, "body"> = {}) =>
    edge.call("POST", "/v1/check/self", { body, ...opts });

  it("denies a participant whom Cloudflare places in the blocked region, naming no order", async () => {
    const edge = await open();
    await edge.approvedOrder();
    const res = await self(edge, { ticket: await ticket({ account: "acct_42" }) }, { cf: MUMBAI_CF });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      decision: "deny",
      code: "BLOCKED",
      jurisdiction: "IN-MH",
      geo: { country: "IN", subdivision: "IN-MH" },
    });
    expect(res.body.notice).toMatch(/India/);
    expect(res.body).not.toHaveProperty("orderIds");
    const [record] = await edge.records();
    expect(record).toMatchObject({
      decisionId: res.body.decisionId,
      meetingId: "81234567890",
      accountId: "acct_42",
      decision: "deny",
      geoSource: "cf",
      geoDbVersion: null,
    });
    expect(record?.orderIds).toHaveLength(1);
  });

  it("needs no bearer token, and takes a host's ticket as well as a participant's", async () => {
    const edge = await open();
    const host = await self(edge, { ticket: await ticket({ role: "host" }) }, { cf: { country: "NL" } });
    expect(host.status).toBe(200);
    expect(host.body).toMatchObject({ decision: "allow", code: "NO_ORDER" });
  });

  it("uses request.cf, not the mmdb, for the location, and CF-Connecting-IP only for prefix and hash (I6)", async () => {
    const edge = await open();
    await edge.approvedOrder();
    // The database would place this address in Amsterdam; Cloudflare says Mumbai, and Cloudflare decides.
    const res = await self(
      edge,
      { ticket: await ticket() },
      { cf: MUMBAI_CF, headers: { "cf-connecting-ip": PLACES.amsterdam.ip } },
    );
    expect(res.body).toMatchObject({ code: "BLOCKED", geo: { country: "IN", subdivision: "IN-MH" } });
    const [record] = await edge.records();
    expect(record?.ipPrefix).toBe("2.56.10.0/24");
    expect(record?.ipHash).toBe(await hmacHex(env.CORDON_IP_HASH_KEY, PLACES.amsterdam.ip));
    expect(JSON.stringify(record)).not.toContain(PLACES.amsterdam.ip);
  });

  it("keeps neither prefix nor hash when the caller's address is not known", async () => {
    const edge = await open();
    await self(edge, { ticket: await ticket() }, { cf: MUMBAI_CF });
    await self(
      edge,
      { ticket: await ticket() },
      { cf: MUMBAI_CF, headers: { "cf-connecting-ip": "not an address" } },
    );
    const records = await edge.records();
    expect(records).toHaveLength(2);
    for (const record of records) expect(record).toMatchObject({ ipPrefix: null, ipHash: null });
  });

  it("enforces a country order, and fails open on a subdivision order, when Cloudflare gives no region", async () => {
    const edge = await open();
    await edge.approvedOrder({ target: { kind: "meeting", meetingIds: ["regional"] } });
    await edge.approvedOrder({
      jurisdictions: ["IN"],
      target: { kind: "meeting", meetingIds: ["national"] },
    });
    const cf = { country: "IN" };
    const regional = await self(edge, { ticket: await ticket({ meeting: "regional" }) }, { cf });
    const national = await self(edge, { ticket: await ticket({ meeting: "national" }) }, { cf });
    expect(regional.body).toMatchObject({
      decision: "allow",
      code: "GEO_UNKNOWN",
      geo: { country: "IN", subdivision: null },
    });
    expect(national.body).toMatchObject({ decision: "deny", code: "BLOCKED", jurisdiction: "IN" });
  });

  it("ignores a region code that is no ISO 3166-2 subdivision of the country", async () => {
    const edge = await open();
    await edge.approvedOrder();
    const res = await self(edge, { ticket: await ticket() }, { cf: { country: "IN", regionCode: "ZZ" } });
    expect(res.body).toMatchObject({ code: "GEO_UNKNOWN", geo: { country: "IN", subdivision: null } });
  });

  it.each([
    ["without request.cf", undefined, "none"],
    ["with Cloudflare's unknown country XX", { country: "XX" }, "cf"],
    ["with Cloudflare's Tor country T1", { country: "T1", regionCode: "MH" }, "cf"],
    ["with an empty request.cf", {}, "cf"],
  ])("fails open with GEO_UNKNOWN %s (I2)", async (_name, cf, source) => {
    const edge = await open();
    await edge.approvedOrder({ jurisdictions: ["IN"] });
    const res = await self(edge, { ticket: await ticket() }, cf ? { cf } : {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      decision: "allow",
      code: "GEO_UNKNOWN",
      geo: { country: null, subdivision: null },
    });
    const [record] = await edge.records();
    expect(record).toMatchObject({ geoSource: source, country: null, ipPrefix: null, ipHash: null });
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ["an expired ticket", () => ticket({ iat: nowS() - 400, exp: nowS() - 100 }), /expired/],
    [
      "a ticket signed with another key",
      () => ticket({}, "another-key-that-is-long-enough-0123456789"),
      /signed/,
    ],
    ["a ticket valid for more than 5 minutes", () => ticket({ exp: nowS() + 301 }), /more than 300 seconds/],
    ["a ticket for later (nbf)", () => ticket({ nbf: nowS() + 120 }), /nbf/],
    ["a ticket issued in the future", () => ticket({ iat: nowS() + 120, exp: nowS() + 200 }), /future/],
    ["a ticket without exp", () => ticket({ exp: undefined }), /exp/],
    ["a ticket without iat", () => ticket({ iat: undefined }), /iat/],
    ["a ticket without a meeting", () => ticket({ meeting: undefined }), /meeting/],
    ["a ticket with an unknown role", () => ticket({ role: "admin" }), /role/],
    [
      "a ticket signed with HS512",
      async () => sign({ meeting: "m", iat: nowS(), exp: nowS() + 60 }, env.CORDON_TICKET_KEY, "HS512"),
      /signed/,
    ],
    [
      "an unsigned ticket (alg none)",
      async () =>
        `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ meeting: "m", iat: nowS(), exp: nowS() + 60 })}.`,
      /signed/,
    ],
    ["no ticket at all", async () => "not-a-jwt", /signed/],
  ])("answers 401 with the error envelope, and records nothing, for %s", async (_name, make, reason) => {
    const edge = await open();
    await edge.approvedOrder();
    const res = await self(edge, { ticket: await make() }, { cf: MUMBAI_CF });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "UNAUTHORIZED", requestId: expect.any(String) });
    expect(res.body.error.message).toMatch(reason);
    expect(await edge.records()).toEqual([]);
  });

  it("answers 400 for a body that carries no ticket", async () => {
    const edge = await open();
    const res = await self(edge, { meetingId: "81234567890" }, { cf: MUMBAI_CF });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("BAD_REQUEST");
  });

  it("is not served at all without CORDON_TICKET_KEY", async () => {
    const edge = await open({ noTicketKey: true });
    const res = await self(edge, { ticket: await ticket() }, { cf: MUMBAI_CF });
    expect(res.status).toBe(404);
    const doc = (await edge.call("GET", "/openapi.json")).body;
    expect(doc.paths["/v1/check/self"]).toBeUndefined();
  });
});

describe("decision records on the Queue (I5)", () => {
  it("answers 503 UNAVAILABLE, and no decision, when the Queue refuses the record", async () => {
    const edge = await open();
    await edge.approvedOrder();
    edge.failSends(true);
    const res = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: "UNAVAILABLE" });
    expect(res.body.decision).toBeUndefined();
    const batch = await edge.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: [{ meetingId: "m", ip: PLACES.mumbai.ip }] },
    });
    expect(batch.status).toBe(503);
    expect(batch.body.results).toBeUndefined();
    edge.failSends(false);
    const again = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    });
    expect(again.status).toBe(200);
    expect((await edge.records()).map((r) => r.decisionId)).toEqual([again.body.decisionId]);
  });

  it("gives every decision an id in the edge's namespace (UUIDv8), never one Node makes", async () => {
    const edge = await open();
    const res = await edge.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: Array.from({ length: 20 }, () => ({ meetingId: "m", ip: PLACES.mumbai.ip })) },
    });
    for (const { decisionId } of res.body.results)
      expect(isEdgeDecisionId(decisionId), decisionId).toBe(true);
    expect(new Set(res.body.results.map((r: { decisionId: string }) => r.decisionId)).size).toBe(20);
  });

  it("sends a batch's records as one Queue message, in the order they were decided", async () => {
    const edge = await open();
    const checks = Array.from({ length: 200 }, (_, i) => ({ meetingId: `m${i}`, ip: PLACES.amsterdam.ip }));
    const res = await edge.call("POST", "/v1/check/batch", { as: "checker", body: { checks } });
    expect(res.status).toBe(200);
    // 200 records of about 440 bytes fit one message (96 KiB); one sendBatch of one message.
    expect(edge.sends).toEqual([1]);
    expect((await edge.records()).map((r) => r.decisionId)).toEqual(
      res.body.results.map((r: { decisionId: string }) => r.decisionId),
    );
  });
});

describe("the edge surface", () => {
  it.each([
    ["POST", "/v1/orders"],
    ["GET", "/v1/orders"],
    ["GET", "/v1/decisions"],
    ["POST", "/v1/decisions/ingest"],
    ["GET", "/v1/reports/2026-H1"],
    ["GET", "/v1/audit"],
  ])("does not serve %s %s (it stays on Node)", async (method, path) => {
    const edge = await open();
    const res = await edge.call(method, path, { as: "admin", ...(method === "POST" ? { body: {} } : {}) });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "NOT_FOUND" });
  });

  it("documents only what it serves: ip or phone, the re-check, and the browser-direct check without a bearer or order ids", async () => {
    const edge = await open();
    const doc = (await edge.call("GET", "/openapi.json")).body;
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/healthz",
        "/readyz",
        "/v1/check",
        "/v1/check/batch",
        "/v1/check/self",
        "/v1/meetings/{meetingId}/recheck",
        "/v1/ruleset",
      ].sort(),
    );
    expect(doc.components.schemas.CheckRequest.required).toEqual(["meetingId"]);
    expect(Object.keys(doc.components.schemas.CheckRequest.properties)).toEqual(
      expect.arrayContaining(["ip", "phone", "role", "accountId"]),
    );
    expect(doc.components.schemas.EdgeCheckRequest).toBeUndefined();
    const selfCheck = doc.paths["/v1/check/self"].post;
    expect(selfCheck.security ?? []).toEqual([]);
    expect(Object.keys(selfCheck.responses)).toContain("401");
    expect(doc.components.schemas.SelfCheckDecision.properties).not.toHaveProperty("orderIds");
  });
});

describe("the ruleset from KV", () => {
  it("answers checks with 503 and is not ready while KV holds no ruleset, and serves once one is published", async () => {
    const edge = await open({ noRuleset: true });
    expect((await edge.call("GET", "/healthz")).status).toBe(200);
    const ready = await edge.call("GET", "/readyz", { as: "checker" });
    expect(ready.status).toBe(503);
    expect(ready.body.checks[0]).toMatchObject({
      name: "edge-ruleset",
      ready: false,
      detail: { lastError: "KV holds no ruleset" },
    });
    const res = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m", ip: PLACES.mumbai.ip },
    });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: "UNAVAILABLE" });
    expect(await edge.records()).toHaveLength(0);

    await edge.approvedOrder();
    const after = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    });
    expect(after.body).toMatchObject({ code: "BLOCKED", rulesetVersion: 2 });
  });

  it("keeps enforcing the ruleset in force when KV is tampered with, and says so in /readyz", async () => {
    const edge = await open();
    await edge.approvedOrder();
    const signed = JSON.parse(await edge.signedRuleset());
    const payload = JSON.parse(signed.payload);
    payload.orders = [];
    payload.version += 1;
    await edge.putRuleset(JSON.stringify({ ...signed, payload: JSON.stringify(payload) }));
    const res = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    });
    expect(res.body).toMatchObject({ code: "BLOCKED", rulesetVersion: 2 });
    const ready = await edge.call("GET", "/readyz", { as: "checker" });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ degraded: true });
    expect(ready.body.checks[0].detail.lastRejected).toMatchObject({ code: "bad-signature" });
  });

  it("never enforces a ruleset it cannot verify, even on a fresh isolate", async () => {
    const edge = await open({ noRuleset: true });
    await edge.putRuleset(JSON.stringify({ v: 1, keyId: "test", payload: "{}", signature: "AAAA" }));
    const res = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m", ip: PLACES.mumbai.ip },
    });
    expect(res.status).toBe(503);
  });
});

describe("the bundled database (Data module)", () => {
  it("locates addresses with the GeoLite2 country database wrangler bundles", async () => {
    const edge = await open({ mmdb: "bundled" });
    const ready = await edge.call("GET", "/readyz", { as: "checker" });
    expect(ready.body.geo).toMatchObject({
      databaseType: "country ipvAll",
      subdivisions: false,
      ipVersion: 6,
      source: "bundled:geolite2-country",
    });
    const v4 = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m", ip: "8.8.8.8" },
    });
    const v6 = await edge.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "m", ip: "2001:4860:4860::8888" },
    });
    expect(v4.body.geo).toEqual({ country: "US", subdivision: null, source: "mmdb" });
    expect(v6.body.geo).toEqual({ country: "US", subdivision: null, source: "mmdb" });
  });
});

describe("configuration", () => {
  it("refuses a join-ticket key shorter than 32 characters, naming the variable, never the value", () => {
    const base = {
      CORDON_TOKENS: env.CORDON_TOKENS,
      CORDON_IP_HASH_KEY: env.CORDON_IP_HASH_KEY,
      RULESET_PUBLIC_KEYS: "k:AAAA",
    };
    expect(parseEdgeConfig({ ...base, CORDON_TICKET_KEY: env.CORDON_TICKET_KEY }).CORDON_TICKET_KEY).toBe(
      env.CORDON_TICKET_KEY,
    );
    expect(parseEdgeConfig(base).CORDON_TICKET_KEY).toBeUndefined();
    const short = "short-ticket-key";
    expect(() => parseEdgeConfig({ ...base, CORDON_TICKET_KEY: short })).toThrow(
      /CORDON_TICKET_KEY: must be at least 32/,
    );
    expect(() => parseEdgeConfig({ ...base, CORDON_TICKET_KEY: short })).not.toThrow(short);
  });

  it("answers 500 naming no secret when a secret is missing, and the log names the variable", async () => {
    const worker = createWorker({ mmdb: { bytes: cityDatabase(), source: "fixture:city" } });
    const errors: string[] = [];
    const original = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      const res = await worker.fetch(
        new Request("https://edge.test/v1/check", { method: "POST" }) as never,
        {
          RULESETS: env.RULESETS,
          DECISIONS: env.DECISIONS,
          RULESET_PUBLIC_KEYS: env.RULESET_PUBLIC_KEYS,
          CORDON_TOKENS: env.CORDON_TOKENS,
        } as unknown as WorkerEnv,
        { waitUntil() {}, passThroughOnException() {} } as never,
      );
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({
        code: "INTERNAL",
        message: "the Worker is misconfigured; see its logs",
      });
    } finally {
      console.error = original;
    }
    expect(errors.join("\n")).toContain("CORDON_IP_HASH_KEY");
    expect(errors.join("\n")).not.toContain(env.CORDON_TOKENS);
  });
});
