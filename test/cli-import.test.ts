/**
 * `cordon import`: backfill from a JSON Lines file into a data directory or Redis, through the same
 * service as the API. A bad file exits 1 with the issues and leaves the store as it was.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { RedisRulesetChannel } from "../src/rulesets/redis-channel.js";
import { FileAggregateStore } from "../src/store/file/aggregate-store.js";
import { FileStore } from "../src/store/file/file-store.js";
import { redisKeys } from "../src/store/redis/keys.js";
import { RedisOrderStore } from "../src/store/redis/order-store.js";
import { orderInput } from "./support/harness.js";
import { type RedisServer, startRedis } from "./support/redis.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "cordon-cli-import-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await run(args, (s) => {
    out += s;
  });
  return { code, out };
}

const history = (overrides: Record<string, unknown> = {}) =>
  orderInput({
    receivedAt: "2025-02-03T09:00:00Z",
    createdAt: "2025-02-03T10:15:00Z",
    createdBy: "asha",
    decision: { status: "rejected", at: "2025-02-04T08:30:00Z", by: "ravi", reason: "too broad" },
    ...overrides,
  });

async function file(name: string, ...lines: unknown[]): Promise<string> {
  const path = join(root, name);
  await writeFile(path, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  return path;
}

describe("cordon import --data-dir", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(root, "data-"));
  });

  it("refuses a history completed in a finalized period, as the API does (I9)", async () => {
    const aggregates = await FileAggregateStore.open(join(dir, "report"));
    await aggregates.freeze(["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]);
    await aggregates.close();
    const refused = await cli("import", "--data-dir", dir, await file("frozen.jsonl", history()));
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/line 1: completed 2025-02-04, in a finalized period/);
    const later = history({
      receivedAt: "2025-08-01T09:00:00Z",
      createdAt: "2025-08-01T10:00:00Z",
      decision: { status: "rejected", at: "2025-08-02T08:30:00Z", by: "ravi", reason: "too broad" },
    });
    expect((await cli("import", "--data-dir", dir, await file("open.jsonl", later))).code).toBe(0);
  });

  it("imports a file, prints a summary per line, and skips it the second time", async () => {
    const path = await file(
      "good.jsonl",
      history(),
      history({
        reference: "WP/2/2025",
        decision: undefined,
        withdrawal: { at: "2025-03-01T00:00:00Z", by: "ravi" },
      }),
    );
    const first = await cli("import", "--data-dir", dir, "--as", "ops-admin", path);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(
      new RegExp(
        `^imported 2, skipped 0 \\(already stored\\) of 2 orders into ${dir}, as ops-admin\\n` +
          "  line 1: ord_imp_[0-9a-f]{20} imported\\n  line 2: ord_imp_[0-9a-f]{20} imported\\n$",
      ),
    );
    expect(await cli("verify-audit", "--data-dir", dir)).toEqual({
      code: 0,
      out: `audit chain OK: 4 entries in ${dir}\n`,
    });

    const again = await cli("import", "--data-dir", dir, path);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^imported 0, skipped 2 \(already stored\) of 2 orders into .*, as cli:/);

    const store = await FileStore.open(dir);
    try {
      const orders = await store.listOrders();
      expect(orders.map((o) => [o.status, o.importedBy, o.createdAt])).toEqual([
        ["rejected", "ops-admin", "2025-02-03T10:15:00.000Z"],
        ["withdrawn", "ops-admin", "2025-02-03T10:15:00.000Z"],
      ]);
    } finally {
      await store.close();
    }
  });

  it("exits 1 with every issue on a bad file and imports nothing", async () => {
    const path = await file(
      "bad.jsonl",
      history(),
      history({ reference: "WP/2/2025", jurisdictions: ["PK-PB"] }),
      history({
        reference: "WP/3/2025",
        decision: { status: "rejected", at: "2025-02-04T08:30:00Z", by: "asha", reason: "r" },
      }),
    );
    const { code, out } = await cli("import", "--data-dir", dir, path);
    expect(code).toBe(1);
    expect(out).toMatch(/^import refused: 2 lines cannot be imported; nothing was imported\n/);
    expect(out).toContain("  line 2: jurisdictions: JURISDICTION_OUTSIDE_AUTHORITY: PK-PB");
    expect(out).toContain("  line 3: decision.by: FOUR_EYES:");
    expect(await cli("verify-audit", "--data-dir", dir)).toEqual({
      code: 0,
      out: `audit chain OK: 0 entries in ${dir}\n`,
    });
  });

  it("exits 1 for a file it cannot read, and 2 without a file", async () => {
    const missing = await cli("import", "--data-dir", dir, join(root, "nope.jsonl"));
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/^cannot read .*nope\.jsonl: ENOENT/);
    expect((await cli("import", "--data-dir", dir)).code).toBe(2);
  });
});

describe("cordon import --redis", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.close());

  it("imports into Redis and publishes the recompiled ruleset to the running instances", async () => {
    const approved = history({
      effectiveUntil: "2025-06-30T00:00:00Z",
      decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "ravi" },
    });
    const path = await file("redis.jsonl", approved);
    const client = new Redis(redis.url);
    const keys = redisKeys("cli");
    await client.subscribe(keys.rulesetChannel);
    const announced = new Promise<string>((resolve) =>
      client.once("message", (_, version) => resolve(version)),
    );

    const { code, out } = await cli("import", "--redis", redis.url, "--prefix", "cli", path);
    expect(code).toBe(0);
    expect(out).toMatch(/^imported 1, skipped 0 \(already stored\) of 1 orders into Redis/);
    expect(await announced).toBe("2");
    client.disconnect();

    const reader = new Redis(redis.url);
    try {
      const document = await new RedisRulesetChannel(reader, reader, keys).readDocument();
      expect(document).toMatchObject({ version: 2, orders: [{ id: expect.stringMatching(/^ord_imp_/) }] });
    } finally {
      reader.disconnect();
    }
    const store = await RedisOrderStore.open(redis.url, { prefix: "cli" });
    try {
      expect(await store.verify()).toMatchObject({ ok: true, count: 2 });
      expect((await store.listOrders())[0]).toMatchObject({ status: "approved", decidedBy: "ravi" });
    } finally {
      await store.close();
    }
  });
});
