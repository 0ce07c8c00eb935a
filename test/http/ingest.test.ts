/**
 * POST /v1/decisions/ingest: records from the edge join the decision log exactly once, however often
 * the Worker's Queue consumer delivers them; a record that breaks a rule of DESIGN "Ingest" is refused
 * with its index and never stored, and the others of its delivery go in. The index behind it (file and
 * Redis) is one contract, run on both.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { EdgeIngest, isRecordPrefix } from "../../src/service/ingest.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { FileIngestIndex } from "../../src/store/file/ingest-index.js";
import { edgeDecisionId, type IngestIndex, recordDigest } from "../../src/store/ingest-index.js";
import { RedisIngestIndex } from "../../src/store/redis/ingest-index.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { decisionRecord, PLACES, T0 } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness } from "../support/harness.js";
import { type RedisServer, startRedis } from "../support/redis.js";

const HOUR = 3600_000;
const NOW = T0 + 12 * HOUR;

async function logged(h: Harness): Promise<DecisionRecord[]> {
  const page = await h.call("GET", "/v1/decisions?limit=1000", { as: "auditor" });
  return page.body.records;
}

/** A record as the log keeps it once ingested: its edge hash sealed under the half-year's key (I6). */
const sealed = (h: Harness, r: DecisionRecord): DecisionRecord => ({
  ...r,
  ipHash: r.ipHash === null ? null : h.ipHashKeys.sealEdgeHash(r.ipHash, r.at),
});

const ingest = (h: Harness, records: unknown[]) =>
  h.call("POST", "/v1/decisions/ingest", { as: "edge", body: { records } });

describe("POST /v1/decisions/ingest", () => {
  let h: Harness;
  let orderId: string;
  /** A record as the edge writes it: its own id, an hour old, naming the approved order. */
  let edgeRecord: (overrides?: Partial<DecisionRecord>) => DecisionRecord;
  beforeEach(async () => {
    h = await makeHarness({ now: NOW });
    orderId = (await approvedOrder(h)).id;
    edgeRecord = (overrides = {}) =>
      decisionRecord({
        decisionId: edgeDecisionId(randomUUID()),
        at: new Date(NOW - HOUR).toISOString(),
        orderIds: [orderId],
        ...overrides,
      });
  });
  afterEach(() => h.close());

  it("appends a delivery once, however often it is retried or repeated inside itself", async () => {
    const batch = [edgeRecord(), edgeRecord(), edgeRecord()];
    const first = await ingest(h, batch);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ accepted: 3, skipped: 0, refused: [] });
    const retry = await ingest(h, [...batch, batch[0]]);
    expect(retry.body).toEqual({ accepted: 0, skipped: 4, refused: [] });
    const mixed = [edgeRecord(), batch[1] as DecisionRecord];
    expect((await ingest(h, mixed)).body).toEqual({ accepted: 1, skipped: 1, refused: [] });
    expect((await logged(h)).map((r) => r.decisionId)).toEqual(
      [...batch, mixed[0]].map((r) => r?.decisionId),
    );
  });

  it("handles concurrent deliveries of the same batch", async () => {
    const batch = Array.from({ length: 50 }, () => edgeRecord());
    const answers = await Promise.all(Array.from({ length: 5 }, () => ingest(h, batch)));
    expect(answers.map((a) => a.body.accepted).sort()).toEqual([0, 0, 0, 0, 50]);
    expect((await logged(h)).map((r) => r.decisionId).sort()).toEqual(batch.map((r) => r.decisionId).sort());
  });

  const DAY = 24 * HOUR;
  it.each<[string, () => Partial<DecisionRecord>, string]>([
    ["a /32 address as ipPrefix", () => ({ ipPrefix: "203.0.113.77/32" }), "BAD_IP_PREFIX"],
    ["a bare address as ipPrefix", () => ({ ipPrefix: "49.32.10.20" }), "BAD_IP_PREFIX"],
    ["host bits in a /24", () => ({ ipPrefix: "203.0.113.77/24" }), "BAD_IP_PREFIX"],
    ["a /16", () => ({ ipPrefix: "203.0.0.0/16" }), "BAD_IP_PREFIX"],
    ["an IPv6 /64", () => ({ ipPrefix: "2001:db8:1:1::/64" }), "BAD_IP_PREFIX"],
    ["host bits in an IPv6 /48", () => ({ ipPrefix: "2001:db8:1::7/48" }), "BAD_IP_PREFIX"],
    ["an IPv6 prefix in capitals", () => ({ ipPrefix: "2001:DB8:1::/48" }), "BAD_IP_PREFIX"],
    ["a hash without a prefix", () => ({ ipPrefix: null }), "BAD_IP_PREFIX"],
    ["an address as ipHash", () => ({ ipHash: "203.0.113.77" }), "BAD_IP_HASH"],
    ["an uppercase ipHash", () => ({ ipHash: "A".repeat(64) }), "BAD_IP_HASH"],
    ["a short ipHash", () => ({ ipHash: "a".repeat(63) }), "BAD_IP_HASH"],
    ["a prefix without a hash", () => ({ ipHash: null }), "BAD_IP_HASH"],
    ["an IPv4 address as accountId", () => ({ accountId: "203.0.113.77" }), "BAD_ACCOUNT_ID"],
    ["an address inside accountId", () => ({ accountId: "user@203.0.113.77" }), "BAD_ACCOUNT_ID"],
    ["an IPv6 address as accountId", () => ({ accountId: "2001:db8::1" }), "BAD_ACCOUNT_ID"],
    ["a written phone number as accountId", () => ({ accountId: "tel:0031-6-1234-5678" }), "BAD_ACCOUNT_ID"],
    ["an accountId with spaces", () => ({ accountId: "Jan Jansen" }), "BAD_ACCOUNT_ID"],
    ["an at 15 days old", () => ({ at: new Date(NOW - 15 * DAY).toISOString() }), "TOO_OLD"],
    ["an at 10 minutes ahead", () => ({ at: new Date(NOW + 10 * 60_000).toISOString() }), "TOO_FAR_AHEAD"],
    ["an at in a future half-year", () => ({ at: "2026-08-01T10:00:00.000Z" }), "TOO_FAR_AHEAD"],
    ["an at with an offset", () => ({ at: "2026-03-01T12:00:00+02:00" }), "BAD_TIME"],
    ["an at that is no instant", () => ({ at: "yesterday" }), "BAD_TIME"],
    ["an unknown order", () => ({ orderIds: ["ord_nope"] }), "UNKNOWN_ORDER"],
    ["a Node decision id (UUIDv4)", () => ({ decisionId: randomUUID() }), "NOT_EDGE_ID"],
    ["a made-up decision id", () => ({ decisionId: "d-1" }), "NOT_EDGE_ID"],
    ["an address as meetingId", () => ({ meetingId: "203.0.113.77 " }), "BAD_MEETING_ID"],
    ["an address as country", () => ({ country: "203.0.113.77" }), "BAD_LOCATION"],
    ["a made-up jurisdiction", () => ({ jurisdiction: "ZZ-FAKE" }), "BAD_LOCATION"],
    [
      "a dial-in record with a network prefix",
      () => ({ phoneCountryCode: "+7", geoSource: "phone" as const }),
      "BAD_IP_PREFIX",
    ],
    [
      "a phone number as phoneCountryCode",
      () => ({ ipPrefix: null, phoneCountryCode: "+74951234567", geoSource: "phone" as const }),
      "BAD_PHONE_CODE",
    ],
    [
      "a calling code from a geo source other than phone",
      () => ({ ipPrefix: null, phoneCountryCode: "+7", geoSource: "mmdb" as const }),
      "BAD_PHONE_CODE",
    ],
    [
      "a phone record whose hash is the number",
      () => ({ ipPrefix: null, phoneCountryCode: "+7", geoSource: "phone" as const, ipHash: "+74951234567" }),
      "BAD_IP_HASH",
    ],
  ])("refuses %s, stores nothing of it, and takes the rest of the delivery", async (_name, bad, code) => {
    const good = [edgeRecord(), edgeRecord()];
    const res = await ingest(h, [good[0], edgeRecord(bad()), good[1]]);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.refused).toEqual([{ index: 1, code, message: expect.any(String) }]);
    expect((await logged(h)).map((r) => r.decisionId)).toEqual(good.map((r) => r.decisionId));
  });

  it("accepts a dial-in caller's record (calling code, keyed hash) and in-meeting and host records", async () => {
    const res = await ingest(h, [
      edgeRecord({
        ipPrefix: null,
        phoneCountryCode: "+7",
        geoSource: "phone",
        country: "RU",
        subdivision: null,
      }),
      edgeRecord({ phase: "in_meeting", role: "host" }),
    ]);
    expect(res.body).toEqual({ accepted: 2, skipped: 0, refused: [] });
    expect((await logged(h)).map((r) => [r.phoneCountryCode ?? null, r.phase, r.role])).toEqual([
      ["+7", undefined, undefined],
      [null, "in_meeting", "host"],
    ]);
  });

  it("accepts the networks a check records: IPv4 /24, IPv6 /48, 6to4 /40, and no address at all", async () => {
    const res = await ingest(h, [
      edgeRecord({ ipPrefix: "203.0.113.0/24" }),
      edgeRecord({ ipPrefix: "2001:db8:1::/48" }),
      edgeRecord({ ipPrefix: "2002:cb00:7100::/40" }),
      edgeRecord({ ipPrefix: null, ipHash: null, accountId: "acct_5Yt2" }),
    ]);
    expect(res.body).toEqual({ accepted: 4, skipped: 0, refused: [] });
  });

  it("judges account ids as the check does: digits are an account, an address is refused at both", async () => {
    const numeric = edgeRecord({ accountId: "31612345678" });
    expect((await ingest(h, [numeric])).body).toEqual({ accepted: 1, skipped: 0, refused: [] });
    const check = (accountId: string) =>
      h.call("POST", "/v1/check", {
        as: "checker",
        body: { meetingId: "81234567890", ip: PLACES.mumbai.ip, accountId },
      });
    expect((await check("31612345678")).status).toBe(200);
    for (const raw of ["203.0.113.77", "user@203.0.113.77", "2001:db8::1", "tel:0031-6-1234-5678"]) {
      const res = await check(raw);
      expect(res.status, raw).toBe(400);
      expect(res.body.error.issues[0].path).toBe("accountId");
    }
  });

  it("never stores a live check's decisionId a second time, identical or not", async () => {
    const live = await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    });
    const [record] = await logged(h);
    expect(record?.decisionId).toBe(live.body.decisionId);
    const res = await ingest(h, [record, { ...record, decision: "allow", code: "NO_ORDER" }]);
    expect(res.body.accepted).toBe(0);
    expect(res.body.refused.map((r: { code: string }) => r.code)).toEqual(["NOT_EDGE_ID", "NOT_EDGE_ID"]);
    expect(await logged(h)).toEqual([record]);
  });

  it("refuses a stored decisionId that arrives with other content, in a later delivery or the same one", async () => {
    const original = edgeRecord();
    await ingest(h, [original]);
    const forged = { ...original, meetingId: "other-meeting" };
    const later = await ingest(h, [forged]);
    expect(later.body).toEqual({
      accepted: 0,
      skipped: 0,
      refused: [{ index: 0, code: "ID_CONFLICT", message: expect.any(String) }],
    });
    const twin = edgeRecord();
    const inOne = await ingest(h, [twin, { ...twin, decision: "allow", code: "NO_ORDER" }]);
    expect(inOne.body.accepted).toBe(1);
    expect(inOne.body.refused).toEqual([{ index: 1, code: "ID_CONFLICT", message: expect.any(String) }]);
    expect(await logged(h)).toEqual([sealed(h, original), sealed(h, twin)]);
  });

  it("still answers 400 for a body that is no list of decision records", async () => {
    for (const body of [{ records: [] }, { records: [{ decisionId: "x" }] }, { records: "no" }, {}]) {
      const res = await h.call("POST", "/v1/decisions/ingest", { as: "edge", body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("BAD_REQUEST");
    }
    expect(await logged(h)).toEqual([]);
  });

  it("counts ingested edge records in the report exactly once", async () => {
    const batch = [edgeRecord(), edgeRecord({ ipHash: "b".repeat(64) })];
    await ingest(h, batch);
    await ingest(h, batch);
    const report = await h.call("GET", "/v1/reports/2026-03", { as: "auditor" });
    expect(report.body.enforcement.byJurisdiction["IN-MH"]).toMatchObject({
      deniedJoins: 2,
      distinctParticipants: 2,
    });
  });

  it("stores nothing it refuses, and each id once, whatever mix of records and replays arrives (fuzz)", async () => {
    const live = await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    });
    expect(live.status).toBe(200);
    // What a delivery can carry: fresh valid records, malformed ones, and replays of stored ones
    // (identical, altered, or a live check's record).
    const sent: DecisionRecord[] = [];
    const mutations: ((r: DecisionRecord) => DecisionRecord)[] = [
      (r) => ({ ...r, ipPrefix: "203.0.113.77/32" }),
      (r) => ({ ...r, ipPrefix: `${r.ipPrefix?.split("/")[0]}/25` }),
      (r) => ({ ...r, ipHash: "203.0.113.77" }),
      (r) => ({ ...r, accountId: "198.51.100.23" }),
      (r) => ({ ...r, accountId: "+31612345678" }),
      (r) => ({ ...r, at: new Date(NOW - 20 * DAY).toISOString() }),
      (r) => ({ ...r, at: new Date(NOW + HOUR).toISOString() }),
      (r) => ({ ...r, orderIds: ["ord_unknown"] }),
      (r) => ({ ...r, decisionId: randomUUID() }),
    ];
    const item = fc.oneof(
      fc.constant(() => edgeRecord()),
      fc
        .nat({ max: mutations.length - 1 })
        .map((i) => () => (mutations[i] as (r: DecisionRecord) => DecisionRecord)(edgeRecord())),
      fc.nat().map((i) => () => sent[i % Math.max(sent.length, 1)] ?? edgeRecord()),
      fc.nat().map((i) => () => {
        const earlier = sent[i % Math.max(sent.length, 1)] ?? edgeRecord();
        return { ...earlier, rulesetVersion: earlier.rulesetVersion + 1 };
      }),
    );
    // One harness for every run: the log grows across runs, as it does in production, so a shrunk
    // counterexample is to be read together with the deliveries before it.
    let stored = await logged(h);
    const liveRecord = stored[0] as DecisionRecord;
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (makers, withLive) => {
          const records = makers.map((make) => make());
          if (withLive) records.push({ ...liveRecord });
          const res = await ingest(h, records);
          expect(res.status).toBe(200);
          const { accepted, skipped, refused } = res.body as {
            accepted: number;
            skipped: number;
            refused: { index: number }[];
          };
          expect(accepted + skipped + refused.length).toBe(records.length);
          const after = await logged(h);
          // The log only grows, by exactly what was accepted, and never by a refused record.
          expect(after.slice(0, stored.length)).toEqual(stored);
          const added = after.slice(stored.length);
          expect(added).toHaveLength(accepted);
          const refusedAt = new Set(refused.map((r) => r.index));
          const kept = records.filter((_, i) => !refusedAt.has(i));
          const keptSealed = kept.map((r) => sealed(h, r));
          for (const r of added) expect(keptSealed).toContainEqual(r);
          // Every added record is a kept one, sealed: none is a refused one.
          for (const i of refusedAt) expect(added).not.toContainEqual(records[i]);
          const ids = after.map((r) => r.decisionId);
          expect(new Set(ids).size).toBe(ids.length);
          for (const r of added) expect(isRecordPrefix(r.ipPrefix as string)).toBe(true);
          sent.push(...records);
          stored = after;
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("EdgeIngest", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cordon-ingest-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  function edge(finalizedMonths: string[] = []) {
    const log: DecisionRecord[] = [];
    const ingest = new EdgeIngest({
      index: new FileIngestIndex(dir),
      decisions: { append: async (records) => void log.push(...records) },
      orders: { getOrder: async (id) => (id === "ord_x" ? ({ id } as never) : undefined) },
      isFinalized: async (at) => finalizedMonths.includes(at.slice(0, 7)),
      sealEdgeHash: (hash, at) => `sealed:${at.slice(0, 7)}:${hash}`,
      clock: () => Date.parse("2026-07-03T00:00:00.000Z"),
    });
    return { log, ingest };
  }
  const record = (at: string) => decisionRecord({ decisionId: edgeDecisionId(randomUUID()), at });

  it("refuses records of a finalized period, and takes those of the open one", async () => {
    const { log, ingest } = edge(["2026-06"]);
    const late = record("2026-06-29T10:00:00.000Z");
    const current = record("2026-07-02T10:00:00.000Z");
    expect(await ingest.ingest([late, current])).toEqual({
      accepted: 1,
      skipped: 0,
      refused: [{ index: 0, code: "PERIOD_FINALIZED", message: expect.any(String) }],
    });
    expect(log.map((r) => r.decisionId)).toEqual([current.decisionId]);
  });

  it("seals each accepted ipHash for its record's instant, and tells a retry by the record as sent", async () => {
    const { log, ingest } = edge();
    const r = record("2026-07-02T10:00:00.000Z");
    await ingest.ingest([r]);
    expect(log[0]?.ipHash).toBe(`sealed:2026-07:${"a".repeat(64)}`);
    expect(await ingest.ingest([r])).toEqual({ accepted: 0, skipped: 1, refused: [] });
    expect(log).toHaveLength(1);
  });

  it("takes a retry of a record whose append failed, and refuses other content under its id", async () => {
    const index = new FileIngestIndex(dir);
    let fail = true;
    const log: DecisionRecord[] = [];
    const ingest = new EdgeIngest({
      index,
      decisions: {
        append: async (records) => {
          if (fail) throw new Error("disk full");
          log.push(...records);
        },
      },
      orders: { getOrder: async (id) => ({ id }) as never },
      isFinalized: async () => false,
      sealEdgeHash: (hash) => hash,
      clock: () => Date.parse("2026-07-03T00:00:00.000Z"),
    });
    const r = record("2026-07-02T10:00:00.000Z");
    await expect(ingest.ingest([r])).rejects.toThrow("disk full");
    fail = false;
    expect((await ingest.ingest([{ ...r, meetingId: "other" }])).refused[0]?.code).toBe("ID_CONFLICT");
    expect(await ingest.ingest([r])).toEqual({ accepted: 1, skipped: 0, refused: [] });
    expect(log).toEqual([r]);
  });
});

describe("EdgeIngest on a data directory, after a crash", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cordon-ingest-crash-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const NOW = Date.parse("2026-07-03T00:00:00.000Z");
  const record = () =>
    decisionRecord({ decisionId: edgeDecisionId(randomUUID()), at: "2026-07-02T10:00:00.000Z" });

  /** Ingest as the server wires it: the data directory's log, and the file index reading that log. */
  function ingestOn(
    store: FileStore,
    index: IngestIndex = new FileIngestIndex(join(dir, "ingested"), store.decisions),
  ) {
    return new EdgeIngest({
      index,
      decisions: store,
      orders: { getOrder: async (id) => ({ id }) as never },
      isFinalized: async () => false,
      sealEdgeHash: (hash) => hash,
      clock: () => NOW,
    });
  }

  async function loggedIds(): Promise<string[]> {
    const store = await FileStore.open(dir);
    try {
      return (await store.page({ limit: 1000 })).records.map((r) => r.decisionId);
    } finally {
      await store.close();
    }
  }

  /**
   * A process that stops at `confirm` (as a kill -9 there would: nothing after it runs), its data
   * directory closed as the kernel leaves it (the appended bytes are written).
   */
  async function crashBeforeConfirm(records: DecisionRecord[], appendToo: boolean): Promise<void> {
    const store = await FileStore.open(dir);
    const index = new FileIngestIndex(join(dir, "ingested"), store.decisions);
    const dies = new Promise<never>(() => {});
    const sink = appendToo ? store : { append: () => dies };
    const edge = new EdgeIngest({
      index: { claim: (e) => index.claim(e), confirm: () => dies },
      decisions: sink,
      orders: { getOrder: async (id) => ({ id }) as never },
      isFinalized: async () => false,
      sealEdgeHash: (hash) => hash,
      clock: () => NOW,
    });
    void edge.ingest(records);
    const deadline = Date.now() + 5000;
    const claimed = () =>
      readFile(join(dir, "ingested", "claims.json"), "utf8").then(
        () => true,
        () => false,
      );
    while (
      appendToo ? (await store.page({ limit: 1000 })).records.length < records.length : !(await claimed())
    ) {
      if (Date.now() > deadline) throw new Error("the delivery never reached the point of the crash");
      await new Promise((r) => setTimeout(r, 5));
    }
    await store.close();
  }

  it("does not append a record again when the process died between its append and its confirmation", async () => {
    const records = [record(), record()];
    await crashBeforeConfirm(records, true);
    expect(await loggedIds()).toEqual(records.map((r) => r.decisionId));

    // The Queue delivers the batch again to the restarted process.
    const store = await FileStore.open(dir);
    try {
      const edge = ingestOn(store);
      expect(await edge.ingest(records)).toEqual({ accepted: 0, skipped: 2, refused: [] });
      const other = { ...(records[0] as DecisionRecord), meetingId: "other" };
      expect((await edge.ingest([other])).refused[0]?.code).toBe("ID_CONFLICT");
    } finally {
      await store.close();
    }
    expect(await loggedIds()).toEqual(records.map((r) => r.decisionId));
  });

  it("appends a record whose claim was written but whose append never happened", async () => {
    const records = [record()];
    await crashBeforeConfirm(records, false);
    expect(await loggedIds()).toEqual([]);
    const store = await FileStore.open(dir);
    try {
      expect(await ingestOn(store).ingest(records)).toEqual({ accepted: 1, skipped: 0, refused: [] });
      expect(await ingestOn(store).ingest(records)).toEqual({ accepted: 0, skipped: 1, refused: [] });
    } finally {
      await store.close();
    }
    expect(await loggedIds()).toEqual(records.map((r) => r.decisionId));
  });
});

/** The index's contract, on the file store and on Redis. */
function indexContract(name: string, open: () => Promise<{ a: IngestIndex; b: () => IngestIndex }>) {
  describe(`${name} ingest index`, () => {
    const entry = (at = "2026-03-01T10:00:00.000Z", content = "x") => ({
      decisionId: edgeDecisionId(randomUUID()),
      at,
      digest: recordDigest({ content }),
    });

    it("claims an id once per content: new, then same once confirmed, different for other content", async () => {
      const { a, b } = await open();
      const march = entry();
      const april = entry("2026-04-01T00:00:00.000Z");
      expect(await a.claim([march, april])).toEqual(["new", "new"]);
      // Claimed, not confirmed: the same content may be appended again (a retry after a failed append).
      expect(await a.claim([march])).toEqual(["new"]);
      expect(await a.claim([{ ...march, digest: recordDigest({ content: "y" }) }])).toEqual(["different"]);
      await a.confirm([march]);
      expect(await a.claim([march, { ...april, digest: recordDigest({ content: "z" }) }])).toEqual([
        "same",
        "different",
      ]);
      // Another instance (Redis) or the same directory reopened (file) knows what was confirmed.
      expect(await b().claim([march])).toEqual(["same"]);
    });
  });
}

indexContract("the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cordon-ingest-index-"));
  return { a: new FileIngestIndex(dir), b: () => new FileIngestIndex(dir) };
});

describe("on Redis", () => {
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

  indexContract("the Redis", async () => {
    const keys = redisKeys(`t${randomUUID().slice(0, 8)}`);
    return {
      a: new RedisIngestIndex(client, keys.ingested),
      b: () => new RedisIngestIndex(client, keys.ingested),
    };
  });

  it("lets one of two instances claim an id when they ingest different records under it at once", async () => {
    const keys = redisKeys();
    const a = new RedisIngestIndex(client, keys.ingested);
    const b = new RedisIngestIndex(client, keys.ingested);
    const id = edgeDecisionId(randomUUID());
    const at = "2026-03-01T10:00:00.000Z";
    const [x, y] = await Promise.all([
      a.claim([{ decisionId: id, at, digest: recordDigest({ v: 1 }) }]),
      b.claim([{ decisionId: id, at, digest: recordDigest({ v: 2 }) }]),
    ]);
    expect([...(x ?? []), ...(y ?? [])].sort()).toEqual(["different", "new"]);
    expect(await client.pttl(`${keys.ingested("2026-03")}:digests`)).toBeGreaterThan(0);
  });
});
