/**
 * Redis as Cordon 0.1.0 left it (its append-only file, `test/fixtures/redis-0.1.0/aof`, written by that
 * version through a scenario of orders, checks shipped to the decision stream and a report) serves this
 * version unchanged: the same orders, audit chain, stream records with their ids, and report. Every key
 * 0.1.0 wrote stays, with its type, but its ruleset document (compiled from the orders; it moved to a key
 * of its own: see `RULESET_KEY`); its decision stream and report aggregates (`{cordon-decisions}`,
 * `{cordon-report}`) are read and reported as before, and nothing new is written to them. The keys this
 * version adds are expected: the half-year's wrapped IP-hash key (I6), the order history's epoch with
 * the ruleset's (a history 0.1.0 wrote gets its epoch when this version first opens it), the ruleset's
 * document, its version and the deltas after it, and the decision partitions (`{cordon-d<p>}`: streams,
 * their report checkpoints and aggregates, never a set of seen ids) with the stored number of
 * partitions, where new records go.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisKeys } from "../../src/store/redis/keys.js";
import { expectSameReport } from "../support/compat.js";
import { freePort } from "../support/redis.js";
import { api, type ServerProcess, startServer, TOKENS } from "../support/server.js";

const FIXTURE = new URL("../fixtures/redis-0.1.0/aof/", import.meta.url);
const ANSWERS = new URL("../fixtures/redis-0.1.0.answers.json", import.meta.url);

let dir: string;
let port: number;
let redis: ChildProcess;
let server: ServerProcess;
let expected: {
  orders: unknown;
  audit: unknown;
  decisions: { records: unknown[]; next: string };
  report: Record<string, unknown>;
  keys: string[];
};

const cli = (...args: string[]) =>
  execFileSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).trim();

/** Every key with its type, as the fixture lists them. */
const allKeys = () =>
  cli("--scan")
    .split("\n")
    .filter(Boolean)
    .sort()
    .map((key) => `${key} ${cli("type", key)}`);

/** A deliberate addition since 0.1.0: the current half-year's wrapped IP-hash key (I6). */
const PERIOD_KEY = /^cordon:\{cordon\}:ip-hash-key:\d{4}-H[12] string$/;
/** Added since 0.1.0: the decision partitions and their number. */
const PARTITION_KEY = /^cordon:\{cordon-d\d+\}:|^cordon:\{cordon\}:decision-partitions string$/;
/** The types and names a partition's keys may have: no per-record key (no `seen` set) among them. */
const PARTITION_SHAPES = [
  /^cordon:\{cordon-d\d+\}:stream stream$/,
  /^cordon:\{cordon-d\d+\}:epoch string$/,
  /^cordon:\{cordon-d\d+\}:report:checkpoint string$/,
  /^cordon:\{cordon-d\d+\}:report:(months|frozen|archived) set$/,
  /^cordon:\{cordon-d\d+\}:report:late hash$/,
  /^cordon:\{cordon-d\d+\}:report:\d{4}-\d{2}:counts hash$/,
  /^cordon:\{cordon-d\d+\}:report:\d{4}-\d{2}:(meetings|participants):[jo]:.+ set$/,
  /^cordon:\{cordon\}:decision-partitions string$/,
];
/** The others: the epoch of the order history and of the ruleset stored (README, Running on Redis). */
const EPOCH_KEYS = ["cordon:{cordon}:epoch string", "cordon:{cordon}:ruleset-epoch string"];
/**
 * Enforcement events (README, "Enforcement events"): the stream, the published state and its meta, and
 * what the last publishes changed. The first reconcile after the upgrade announces the blocks in force
 * (the published state starts empty).
 */
/**
 * The ruleset since its deltas (README, Running on Redis): the document at a key of its own, with its
 * version and the deltas after it. The key 0.1.0 kept the document in is deleted when this version
 * stores one, so that an instance of an earlier release finds none and says so instead of taking an
 * earlier version for the one in force. A document is derived data: compiled from the orders, which
 * stay as they were.
 */
const RULESET_KEY =
  /^cordon:\{cordon\}:ruleset-(document string|document-version string|chain hash|deltas stream)$/;
const EARLIER_DOCUMENT = "cordon:{cordon}:ruleset string";
const ENFORCEMENT_KEY =
  /^cordon:\{cordon\}:enforcement-(events stream|state hash|meta hash|trimmed string|changes stream)$/;
const keys = () =>
  allKeys().filter(
    (key) =>
      !PERIOD_KEY.test(key) &&
      !PARTITION_KEY.test(key) &&
      !EPOCH_KEYS.includes(key) &&
      !ENFORCEMENT_KEY.test(key) &&
      !RULESET_KEY.test(key),
  );
/** The keys 0.1.0 wrote that stay: all but its ruleset document (see `RULESET_KEY`). */
const kept = () => expected.keys.filter((key) => key !== EARLIER_DOCUMENT);
const partitionKeys = () => allKeys().filter((key) => PARTITION_KEY.test(key));
const partitionStreams = () =>
  allKeys()
    .filter((key) => /^cordon:\{cordon-d\d+\}:stream stream$/.test(key))
    .map((key) => key.split(" ")[0] as string);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-redis-compat-"));
  await cp(FIXTURE, join(dir, "aof-0"), { recursive: true });
  expected = JSON.parse(await readFile(ANSWERS, "utf8"));
  port = await freePort();
  redis = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes"].concat([
      "--appenddirname",
      "aof-0",
      "--save",
      "",
      "--loglevel",
      "warning",
    ]),
    { stdio: "ignore" },
  );
  for (let i = 0; i < 400 && !(await pong()); i++) await new Promise((r) => setTimeout(r, 25));
  server = await startServer({
    REDIS_URL: `redis://127.0.0.1:${port}`,
    CORDON_DATA_DIR: join(dir, "instance"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "golden-redis-ip-hash-key-0123456789abcdef",
  });
});
afterAll(async () => {
  await server?.stop();
  if (redis && redis.exitCode === null) {
    const exited = once(redis, "exit");
    redis.kill("SIGKILL");
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

async function pong(): Promise<boolean> {
  try {
    return cli("ping") === "PONG";
  } catch {
    return false;
  }
}

describe("Redis as Cordon 0.1.0 left it", () => {
  it("holds the keys 0.1.0 wrote, loaded from its append-only file, and adds only partition keys", () => {
    expect(expected.keys).toContain(EARLIER_DOCUMENT);
    expect(keys()).toEqual(kept());
    expect(allKeys().filter((key) => RULESET_KEY.test(key))).toContain(
      "cordon:{cordon}:ruleset-document string",
    );
    for (const key of partitionKeys())
      expect(
        PARTITION_SHAPES.some((shape) => shape.test(key)),
        key,
      ).toBe(true);
  });

  it("lists the same orders and audit chain", async () => {
    expect((await api(server, "GET", "/v1/orders", "auditor")).body).toEqual(expected.orders);
    expect((await api(server, "GET", "/v1/audit?limit=1000", "auditor")).body).toEqual(expected.audit);
  });

  it("pages the same stream records with the same ids, and takes 0.1.0's cursors", async () => {
    const page = (await api(server, "GET", "/v1/decisions?limit=1000", "auditor")).body;
    expect(page.records).toEqual(expected.decisions.records);
    // The cursor now holds a position per stream (the single stream of 0.1.0 first, then each
    // partition); a cursor 0.1.0 handed out is a position in that single stream and still pages on.
    const old = expected.decisions.next;
    // Each id in base 36; a partition still at its start is empty.
    const [ms, seq] = old.split("-").map((n) => BigInt(n).toString(36));
    expect(page.next).toBe(
      `v2.${ms}-${seq},${redisKeys("cordon")
        .partitions.map(() => "")
        .join(",")}`,
    );
    const fromOld = (await api(server, "GET", `/v1/decisions?limit=1000&after=${old}`, "auditor")).body;
    expect(fromOld.records).toEqual([]);
  });

  it("reports the same counts from the aggregates and the report group", async () => {
    await expectSameReport(server, expected.report);
  });

  it("ships new records to a partition, and leaves the keys 0.1.0 wrote as they were", async () => {
    const legacyLength = cli("xlen", "cordon:{cordon-decisions}:stream");
    expect(
      (await api(server, "POST", "/v1/check", "checker", { meetingId: "m-ru", ip: "8.8.8.8" })).status,
    ).toBe(200);
    let records: unknown[] = [];
    for (let i = 0; i < 200 && records.length <= expected.decisions.records.length; i++) {
      records = (await api(server, "GET", "/v1/decisions?limit=1000", "auditor")).body.records;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(records.slice(0, -1)).toEqual(expected.decisions.records);
    expect(records).toHaveLength(expected.decisions.records.length + 1);
    await api(server, "GET", "/v1/reports/2026-H2", "auditor");
    expect(keys()).toEqual(kept());
    expect(cli("xlen", "cordon:{cordon-decisions}:stream")).toBe(legacyLength);
    const shipped = partitionStreams().reduce((n, stream) => n + Number(cli("xlen", stream)), 0);
    expect(shipped).toBe(1);
    for (const key of partitionKeys())
      expect(
        PARTITION_SHAPES.some((shape) => shape.test(key)),
        key,
      ).toBe(true);
    expect(allKeys().filter((key) => PERIOD_KEY.test(key))).toHaveLength(1);
    expect(allKeys().filter((key) => EPOCH_KEYS.includes(key))).toEqual(EPOCH_KEYS);
  });

  it("announces the blocks 0.1.0 left in force once, as enforcement events", async () => {
    const inForce = (await api(server, "GET", "/v1/orders?enforcement=active", "auditor")).body.orders.filter(
      (o: { mode: string }) => o.mode === "enforce",
    );
    expect(inForce.length).toBeGreaterThan(0);
    expect(Number(cli("xlen", "cordon:{cordon}:enforcement-events"))).toBe(inForce.length);
  });
});
