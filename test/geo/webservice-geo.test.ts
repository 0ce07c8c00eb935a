/**
 * `WebServiceGeo` against a real local HTTP server that speaks the MaxMind GeoIP2 web service protocol:
 * `GET /geoip/v2.1/{city|country}/{ip}` with Basic auth (account id : licence key, checked by the fake),
 * JSON bodies shaped like the real service's, and its errors with their real statuses and codes. The
 * same fake also serves MaxMind's own `WebServiceClient` (its https URL rewritten to http), so the two
 * are checked to send the same request and read the same answers and error codes.
 */
import { WebServiceClient } from "@maxmind/geoip2-node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { GeoAnswer } from "../../src/geo/interface.js";
import { WebServiceGeo, type WebServiceGeoOptions } from "../../src/geo/webservice-geo.js";
import { PLACES } from "../support/fixtures.js";
import { rawLogger } from "../support/logs.js";
import { ACCOUNT_ID, FakeMaxmind, LICENSE_KEY, type Reply } from "../support/maxmind-ws.js";
import { registerTestMetrics } from "../support/metrics.js";
import { freePort } from "../support/redis.js";

// ---------- metrics ----------

// Before any WebServiceGeo exists: instruments bind to the provider registered when they are created.
const telemetry = registerTestMetrics();
const errorCounts = () => telemetry.countsBy("cordon.geo.webservice.errors", "code");

// ---------- tests ----------

const fake = new FakeMaxmind();
beforeAll(() => fake.start());
afterAll(() => fake.close());
afterEach(() => {
  fake.reset();
  vi.unstubAllGlobals();
});

/**
 * The timeout of lookups that are meant to be answered: far beyond any delay a loaded machine adds, so
 * that only the timeout tests, which set a short one of their own, ever see a lookup time out.
 */
const ANSWER_BUDGET_MS = 10_000;
/** The short timeout the timeout tests set, against a server that never answers in time. */
const TIMEOUT_MS = 200;
/**
 * How late a timed-out lookup may come back: its timeout plus slack for a loaded machine. The servers
 * in those tests never answer, so anything that waited for them would not come back at all.
 */
const TIMED_OUT_WITHIN_MS = 5_000;

function makeGeo(options: Partial<WebServiceGeoOptions> = {}) {
  // Unredacted: what the tests rule out (the key, the address) must not reach the logger at all.
  const { logger, lines: logs } = rawLogger();
  const geo = new WebServiceGeo({
    accountId: ACCOUNT_ID,
    licenseKey: LICENSE_KEY,
    baseUrl: fake.baseUrl,
    timeoutMs: ANSWER_BUDGET_MS,
    logger,
    ...options,
  });
  return { geo, logs };
}

const UNKNOWN: GeoAnswer = { location: null, source: "webservice", dbVersion: null };

describe("WebServiceGeo answers", () => {
  it("locates an address in its country and full ISO 3166-2 subdivisions through the city endpoint", async () => {
    const { geo } = makeGeo();
    const answer = await geo.lookup(PLACES.kent.ip);
    expect(answer).toEqual({
      location: { country: "GB", subdivisions: ["GB-ENG", "GB-KEN"] },
      source: "webservice",
      dbVersion: `maxmind-ws:${new URL(fake.baseUrl).host}:city:1`,
    });
    expect(await geo.lookup(PLACES.moscowV6.ip)).toMatchObject({
      location: { country: "RU", subdivisions: ["RU-MOW"] },
    });
    expect(fake.requests.map((r) => r.path)).toEqual([
      `/geoip/v2.1/city/${PLACES.kent.ip}`,
      `/geoip/v2.1/city/${PLACES.moscowV6.ip}`,
    ]);
    expect(geo.info()).toMatchObject({ databaseType: "GeoIP2-City web service", subdivisions: true });
  });

  it("locates countries only through the country endpoint", async () => {
    const { geo } = makeGeo({ endpoint: "country", generation: "7" });
    const answer = await geo.lookup(PLACES.mumbai.ip);
    expect(answer.location).toEqual({ country: "IN", subdivisions: [] });
    expect(answer.dbVersion).toBe(`maxmind-ws:${new URL(fake.baseUrl).host}:country:7`);
    expect(fake.requests.map((r) => r.path)).toEqual([`/geoip/v2.1/country/${PLACES.mumbai.ip}`]);
    expect(geo.info()).toMatchObject({ databaseType: "GeoIP2-Country web service", subdivisions: false });
  });

  it("sends the account id and licence key as Basic auth, asking for JSON", async () => {
    const { geo } = makeGeo();
    await geo.lookup(PLACES.mumbai.ip);
    const [request] = fake.requests;
    expect(request?.method).toBe("GET");
    expect(request?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${ACCOUNT_ID}:${LICENSE_KEY}`).toString("base64")}`,
    );
    expect(request?.headers.accept).toBe("application/json");
  });

  it("never asks about private or reserved addresses", async () => {
    const { geo } = makeGeo();
    for (const ip of [
      PLACES.privateLan.ip,
      "10.1.2.3",
      "127.0.0.1",
      "100.64.0.1",
      "::1",
      "fd00::1",
      "2001:db8::1",
    ]) {
      // Answered at once, without a promise: nothing to wait for.
      expect(geo.lookup(ip)).toEqual({ location: null, source: "none", dbVersion: null });
    }
    expect(fake.requests).toEqual([]);
  });

  it("reads an address the service does not know as an unknown location it can cache", async () => {
    const { geo } = makeGeo();
    const answer = await geo.lookup(PLACES.nowhere.ip);
    // Not a failure: it carries the dbVersion, so the caches keep it and the query is not paid again.
    expect(answer).toEqual({ location: null, source: "webservice", dbVersion: geo.dbVersion });
    expect(geo.stats().errors).toEqual({ IP_ADDRESS_NOT_FOUND: 1 });
  });

  it("takes the location's country, never the registered country, and no country as unknown", async () => {
    const { geo } = makeGeo();
    fake.replies.set("1.0.0.1", {
      status: 200,
      body: {
        registered_country: { iso_code: "AU" },
        traits: { ip_address: "1.0.0.1", network: "1.0.0.0/24" },
      },
    });
    expect(await geo.lookup("1.0.0.1")).toEqual({
      location: null,
      source: "webservice",
      dbVersion: geo.dbVersion,
    });
  });

  it("stops the subdivisions at the first level without a usable code", async () => {
    const { geo } = makeGeo();
    fake.replies.set("1.0.0.2", {
      status: 200,
      body: {
        country: { iso_code: "GB" },
        subdivisions: [{ iso_code: "ENG" }, { names: { en: "?" } }, { iso_code: "KEN" }],
      },
    });
    expect((await geo.lookup("1.0.0.2")).location).toEqual({ country: "GB", subdivisions: ["GB-ENG"] });
  });
});

describe("WebServiceGeo failures are unknown locations (I2), counted, and never cached", () => {
  const cases: { name: string; reply: Reply; code: string; logged: "warn" | "error" }[] = [
    {
      name: "a permission error (403)",
      reply: {
        status: 403,
        body: { code: "PERMISSION_REQUIRED", error: "You do not have permission to use this service." },
      },
      code: "PERMISSION_REQUIRED",
      logged: "error",
    },
    {
      name: "an account out of queries (402)",
      reply: {
        status: 402,
        body: { code: "OUT_OF_QUERIES", error: "The license key you have provided is out of queries." },
      },
      code: "OUT_OF_QUERIES",
      logged: "error",
    },
    {
      name: "an account without funds (402)",
      reply: { status: 402, body: { code: "INSUFFICIENT_FUNDS", error: "Your account is out of funds." } },
      code: "INSUFFICIENT_FUNDS",
      logged: "error",
    },
    {
      name: "an unknown code on 401",
      reply: { status: 401, body: { code: "SOMETHING_NEW", error: "New kind of refusal." } },
      code: "INVALID_REQUEST",
      logged: "error",
    },
    {
      name: "a server error (500)",
      reply: { status: 500, body: { code: "SERVER_ERROR", error: "oops" } },
      code: "SERVER_ERROR",
      logged: "warn",
    },
    {
      name: "a gateway error with an HTML body (503)",
      reply: { raw: "<html>Service Unavailable</html>", status: 503, contentType: "text/html" },
      code: "SERVER_ERROR",
      logged: "warn",
    },
    {
      name: "malformed JSON on 200",
      reply: { raw: '{"country": {"iso_code": "GB"', status: 200 },
      code: "INVALID_RESPONSE_BODY",
      logged: "warn",
    },
    {
      name: "a JSON array on 200",
      reply: { raw: "[]", status: 200 },
      code: "INVALID_RESPONSE_BODY",
      logged: "warn",
    },
    {
      name: "a 404 without MaxMind's error body (a proxy's page)",
      reply: { raw: "Not Found", status: 404, contentType: "text/plain" },
      code: "INVALID_RESPONSE_BODY",
      logged: "warn",
    },
    {
      name: "a redirect, even to an answer",
      reply: { status: 302, body: {}, headers: { Location: `/geoip/v2.1/city/${PLACES.kent.ip}` } },
      code: "HTTP_STATUS_CODE_ERROR",
      logged: "warn",
    },
    {
      name: "a connection reset before any answer",
      reply: { destroy: true },
      code: "FETCH_ERROR",
      logged: "warn",
    },
  ];

  for (const c of cases) {
    it(`answers unknown on ${c.name}`, async () => {
      const { geo, logs } = makeGeo();
      fake.replies.set(PLACES.california.ip, c.reply);
      expect(await geo.lookup(PLACES.california.ip)).toEqual(UNKNOWN);
      expect(geo.stats().errors).toEqual({ [c.code]: 1 });
      expect(logs.map((l) => [l.level, l.fields?.code])).toEqual([[c.logged, c.code]]);
      // A failure is retried on the next lookup, not remembered.
      fake.replies.delete(PLACES.california.ip);
      expect((await geo.lookup(PLACES.california.ip)).location?.country).toBe("US");
    });
  }

  it("answers unknown on a wrong licence key, and logs it without the key or the address", async () => {
    const { geo, logs } = makeGeo({ licenseKey: "wrong_key_4Ab9" });
    expect(await geo.lookup(PLACES.kent.ip)).toEqual(UNKNOWN);
    expect(await geo.lookup(PLACES.mumbai.ip)).toEqual(UNKNOWN);
    expect(geo.stats().errors).toEqual({ AUTHORIZATION_INVALID: 2 });
    // One line per code per interval, at error level: an operator must fix the key.
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: "error",
      fields: { code: "AUTHORIZATION_INVALID", status: 401, accountId: ACCOUNT_ID },
    });
    const logged = JSON.stringify(logs);
    expect(logged).not.toContain("wrong_key_4Ab9");
    expect(logged).not.toContain(PLACES.kent.ip);
  });

  it("keeps the queried address out of logged service messages (I6)", async () => {
    const { geo, logs } = makeGeo();
    fake.replies.set(PLACES.kent.ip, {
      status: 400,
      body: { code: "IP_ADDRESS_INVALID", error: `The value ${PLACES.kent.ip} is not a valid IP address.` },
    });
    expect(await geo.lookup(PLACES.kent.ip)).toEqual(UNKNOWN);
    expect(logs[0]?.fields?.detail).toBe("The value <ip> is not a valid IP address.");
  });

  it("answers unknown within its timeout when the service does not answer", async () => {
    const { geo } = makeGeo({ timeoutMs: TIMEOUT_MS });
    fake.replies.set(PLACES.kent.ip, { hang: true });
    const started = performance.now();
    expect(await geo.lookup(PLACES.kent.ip)).toEqual(UNKNOWN);
    const elapsed = performance.now() - started;
    // Not before its timeout (timers may fire a millisecond early), and not waiting for the service.
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(elapsed).toBeLessThan(TIMED_OUT_WITHIN_MS);
    expect(geo.stats().errors).toEqual({ NETWORK_TIMEOUT: 1 });
  });

  it("answers unknown within its timeout when the body stalls after the headers", async () => {
    const { geo } = makeGeo({ timeoutMs: TIMEOUT_MS });
    fake.replies.set(PLACES.kent.ip, { stallBody: true });
    const started = performance.now();
    expect(await geo.lookup(PLACES.kent.ip)).toEqual(UNKNOWN);
    expect(performance.now() - started).toBeLessThan(TIMED_OUT_WITHIN_MS);
    expect(geo.stats().errors).toEqual({ NETWORK_TIMEOUT: 1 });
  });

  it("answers unknown when the connection is refused", async () => {
    const { geo, logs } = makeGeo({ baseUrl: `http://127.0.0.1:${await freePort()}` });
    expect(await geo.lookup(PLACES.kent.ip)).toEqual(UNKNOWN);
    expect(geo.stats().errors).toEqual({ FETCH_ERROR: 1 });
    expect(String(logs[0]?.fields?.detail)).toMatch(/ECONNREFUSED/);
  });

  it("logs the same code again once the interval has passed", async () => {
    let now = 1_000_000;
    const { geo, logs } = makeGeo({ licenseKey: "wrong", logIntervalMs: 60_000, now: () => now });
    await geo.lookup(PLACES.kent.ip);
    now += 59_000;
    await geo.lookup(PLACES.kent.ip);
    now += 2_000;
    await geo.lookup(PLACES.kent.ip);
    expect(logs).toHaveLength(2);
  });

  it("counts failures and not-found answers in cordon.geo.webservice.errors by code", async () => {
    const before = await errorCounts();
    const { geo } = makeGeo();
    // The counter is shared by every instance: only this one's lookup is meant to time out.
    const { geo: impatient } = makeGeo({ timeoutMs: TIMEOUT_MS });
    fake.replies.set(PLACES.kent.ip, { status: 402, body: { code: "OUT_OF_QUERIES", error: "out" } });
    fake.replies.set(PLACES.mumbai.ip, { hang: true });
    await geo.lookup(PLACES.kent.ip);
    await geo.lookup(PLACES.kent.ip);
    await impatient.lookup(PLACES.mumbai.ip);
    await geo.lookup(PLACES.nowhere.ip);
    await geo.lookup(PLACES.california.ip);
    const after = await errorCounts();
    const delta = (code: string) => (after[code] ?? 0) - (before[code] ?? 0);
    expect({
      OUT_OF_QUERIES: delta("OUT_OF_QUERIES"),
      NETWORK_TIMEOUT: delta("NETWORK_TIMEOUT"),
      IP_ADDRESS_NOT_FOUND: delta("IP_ADDRESS_NOT_FOUND"),
    }).toEqual({ OUT_OF_QUERIES: 2, NETWORK_TIMEOUT: 1, IP_ADDRESS_NOT_FOUND: 1 });
  });
});

describe("WebServiceGeo coalescing", () => {
  it("sends one request for ten concurrent lookups of one address", async () => {
    const { geo } = makeGeo();
    fake.delayMs = 100;
    const answers = await Promise.all(Array.from({ length: 10 }, () => geo.lookup(PLACES.mumbai.ip)));
    expect(fake.requestsFor(PLACES.mumbai.ip)).toBe(1);
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]?.location).toEqual({ country: "IN", subdivisions: ["IN-MH"] });
    // Coalescing is not caching: once answered, the next lookup asks again (the caches are L1 and L2).
    await geo.lookup(PLACES.mumbai.ip);
    expect(fake.requestsFor(PLACES.mumbai.ip)).toBe(2);
    expect(geo.stats().requests).toBe(2);
  });

  it("shares one failed request too, and retries afterwards", async () => {
    const { geo } = makeGeo();
    fake.replies.set(PLACES.kent.ip, {
      status: 503,
      body: { code: "SERVER_ERROR", error: "busy" },
      delayMs: 100,
    });
    const answers = await Promise.all(Array.from({ length: 5 }, () => geo.lookup(PLACES.kent.ip)));
    expect(answers.every((a) => a.location === null && a.dbVersion === null)).toBe(true);
    expect(fake.requestsFor(PLACES.kent.ip)).toBe(1);
    fake.replies.clear();
    expect((await geo.lookup(PLACES.kent.ip)).location?.country).toBe("GB");
  });
});

describe("WebServiceGeo speaks the protocol as MaxMind's WebServiceClient does", () => {
  /** WebServiceClient always uses https://; the same fake answers it over http. */
  function stubHttpsToFake() {
    const realFetch = globalThis.fetch;
    const host = new URL(fake.baseUrl).host;
    vi.stubGlobal("fetch", (url: string, init?: RequestInit) =>
      realFetch(url.replace(`https://${host}`, fake.baseUrl), init),
    );
    return host;
  }

  it("sends the same path and credentials", async () => {
    const host = stubHttpsToFake();
    await new WebServiceClient(ACCOUNT_ID, LICENSE_KEY, { host }).city(PLACES.kent.ip);
    vi.unstubAllGlobals();
    const { geo } = makeGeo();
    await geo.lookup(PLACES.kent.ip);
    const [theirs, ours] = fake.requests;
    expect(ours?.path).toBe(theirs?.path);
    expect(ours?.headers.authorization).toBe(theirs?.headers.authorization);
    expect(ours?.headers.accept).toBe(theirs?.headers.accept);
  });

  it("reads the same country and subdivisions, and fails on the same codes", async () => {
    const host = stubHttpsToFake();
    const client = new WebServiceClient(ACCOUNT_ID, LICENSE_KEY, { host, timeout: ANSWER_BUDGET_MS });
    const { geo } = makeGeo();
    fake.replies.set("1.0.0.3", { status: 402, body: { code: "OUT_OF_QUERIES", error: "out" } });
    fake.replies.set("1.0.0.4", { status: 500, body: {} });
    fake.replies.set("1.0.0.5", { raw: "{", status: 200 });
    for (const ip of [PLACES.kent.ip, PLACES.mumbai.ip, PLACES.moscowV6.ip]) {
      const theirs = await client.city(ip);
      const country = theirs.country?.isoCode as string;
      expect((await geo.lookup(ip)).location).toEqual({
        country,
        subdivisions: (theirs.subdivisions ?? []).map((s) => `${country}-${s.isoCode}`),
      });
    }
    for (const ip of [PLACES.nowhere.ip, "1.0.0.3", "1.0.0.4", "1.0.0.5"]) {
      const theirs = (await client.city(ip).catch((error: { code: string }) => error)) as { code: string };
      const ours = makeGeo().geo;
      await ours.lookup(ip);
      expect(Object.keys(ours.stats().errors)).toEqual([theirs.code]);
    }
  });
});

describe("WebServiceGeo configuration", () => {
  it("refuses a configuration that cannot work, at start", () => {
    expect(() => new WebServiceGeo({ accountId: "", licenseKey: "k" })).toThrow(/accountId/);
    expect(() => new WebServiceGeo({ accountId: "1", licenseKey: "" })).toThrow(/licenseKey/);
    expect(() => new WebServiceGeo({ accountId: "1", licenseKey: "k", generation: "a b" })).toThrow(
      /generation/,
    );
    expect(() => new WebServiceGeo({ accountId: "1", licenseKey: "k", baseUrl: "ftp://x" })).toThrow(/http/);
    expect(() => new WebServiceGeo({ accountId: "1", licenseKey: "k", timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  it("defaults to MaxMind's GeoIP2 city endpoint over https", () => {
    const geo = new WebServiceGeo({ accountId: "1", licenseKey: "k" });
    expect(geo.dbVersion).toBe("maxmind-ws:geoip.maxmind.com:city:1");
    expect(geo.info()).toEqual({
      databaseType: "GeoIP2-City web service",
      buildDate: "n/a",
      subdivisions: true,
      ipVersion: 6,
      source: "https://geoip.maxmind.com/geoip/v2.1/city",
    });
  });
});
