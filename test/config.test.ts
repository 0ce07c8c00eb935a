/** Configuration: parsed once with zod; a bad value names the variable and never echoes a secret. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/node.js";
import { ConfigError } from "../src/config/parse.js";
import { parseEdgeConfig } from "../src/config/worker.js";

const KEY = "k".repeat(40);

describe("parseConfig", () => {
  it("gives the embedded defaults with nothing set", () => {
    expect(parseConfig({})).toMatchObject({
      PORT: 8787,
      CORDON_DATA_DIR: "./data",
      CORDON_WORKERS: 1,
      CORDON_GEO_L2: "auto",
      CORDON_DECISION_FSYNC: "never",
      CORDON_FINALIZE_GRACE_DAYS: 14,
    });
    expect(parseConfig({ CORDON_FINALIZE_GRACE_DAYS: "0" }).CORDON_FINALIZE_GRACE_DAYS).toBe(0);
    // Redis mode's shipper gathers records this long before it reads a page (stream-shipper.ts).
    expect(parseConfig({}).CORDON_SHIP_DELAY_MS).toBe(100);
    expect(parseConfig({ CORDON_SHIP_DELAY_MS: "0" }).CORDON_SHIP_DELAY_MS).toBe(0);
  });

  it("takes the report's publisher and service, and leaves them to the page's defaults when unset", () => {
    expect(parseConfig({})).not.toHaveProperty("CORDON_REPORT_PUBLISHER", expect.anything());
    expect(
      parseConfig({
        CORDON_REPORT_PUBLISHER: "Example Meetings B.V.",
        CORDON_REPORT_SERVICE: "Example Meetings",
      }),
    ).toMatchObject({
      CORDON_REPORT_PUBLISHER: "Example Meetings B.V.",
      CORDON_REPORT_SERVICE: "Example Meetings",
    });
  });

  it("treats empty values as unset", () => {
    expect(parseConfig({ PORT: "", REDIS_URL: "" }).PORT).toBe(8787);
  });

  it("parses tokens, keeping colons inside secrets", () => {
    const config = parseConfig({
      CORDON_TOKENS: "ana:responder:aaaaaaaaaaaaaaaa:b, bo:approver:cccccccccccccccc",
    });
    expect(config.CORDON_TOKENS).toEqual([
      { principal: "ana", role: "responder", secret: "aaaaaaaaaaaaaaaa:b" },
      { principal: "bo", role: "approver", secret: "cccccccccccccccc" },
    ]);
  });

  it.each([
    [{ PORT: "70000" }, "PORT"],
    [{ REDIS_URL: "http://localhost:6379" }, "REDIS_URL"],
    [{ REDIS_URL: "redis-cluster://127.0.0.1:7000,127.0.0.1" }, "REDIS_URL"],
    [{ REDIS_URL: "redis-cluster://127.0.0.1:7000/0" }, "REDIS_URL"],
    [{ REDIS_URL: "redis-cluster://127.0.0.1:7000" }, "CORDON_IP_HASH_KEY"],
    [{ REDIS_URL: "redis://127.0.0.1:6379" }, "CORDON_IP_HASH_KEY"],
    [{ REDIS_URL: "redis://127.0.0.1:6379", CORDON_IP_HASH_KEY: KEY }, "CORDON_TOKENS"],
    [{ CORDON_WORKERS: "0" }, "CORDON_WORKERS"],
    [{ CORDON_WORKERS: "65" }, "CORDON_WORKERS"],
    [{ MAXMIND_ACCOUNT_ID: "12345" }, "MAXMIND_LICENSE_KEY"],
    [{ MAXMIND_ACCOUNT_ID: "x1", MAXMIND_LICENSE_KEY: "secret-licence" }, "MAXMIND_ACCOUNT_ID"],
    [
      { MAXMIND_ACCOUNT_ID: "1", MAXMIND_LICENSE_KEY: "secret-licence", CORDON_GEOIP_DB: "/x.mmdb" },
      "CORDON_GEOIP_DB",
    ],
    [{ CORDON_GEO_L2: "on" }, "CORDON_GEO_L2"],
    [{ CORDON_TOKENS: "ana:responder:short" }, "CORDON_TOKENS"],
    [{ CORDON_REDIS_PREFIX: "a b" }, "CORDON_REDIS_PREFIX"],
    [{ CORDON_FINALIZE_GRACE_DAYS: "-1" }, "CORDON_FINALIZE_GRACE_DAYS"],
    [{ CORDON_FINALIZE_GRACE_DAYS: "two weeks" }, "CORDON_FINALIZE_GRACE_DAYS"],
    [{ CORDON_REPORT_PUBLISHER: "x".repeat(201) }, "CORDON_REPORT_PUBLISHER"],
    [{ CORDON_SHIP_DELAY_MS: "-5" }, "CORDON_SHIP_DELAY_MS"],
    [{ CORDON_SHIP_DELAY_MS: "1 s" }, "CORDON_SHIP_DELAY_MS"],
    [{ CORDON_SHIP_DELAY_MS: "60000" }, "CORDON_SHIP_DELAY_MS"],
  ])("refuses %o, naming %s", (env, name) => {
    let error: unknown;
    try {
      parseConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).not.toContain("secret-licence");
  });

  // I7: one secret, one principal; names compared case-insensitively. The message names the entries
  // (by position and principal) and never the secret.
  it.each([
    [
      "a principal named twice",
      "ana:responder:aaaaaaaaaaaaaaaa,ana:approver:bbbbbbbbbbbbbbbb",
      /entries 1 and 2 .*ana/,
    ],
    [
      "a principal named twice in another case",
      "Bob:responder:aaaaaaaaaaaaaaaa,bob:approver:bbbbbbbbbbbbbbbb",
      /entries 1 and 2 .*Bob.*bob/,
    ],
    [
      "one secret given to two principals",
      "ana:responder:shared-secret-0123,bo:approver:shared-secret-0123",
      /entries 1 \(ana\) and 2 \(bo\).*same secret/,
    ],
    [
      "one secret given twice to one principal",
      "ana:responder:shared-secret-0123,x:checker:cccccccccccccccc,ANA:approver:shared-secret-0123",
      /entries 1 and 3/,
    ],
  ])("refuses CORDON_TOKENS with %s, naming the entries", (_name, tokens, expected) => {
    let error: unknown;
    try {
      parseConfig({ CORDON_TOKENS: tokens });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain("CORDON_TOKENS");
    expect(message).toMatch(expected);
    for (const secret of tokens.split(",").map((t) => t.split(":").slice(2).join(":"))) {
      expect(message).not.toContain(secret);
    }
  });

  it("refuses the same duplicates in the Worker's CORDON_TOKENS", () => {
    expect(() =>
      parseEdgeConfig({
        CORDON_TOKENS: "Bob:checker:aaaaaaaaaaaaaaaa,bob:checker:bbbbbbbbbbbbbbbb",
        CORDON_IP_HASH_KEY: KEY,
        RULESET_PUBLIC_KEYS: "k:AAAA",
      }),
    ).toThrow(/CORDON_TOKENS: entries 1 and 2/);
  });

  it("accepts several workers on the embedded store, where slot 0 writes and the others follow", () => {
    expect(parseConfig({ CORDON_WORKERS: "2" }).CORDON_WORKERS).toBe(2);
  });

  it("accepts a Redis deployment with the web service", () => {
    const config = parseConfig({
      REDIS_URL: "redis://127.0.0.1:6379/2",
      CORDON_IP_HASH_KEY: KEY,
      CORDON_TOKENS: "ana:admin:aaaaaaaaaaaaaaaa",
      CORDON_WORKERS: "4",
      MAXMIND_ACCOUNT_ID: "123456",
      MAXMIND_LICENSE_KEY: "abcdefgh",
    });
    expect(config).toMatchObject({
      CORDON_WORKERS: 4,
      MAXMIND_ENDPOINT: "city",
      MAXMIND_HOST: "geoip.maxmind.com",
    });
  });
});
