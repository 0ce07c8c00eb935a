/**
 * `cordon verify-report PERIOD` on untouched data and after a one-byte edit to each thing the manifest
 * vouches for (a record in the log, an archived record, an order or audit entry, a frozen report, the
 * manifest), on a data directory and on Redis.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { createOrder, type DecisionRecord, type Order, OrderInput, transition } from "../src/engine/index.js";
import { parsePeriod } from "../src/report/periods.js";
import { exportPrivateKey, generateSigningKey } from "../src/rulesets/signed.js";
import { manifestSigner } from "../src/service/report-signing.js";
import { ReportService } from "../src/service/reports.js";
import { RedisAggregateStore } from "../src/store/redis/aggregate-store.js";
import { RedisFrozenReportStore } from "../src/store/redis/frozen-store.js";
import { type PartitionKeys, partitionOf, redisKeys } from "../src/store/redis/keys.js";
import { RedisOrderStore } from "../src/store/redis/order-store.js";
import { runFromStream, streamRecords } from "../src/store/redis/report-reader.js";
import { decisionRecord, orderInput, PLACES, T0 } from "./support/fixtures.js";
import { approvedOrder, type Harness, makeHarness } from "./support/harness.js";
import { type RedisServer, startRedis } from "./support/redis.js";

const H1 = parsePeriod("2026-H1") as NonNullable<ReturnType<typeof parsePeriod>>;
const FINALIZABLE = Date.parse("2026-07-15T00:00:00Z");

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await run(
    args,
    (s) => {
      out += s;
    },
    {},
  );
  return { code, out };
}

/** Changes exactly one byte: the character after the first `marker` in `text` (a digit or letter). */
function oneByte(text: string, marker: string): string {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`marker ${marker} not found`);
  const i = at + marker.length;
  const c = text[i] as string;
  const swapped = /\d/.test(c) ? String((Number(c) + 1) % 10) : c === "a" ? "b" : "a";
  return text.slice(0, i) + swapped + text.slice(i + 1);
}

describe("on a data directory", () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    h = await makeHarness({ now: T0 });
    await approvedOrder(h);
    for (const ip of [PLACES.mumbai.ip, PLACES.bengaluru.ip, PLACES.amsterdam.ip]) {
      await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "81234567890", ip } });
    }
    h.clock.now = FINALIZABLE;
    expect((await h.call("POST", "/v1/reports/2026-H1/finalize", { as: "auditor" })).status).toBe(200);
    // A late record afterwards: in the log, in the period, never in its report.
    await h.store.append([decisionRecord({ at: "2026-04-01T00:00:00.000Z" })]);
    await h.call("GET", "/v1/reports/2026-H2", { as: "auditor" });
    dir = h.dir;
  });
  afterAll(() => h.close());

  it("verifies untouched data, noting the late record", async () => {
    const { code, out } = await cli("verify-report", "--data-dir", dir, "2026-H1");
    expect(out).toContain("report 2026-H1 VERIFIED");
    expect(out).not.toContain("FAIL");
    expect(out).toContain("3 records, Merkle root");
    expect(out).toContain("1 record(s) of 2026-H1 arrived after it was frozen");
    expect(code).toBe(0);
  });

  it.each([
    [
      "a record in the decision log",
      "decisions/000001.jsonl",
      '"meetingId":"8123456789',
      /decision log differ/,
    ],
    [
      "an archived record",
      "report/frozen/2026-H1/records.jsonl",
      '"meetingId":"8123456789',
      /archived records \(3, root/,
    ],
    ["an order's audit entry", "orders.jsonl", '"reference":"WP/123', /audit chain broken/],
    [
      "the frozen CSV",
      "report/frozen/2026-H1/report.csv",
      "2026-H1,IN,court,meeting,IN-M",
      /frozen csv differs/,
    ],
    [
      "the frozen HTML",
      "report/frozen/2026-H1/report.nl.html",
      "<title>Transparantierappor",
      /frozen html-nl differs/,
    ],
    ["the manifest", "report/frozen/2026-H1/manifest.json", '"deniedJoins": ', /signature does not verify/],
  ])("fails on a one-byte edit to %s, naming it", async (_what, file, marker, expected) => {
    const path = join(dir, file);
    const original = await readFile(path, "utf8");
    await writeFile(path, oneByte(original, marker));
    try {
      const { code, out } = await cli("verify-report", "--data-dir", dir, "2026-H1");
      expect(out).toMatch(expected);
      expect(out).toContain("does NOT verify");
      expect(code).toBe(1);
    } finally {
      await writeFile(path, original);
    }
    expect((await cli("verify-report", "--data-dir", dir, "2026-H1")).code).toBe(0);
  });

  it("fails when the signer is not the expected key, and for a period not finalized", async () => {
    const other = await exportPrivateKey((await generateSigningKey()).privateKey);
    const key = (await manifestSigner(other)).signer.publicKey;
    const pinned = await cli("verify-report", "--data-dir", dir, "--public-key", key, "2026-H1");
    expect(pinned.code).toBe(1);
    expect(pinned.out).toContain("not by the expected key");
    const open = await cli("verify-report", "--data-dir", dir, "2026-H2");
    expect(open.code).toBe(1);
    expect(open.out).toContain("2026-H2 is not finalized");
  });
});

describe("on Redis", () => {
  let server: RedisServer;
  let redis: Redis;
  let orders: RedisOrderStore;
  const keys = redisKeys("cordon");
  const streamOf = (r: DecisionRecord) =>
    (keys.partitions[partitionOf(r.decisionId, keys.partitions.length)] as PartitionKeys).stream;
  const records: DecisionRecord[] = [];

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { lazyConnect: false });
    orders = await RedisOrderStore.open(server.url, { prefix: "cordon" });
    const input = OrderInput.parse(orderInput());
    await orders.applyChange("ord_in", "create", "responder", "2026-02-21T10:00:00Z", () =>
      createOrder(input, { id: "ord_in", actor: "responder", at: "2026-02-21T10:00:00Z" }),
    );
    await orders.applyChange("ord_in", "approve", "approver", "2026-03-01T10:00:00Z", (current) =>
      transition(current as Order, { type: "approve" }, "approver", "2026-03-01T10:00:00Z"),
    );
    for (let i = 0; i < 5; i++) {
      records.push(
        decisionRecord({
          decisionId: `dec-${i}`,
          at: new Date(Date.UTC(2026, 2, 2) + i * 3_600_000).toISOString(),
          orderIds: ["ord_in"],
          ipHash: `${i % 2}`.repeat(64),
        }),
      );
    }
    for (const r of records) await redis.xadd(streamOf(r), "*", "r", JSON.stringify(r), "id", r.decisionId);
    const aggregates = new RedisAggregateStore(redis, keys);
    const signingKey = await exportPrivateKey((await generateSigningKey()).privateKey);
    const service = (clock: number) =>
      new ReportService({
        aggregates,
        catchUp: () => runFromStream(redis, keys, aggregates, { consumer: "test" }),
        orders: () => orders.listOrders(),
        clock: () => clock,
        frozen: new RedisFrozenReportStore(redis, keys),
        records: (ids) => streamRecords(redis, keys, ids),
        audit: orders,
        signer: () => manifestSigner(signingKey),
        graceDays: 14,
      });
    // Two instances finalizing at once agree on one manifest.
    const [a, b] = await Promise.all([
      service(FINALIZABLE).finalize(H1),
      service(FINALIZABLE + 1000).finalize(H1),
    ]);
    expect(a).toEqual(b);
    expect(a.records.count).toBe(5);
  });
  afterAll(async () => {
    await orders?.close();
    redis?.disconnect();
    await server?.close();
  });

  const verify = () => cli("verify-report", "--redis", server.url, "2026-H1");

  it("verifies untouched data", async () => {
    const { code, out } = await verify();
    expect(out).not.toContain("FAIL");
    expect(out).toContain("5 archived records equal their copies");
    expect(code).toBe(0);
  });

  it("fails on a one-byte edit to a record in the stream", async () => {
    const stream = streamOf(records[0] as DecisionRecord);
    const [id, fields] = ((await redis.xrange(stream, "-", "+", "COUNT", 1)) as [string, string[]][])[0] as [
      string,
      string[],
    ];
    const text = fields[1] as string;
    await redis.xdel(stream, id);
    const edited = await redis.xadd(stream, "*", "r", oneByte(text, '"meetingId":"8123456789'), "id", "x");
    try {
      const { code, out } = await verify();
      expect(out).toMatch(/1 record\(s\) in the decision log differ/);
      expect(code).toBe(1);
    } finally {
      await redis.xdel(stream, edited as string);
      await redis.xadd(stream, "*", ...fields);
    }
    expect((await verify()).code).toBe(0);
  });

  it("fails on a one-byte edit to an archived record", async () => {
    const key = keys.report.archive("2026-H1", "records");
    const original = (await redis.hget(key, "dec-3")) as string;
    await redis.hset(key, "dec-3", oneByte(original, '"at":"2026-03-02T0'));
    try {
      const { code, out } = await verify();
      expect(out).toMatch(/archived records \(5, root/);
      expect(code).toBe(1);
    } finally {
      await redis.hset(key, "dec-3", original);
    }
  });

  it("fails on a one-byte edit to an audit entry or a stored order", async () => {
    const entry = (await redis.lindex(keys.audit, 0)) as string;
    await redis.lset(keys.audit, 0, oneByte(entry, '"reference":"WP/123'));
    try {
      expect((await verify()).out).toMatch(/audit chain broken at seq 1/);
    } finally {
      await redis.lset(keys.audit, 0, entry);
    }
    const order = (await redis.hget(keys.orders, "ord_in")) as string;
    await redis.hset(keys.orders, "ord_in", oneByte(order, '"reference":"WP/123'));
    try {
      const { code, out } = await verify();
      expect(out).toMatch(/order ord_in differs from its last audit entry/);
      expect(code).toBe(1);
    } finally {
      await redis.hset(keys.orders, "ord_in", order);
    }
  });

  it("fails on a one-byte edit to the frozen report", async () => {
    const key = keys.frozen.report("2026-H1");
    const original = (await redis.get(key)) as string;
    const frozen = JSON.parse(original);
    frozen.formats.csv = oneByte(frozen.formats.csv, "2026-H1,IN,court,meeting,IN-M");
    await redis.set(key, JSON.stringify(frozen));
    try {
      const { code, out } = await verify();
      expect(out).toMatch(/frozen csv differs/);
      expect(code).toBe(1);
    } finally {
      await redis.set(key, original);
    }
  });
});
