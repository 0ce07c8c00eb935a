/**
 * On Node, what keeps the two runtimes' answers and records comparable: the full surface still requires
 * `ip` (only the edge surface makes it optional), the edge surface serves only its routes, and the
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
      }),
    };
  }
  const post = (app: ReturnType<typeof edgeApp>["app"], path: string, body: unknown) =>
    app.request(path, requestInit("POST", secretOf("checker"), { body }));

  it("answers 503 until a ruleset is installed, then locates a check without ip nowhere when no caller is known", async () => {
    const appended: DecisionRecord[] = [];
    const { app, rulesets } = edgeApp(appended);
    expect((await post(app, "/v1/check", { meetingId: "m" })).status).toBe(503);
    rulesets.install(emptyRuleset(new Date().toISOString()));
    const res = await post(app, "/v1/check", { meetingId: "m" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ code: "NO_ORDER", geo: { country: null, subdivision: null } });
    expect(appended[0]).toMatchObject({ geoSource: "none", ipPrefix: null, ipHash: null });
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
