/**
 * `/v1/check/self` takes no bearer token but a join ticket: a client that keeps presenting bad tickets
 * is logged and slowed like one that keeps presenting bad tokens (per client, `CF-Connecting-IP`).
 * Built on Node from the edge app, as the Worker builds it.
 */
import { randomUUID } from "node:crypto";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { type DecisionRecord, emptyRuleset } from "../../src/engine/index.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { createEdgeApp } from "../../src/http/app.js";
import { locateCaller } from "../../src/platform/cloudflare/caller.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { Authenticator } from "../../src/service/auth.js";
import { cityDatabase } from "../support/fixtures.js";
import { type LogLine, recordingLogger } from "../support/logs.js";

const TICKET_KEY = "self-check-ticket-key-0123456789abcdef";

function edgeApp(lines: LogLine[]) {
  const rulesets = new RulesetHolder(Date.now);
  rulesets.install(emptyRuleset(new Date().toISOString()));
  const appended: DecisionRecord[] = [];
  const app = createEdgeApp({
    decisions: { append: async (records) => void appended.push(...records) },
    geo: MaxmindGeo.fromBuffer(cityDatabase(), "fixture:city"),
    rulesets,
    auth: new Authenticator([]),
    clock: Date.now,
    hashIp: () => "0".repeat(64),
    newId: randomUUID,
    logger: recordingLogger(lines).logger,
    readiness: () => [],
    locateCaller,
    clientAddress: (c) => c.req.header("cf-connecting-ip"),
    ticketKey: TICKET_KEY,
  });
  return { app, appended };
}

const selfCheck = (app: ReturnType<typeof edgeApp>["app"], ticket: string, client: string) =>
  app.request("/v1/check/self", {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": client },
    body: JSON.stringify({ ticket }),
  });

describe("POST /v1/check/self under repeated bad tickets", () => {
  it("logs each bad ticket, answers 429 with Retry-After past the client's budget, and spares other clients", async () => {
    const lines: LogLine[] = [];
    const { app, appended } = edgeApp(lines);
    const now = Math.floor(Date.now() / 1000);
    const forged = await sign(
      { meeting: "81234567890", iat: now, exp: now + 60 },
      "not-the-meeting-service-key-0123456789",
    );
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await selfCheck(app, forged, "198.51.100.7")).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    const blocked = await selfCheck(app, forged, "198.51.100.7");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    const failures = lines.filter((l) => l.message === "authentication failed");
    expect(failures.length).toBeGreaterThanOrEqual(10);
    expect(JSON.stringify(failures)).not.toContain(forged);
    expect((await selfCheck(app, forged, "203.0.113.9")).status).toBe(401);
    expect(appended).toEqual([]);
    // A real ticket from an unblocked client is still answered.
    const real = await sign({ meeting: "81234567890", iat: now, exp: now + 60 }, TICKET_KEY);
    expect((await selfCheck(app, real, "192.0.2.44")).status).toBe(200);
  });
});
