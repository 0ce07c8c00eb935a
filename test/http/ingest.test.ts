/**
 * POST /v1/decisions/ingest: records from the edge join the decision log exactly once, however often
 * the Worker's Queue consumer delivers them; nothing that looks like a raw address is accepted.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { RedisIngestIndex } from "../../src/store/redis/ingest-index.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { decisionRecord } from "../support/fixtures.js";
import { type Harness, makeHarness } from "../support/harness.js";
import { type RedisServer, startRedis } from "../support/redis.js";

async function logged(h: Harness): Promise<string[]> {
  const page = await h.call("GET", "/v1/decisions?limit=1000", { as: "auditor" });
  return page.body.records.map((r: DecisionRecord) => r.decisionId);
}

describe("with the file index (embedded)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(() => h.close());

  it("appends a delivery once, however often it is retried or repeated inside itself", async () => {
    const batch = [decisionRecord(), decisionRecord(), decisionRecord()];
    const first = await h.call("POST", "/v1/decisions/ingest", { as: "admin", body: { records: batch } });
    expect(first.body).toEqual({ received: 3, appended: 3, duplicates: 0 });
    const retry = await h.call("POST", "/v1/decisions/ingest", {
      as: "admin",
      body: { records: [...batch, batch[0]] },
    });
    expect(retry.body).toEqual({ received: 4, appended: 0, duplicates: 4 });
    const mixed = [decisionRecord(), batch[1] as DecisionRecord];
    const third = await h.call("POST", "/v1/decisions/ingest", { as: "admin", body: { records: mixed } });
    expect(third.body).toEqual({ received: 2, appended: 1, duplicates: 1 });
    expect(await logged(h)).toEqual([...batch.map((r) => r.decisionId), mixed[0]?.decisionId]);
  });

  it("handles concurrent deliveries of the same batch", async () => {
    const batch = Array.from({ length: 50 }, () => decisionRecord());
    await Promise.all(
      Array.from({ length: 5 }, () =>
        h.call("POST", "/v1/decisions/ingest", { as: "admin", body: { records: batch } }),
      ),
    );
    expect((await logged(h)).sort()).toEqual(batch.map((r) => r.decisionId).sort());
  });

  it("refuses raw addresses, bad records and other roles", async () => {
    const raw = await h.call("POST", "/v1/decisions/ingest", {
      as: "admin",
      body: { records: [decisionRecord({ ipPrefix: "49.32.10.20" })] },
    });
    expect(raw.status).toBe(400);
    expect(raw.body.error.issues[0].path).toBe("records.0.ipPrefix");
    expect(
      (await h.call("POST", "/v1/decisions/ingest", { as: "admin", body: { records: [] } })).status,
    ).toBe(400);
    expect(
      (
        await h.call("POST", "/v1/decisions/ingest", {
          as: "admin",
          body: { records: [{ decisionId: "x" }] },
        })
      ).status,
    ).toBe(400);
    expect(
      (await h.call("POST", "/v1/decisions/ingest", { as: "checker", body: { records: [decisionRecord()] } }))
        .status,
    ).toBe(403);
    expect(await logged(h)).toEqual([]);
  });

  it("counts ingested edge records in the report exactly once", async () => {
    const batch = [decisionRecord(), decisionRecord({ ipHash: "b".repeat(64) })];
    await h.call("POST", "/v1/decisions/ingest", { as: "admin", body: { records: batch } });
    await h.call("POST", "/v1/decisions/ingest", { as: "admin", body: { records: batch } });
    const report = await h.call("GET", "/v1/reports/2026-03", { as: "auditor" });
    expect(report.body.enforcement.byJurisdiction["IN-MH"]).toMatchObject({
      deniedJoins: 2,
      distinctParticipants: 2,
    });
  });
});

describe("RedisIngestIndex", () => {
  let redis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.close();
  });

  it("tells unseen ids, per month, shared by every instance", async () => {
    const keys = redisKeys();
    const a = new RedisIngestIndex(client, keys.ingested);
    const b = new RedisIngestIndex(client, keys.ingested);
    const march = decisionRecord();
    const april = decisionRecord({ at: "2026-04-01T00:00:00.000Z" });
    expect(await a.unseen([march, april])).toEqual(new Set([march.decisionId, april.decisionId]));
    await a.remember([march]);
    expect(await b.unseen([march, april])).toEqual(new Set([april.decisionId]));
    expect(await client.smembers(keys.ingested("2026-03"))).toEqual([march.decisionId]);
  });
});
