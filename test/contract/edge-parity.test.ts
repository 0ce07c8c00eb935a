/**
 * On Node, what keeps the two runtimes' answers and records comparable: both surfaces require `ip` on
 * their checks (the edge locates a caller only on `/v1/check/self`), the edge surface serves only its routes, and the
 * Worker's IP hash equals Node's for the same key, so one participant counts once in the report
 * whichever runtime answered.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type DecisionRecord, emptyRuleset } from "../../src/engine/index.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { createEdgeApp } from "../../src/http/app.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { locateCaller } from "../../src/platform/cloudflare/caller.js";
import { edgeIpHasher } from "../../src/platform/cloudflare/ip-hash.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { ipHasher } from "../../src/runtime/node/secrets.js";
import { Authenticator, digestSecret } from "../../src/service/auth.js";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import { type Harness, makeHarness } from "../support/harness.js";
import { requestInit } from "../support/requests.js";
import { secretOf } from "./principals.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("the full surface (Node)", () => {
  it("still refuses a check without ip with 400, naming the field", async () => {
    h = await makeHarness();
    const res = await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "m" } });
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["ip"]);
    expect(res.body.error.message).toMatch(/ip: is required: the participant's IP address/);
    const batch = await h.call("POST", "/v1/check/batch", {
      as: "checker",
      body: { checks: [{ meetingId: "m" }] },
    });
    expect(batch.status).toBe(400);
    expect(batch.body.error.issues[0].path).toBe("checks.0.ip");
  });
});

describe("the edge surface, built on Node", () => {
  function edgeApp(appended: DecisionRecord[]) {
    const rulesets = new RulesetHolder(Date.now);
    return {
      rulesets,
      app: createEdgeApp({
        decisions: {
          append: async (records: readonly DecisionRecord[]) => {
            appended.push(...records);
          },
        },
        geo: MaxmindGeo.fromBuffer(cityDatabase(), "fixture:city"),
        rulesets,
        auth: new Authenticator([
          { principal: "checker", role: "checker", sha256: digestSecret(secretOf("checker")) },
        ]),
        clock: Date.now,
        hashIp: () => "0".repeat(64),
        newId: randomUUID,
        logger: SILENT_LOGGER,
        readiness: () => [],
        locateCaller,
        clientAddress: (c) => c.req.header("cf-connecting-ip"),
        ticketKey: null,
      }),
    };
  }
  const post = (app: ReturnType<typeof edgeApp>["app"], path: string, body: unknown) =>
    app.request(path, requestInit("POST", secretOf("checker"), { body }));

  it("answers 503 until a ruleset is installed, and refuses a check without ip with 400 as Node does", async () => {
    const appended: DecisionRecord[] = [];
    const { app, rulesets } = edgeApp(appended);
    expect((await post(app, "/v1/check", { meetingId: "m", ip: PLACES.mumbai.ip })).status).toBe(503);
    rulesets.install(emptyRuleset(new Date().toISOString()));
    const res = await post(app, "/v1/check", { meetingId: "m" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.issues.map((i: { path: string }) => i.path)).toEqual(["ip"]);
    const batch = await post(app, "/v1/check/batch", {
      checks: [{ meetingId: "m", ip: PLACES.mumbai.ip }, { meetingId: "m" }],
    });
    expect(batch.status).toBe(400);
    expect(((await batch.json()) as any).error.issues[0].path).toBe("checks.1.ip");
    expect(appended).toEqual([]);
  });

  it("serves no browser-direct check without a ticket key", async () => {
    const { app } = edgeApp([]);
    expect((await post(app, "/v1/check/self", { ticket: "x" })).status).toBe(404);
  });

  it("does not register the routes that need the store", async () => {
    const { app } = edgeApp([]);
    for (const path of ["/v1/orders", "/v1/decisions", "/v1/audit", "/v1/reports/2026-H1"]) {
      expect((await app.request(path)).status, path).toBe(404);
    }
  });
});

describe("the IP hash (I6)", () => {
  it("is the same on the edge as on Node for the same configured key", () => {
    const key = "a-configured-ip-hash-key-0123456789abcdef";
    const node = ipHasher(Buffer.from(key, "utf8"));
    const edge = edgeIpHasher(key);
    for (const ip of [PLACES.mumbai.ip, PLACES.californiaV6.ip, "2001:db8::1", "10.0.0.1"]) {
      expect(edge(ip), ip).toBe(node(ip));
    }
    expect(edge(PLACES.mumbai.ip)).not.toBe(edge(PLACES.bengaluru.ip));
  });
});
