/**
 * `npm run report` as an operator runs it: a child process (`node --import tsx src/cli/report.ts`) on the
 * data directory of a stopped server, or against Redis, writing `<out>/<period>.<json|csv|html>`.
 */

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOrder,
  type DecisionRecord,
  type Order,
  OrderInput,
  transition,
} from "../../src/engine/index.js";
import { CSV_HEADER } from "../../src/report/render.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { SegmentLog } from "../../src/store/file/segment-log.js";
import type { OrderStore } from "../../src/store/interface.js";
import { type PartitionKeys, partitionOf, redisKeys } from "../../src/store/redis/keys.js";
import { RedisOrderStore } from "../../src/store/redis/order-store.js";
import { orderInput } from "../support/fixtures.js";
import { type RedisServer, startRedis } from "../support/redis.js";

const ROOT = resolve(import.meta.dirname, "../..");

function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return cliWith({}, ...args);
}

function cliWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/report.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, CORDON_DATA_DIR: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", fail);
    child.on("close", (code) => done({ code, out, err }));
  });
}

function input(overrides: Record<string, unknown>): OrderInput {
  return OrderInput.parse(orderInput({ accountType: "pro", accountLocation: "IN", ...overrides }));
}

/** Three orders: one approved in March (complied), one rejected in April, one still pending. */
async function enterOrders(store: OrderStore): Promise<void> {
  const create = (id: string, overrides: Record<string, unknown>, at: string) =>
    store.applyChange(id, "create", "responder", at, () =>
      createOrder(input(overrides), { id, actor: "responder", at }),
    );
  const decide = (id: string, action: "approve" | "reject", at: string) =>
    store.applyChange(id, action, "approver", at, (current) =>
      transition(
        current as Order,
        action === "approve" ? { type: "approve" } : { type: "reject", reason: "not specific" },
        "approver",
        at,
      ),
    );
  await create("ord_in", {}, "2026-02-21T10:00:00Z");
  await decide("ord_in", "approve", "2026-03-01T10:00:00Z");
  await create(
    "ord_ru",
    {
      authority: { name: "Roskomnadzor", jurisdiction: "RU", kind: "regulator" },
      jurisdictions: ["RU"],
      receivedAt: "2026-03-10T09:00:00Z",
    },
    "2026-03-10T10:00:00Z",
  );
  await decide("ord_ru", "reject", "2026-04-02T10:00:00Z");
  await create("ord_pending", { receivedAt: "2026-05-01T09:00:00Z" }, "2026-05-01T10:00:00Z");
}

function decision(i: number, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decisionId: `dec-${i}`,
    at: new Date(Date.UTC(2026, 2, 2) + i * 3_600_000).toISOString(),
    meetingId: "81234567890",
    decision: "deny",
    code: "BLOCKED",
    orderIds: ["ord_in"],
    jurisdiction: "IN-MH",
    country: "IN",
    subdivision: "IN-MH",
    ipPrefix: "49.32.10.0/24",
    ipHash: `h${i % 3}`,
    rulesetVersion: 2,
    geoSource: "mmdb",
    geoDbVersion: "fixture",
    ...overrides,
  };
}

/** Five denied joins by three participants, one shadow-free allow, one allow outside the jurisdiction. */
const RECORDS: DecisionRecord[] = [
  ...Array.from({ length: 5 }, (_, i) => decision(i)),
  decision(5, { decision: "allow", code: "NO_ORDER", orderIds: [], jurisdiction: null }),
  decision(6, {
    decision: "allow",
    code: "OUTSIDE_JURISDICTION",
    orderIds: [],
    jurisdiction: null,
    country: "NL",
  }),
];

let dir: string;
let out: string;
const cleanup: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-report-cli-"));
  out = join(dir, "out");
  cleanup.push(dir);
  const store = await FileStore.open(join(dir, "data"));
  await enterOrders(store);
  await store.append(RECORDS);
  await store.close();
});

afterAll(() => Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true }))));

describe("on a data directory", () => {
  it("writes the JSON report with the enforcement counts, after aggregating the decision log", async () => {
    const run = await cli(
      "--period",
      "2026-H1",
      "--format",
      "json",
      "--out",
      out,
      "--data-dir",
      join(dir, "data"),
    );
    expect(run).toMatchObject({ code: 0, err: "" });
    expect(run.out).toContain("aggregated 7 new decision records (0 already counted)");
    expect(run.out).toContain(`wrote ${join(out, "2026-H1.json")}`);
    const report = JSON.parse(await readFile(join(out, "2026-H1.json"), "utf8"));
    expect(report.period).toBe("2026-H1");
    expect(report.requests.total).toBe(2);
    expect(report.requests.pendingAtEnd.count).toBe(1);
    expect(report.enforcement.byJurisdiction["IN-MH"]).toEqual({
      deniedJoins: 5,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 1,
      distinctParticipants: 3,
    });
    expect(report.enforcement.byOrder.ord_in).toMatchObject({ deniedJoins: 5, distinctParticipants: 3 });
  });

  it("writes the CSV dataset with the published header, one row per completed order", async () => {
    const run = await cli(
      "--period",
      "2026-H1",
      "--format",
      "csv",
      "--out",
      out,
      "--data-dir",
      join(dir, "data"),
    );
    expect(run.code).toBe(0);
    // Caught up already: nothing new to count.
    expect(run.out).toContain("aggregated 0 new decision records");
    const lines = (await readFile(join(out, "2026-H1.csv"), "utf8")).split("\r\n").filter((l) => l !== "");
    expect(lines[0]).toBe(CSV_HEADER.join(","));
    expect(lines.slice(1).sort()).toEqual([
      "2026-H1,IN,court,meeting,IN-MH,IN-MH,complied,,pro,IN,2026-02-20,2026-03-01,5,0",
      "2026-H1,RU,regulator,meeting,RU,RU,rejected,other,pro,IN,2026-03-10,2026-04-02,0,0",
    ]);
  });

  it("writes the HTML page in the language asked for", async () => {
    const run = await cli(
      "--period",
      "2026-H1",
      "--format",
      "html",
      "--lang",
      "nl",
      "--out",
      out,
      "--data-dir",
      join(dir, "data"),
    );
    expect(run.code).toBe(0);
    const html = await readFile(join(out, "2026-H1.html"), "utf8");
    expect(html).toMatch(/<html[^>]*lang="nl"/);
  });

  it("names the publisher and service the server's settings give", async () => {
    const run = await cliWith(
      { CORDON_REPORT_PUBLISHER: "Example Meetings B.V.", CORDON_REPORT_SERVICE: "Example Meetings" },
      "--period",
      "2026-H1",
      "--format",
      "html",
      "--out",
      out,
      "--data-dir",
      join(dir, "data"),
    );
    expect(run.code).toBe(0);
    const html = await readFile(join(out, "2026-H1.html"), "utf8");
    expect(html).toContain("Published by Example Meetings B.V., for Example Meetings.");
  });

  it("counts only the new records on the next run, and the same records again never", async () => {
    const store = await FileStore.open(join(dir, "data"));
    // Two new denied joins.
    await store.append([decision(7), decision(8, { ipHash: "h-new" })]);
    await store.close();
    const run = await cli("--period", "2026-Q1", "--out", out, "--data-dir", join(dir, "data"));
    expect(run.code).toBe(0);
    expect(run.out).toContain("aggregated 2 new decision records (0 already counted)");
    const expected = { deniedJoins: 7, distinctParticipants: 4 };
    const report = JSON.parse(await readFile(join(out, "2026-Q1.json"), "utf8"));
    expect(report.enforcement.byJurisdiction["IN-MH"]).toMatchObject(expected);
    // A run over the same log again: nothing new, the same numbers.
    const again = await cli("--period", "2026-Q1", "--out", out, "--data-dir", join(dir, "data"));
    expect(again.out).toContain("aggregated 0 new decision records");
    const same = JSON.parse(await readFile(join(out, "2026-Q1.json"), "utf8"));
    expect(same.enforcement.byJurisdiction["IN-MH"]).toMatchObject(expected);
  });

  it("counts the decision logs of every worker a CORDON_WORKERS server left, each record once", async () => {
    const data = join(dir, "workers-data");
    const store = await FileStore.open(data);
    await enterOrders(store);
    await store.append(RECORDS.slice(0, 2));
    await store.close();
    // Workers 1 and 2 wrote their checks to their own logs (runtime/node/workers.md).
    for (const [slot, records] of [
      [1, [decision(20), decision(21, { ipHash: "h-w1" })]],
      [2, [decision(22, { ipHash: "h-w2" })]],
    ] as const) {
      const log = await SegmentLog.open(join(data, `worker-${slot}`));
      await log.append(records);
      await log.close();
    }
    const run = await cli("--period", "2026-H1", "--format", "json", "--out", out, "--data-dir", data);
    expect(run).toMatchObject({ code: 0, err: "" });
    expect(run.out).toContain("aggregated 5 new decision records (0 already counted)");
    const report = JSON.parse(await readFile(join(out, "2026-H1.json"), "utf8"));
    expect(report.enforcement.byOrder.ord_in).toMatchObject({ deniedJoins: 5, distinctParticipants: 5 });
    const again = await cli("--period", "2026-H1", "--format", "json", "--out", out, "--data-dir", data);
    expect(again.out).toContain("aggregated 0 new decision records");
    const same = JSON.parse(await readFile(join(out, "2026-H1.json"), "utf8"));
    expect(same.enforcement.byOrder.ord_in).toMatchObject({ deniedJoins: 5, distinctParticipants: 5 });
  });

  it("refuses the data directory of a running server, saying why and what to do instead", async () => {
    const running = await FileStore.open(join(dir, "data"));
    try {
      const run = await cli("--period", "2026-H1", "--out", out, "--data-dir", join(dir, "data"));
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/in use by process \d+/);
      expect(run.err).toMatch(/stopped server/);
      expect(run.err).toContain("GET /v1/reports/2026-H1");
    } finally {
      await running.close();
    }
  });

  it("refuses a directory that is not a data directory rather than reporting zeros", async () => {
    const run = await cli("--period", "2026-H1", "--out", out, "--data-dir", join(dir, "no-such-dir"));
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/is not a Cordon data directory/);
  });
});

describe("bad arguments", () => {
  it.each([
    [["--format", "json"], /--period is required/],
    [["--period", "2026-H3"], /not a period/],
    [["--period", "2026-H1", "--format", "pdf"], /--format must be json, csv or html/],
    [["--period", "2026-H1", "--lang", "fr"], /--lang must be en or nl/],
    [["--period", "2026-H1", "--threshold", "-1"], /--threshold/],
    [["--period", "2026-H1", "--data-dir", "d", "--redis", "redis://x"], /exclude each other/],
    [["--period", "2026-H1", "--prefix", "p"], /--prefix goes with --redis/],
  ])("exits 2 with a message and the usage for %j", async (args, message) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.err).toContain("usage: npm run report");
  });

  it("exits 2 with one line for an option that does not exist", async () => {
    const run = await cli("--period", "2026-H1", "--bogus");
    expect(run.code).toBe(2);
    expect(run.err).toBe("report: unknown option --bogus (npm run report -- --help lists the options)\n");
  });
});

describe("against Redis", () => {
  let redisServer: RedisServer;
  beforeAll(async () => {
    redisServer = await startRedis();
  });
  afterAll(() => redisServer.close());

  it("aggregates the decision streams through the report group and writes the report", async () => {
    const prefix = "clitest";
    const orders = await RedisOrderStore.open(redisServer.url, { prefix });
    await enterOrders(orders);
    await orders.close();
    const redis = new Redis(redisServer.url);
    const keys = redisKeys(prefix);
    try {
      // The first record twice in the legacy stream of an earlier version (deduplicated by decisionId
      // there), the others each in its partition's stream.
      const [first, ...rest] = RECORDS as [DecisionRecord, ...DecisionRecord[]];
      for (const r of [first, first]) {
        await redis.xadd(keys.legacy.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
      }
      for (const r of rest) {
        const p = keys.partitions[partitionOf(r.decisionId, keys.partitions.length)] as PartitionKeys;
        await redis.xadd(p.stream, "*", "id", r.decisionId, "r", JSON.stringify(r));
      }
      const args = ["--period", "2026-H1", "--out", out, "--redis", redisServer.url, "--prefix", prefix];
      const run = await cli(...args);
      expect(run).toMatchObject({ code: 0, err: "" });
      expect(run.out).toContain("aggregated 7 new decision records (1 already counted)");
      const report = JSON.parse(await readFile(join(out, "2026-H1.json"), "utf8"));
      expect(report.requests.total).toBe(2);
      expect(report.enforcement.byJurisdiction["IN-MH"]).toMatchObject({
        deniedJoins: 5,
        distinctParticipants: 3,
      });
      // Every entry acknowledged: nothing left pending for the trimmer to wait on.
      for (const stream of [keys.legacy.stream, ...keys.partitions.map((p) => p.stream)]) {
        expect(await redis.xpending(stream, keys.reportGroup)).toEqual([0, null, null, null]);
      }
      const again = await cli(...args);
      expect(again.out).toContain("aggregated 0 new decision records");
      expect(JSON.parse(await readFile(join(out, "2026-H1.json"), "utf8")).enforcement).toEqual(
        report.enforcement,
      );
    } finally {
      redis.disconnect();
    }
  });

  it("fails with a clear message when Redis cannot be reached", async () => {
    const run = await cli("--period", "2026-H1", "--out", out, "--redis", "redis://127.0.0.1:1");
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^report: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/m);
  });
});
