/** The `cordon` CLI on a real data directory: verify-audit passes a good chain and fails an edited one. */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { createOrder, OrderInput } from "../src/engine/index.js";
import { digestSecret } from "../src/service/auth.js";
import { redisKeys } from "../src/store/redis/keys.js";
import { RedisOrderStore } from "../src/store/redis/order-store.js";
import { approvedOrder, type Harness, makeHarness, orderInput } from "./support/harness.js";
import { type RedisServer, startRedis } from "./support/redis.js";

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await makeHarness();
  await approvedOrder(h);
  await h.store.close();
  dir = h.dir;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await run(args, (s) => {
    out += s;
  });
  return { code, out };
}

it("verifies a good audit chain", async () => {
  expect(await cli("verify-audit", "--data-dir", dir)).toEqual({
    code: 0,
    out: `audit chain OK: 2 entries in ${dir}\n`,
  });
});

it("compiles the stored orders into the ruleset summary", async () => {
  const { code, out } = await cli("ruleset", "--data-dir", dir);
  expect(code).toBe(0);
  expect(JSON.parse(out)).toMatchObject({
    version: 2,
    meetings: 1,
    orders: [{ mode: "enforce", jurisdictions: ["IN-MH"] }],
  });
});

it("fails verification of an edited audit log, naming the entry", async () => {
  const journal = join(dir, "orders.jsonl");
  const original = await readFile(journal, "utf8");
  await writeFile(journal, original.replace('"actor":"approver"', '"actor":"approver2"'));
  const { code, out } = await cli("verify-audit", "--data-dir", dir);
  expect(code).toBe(1);
  expect(out).toMatch(/^audit chain BROKEN at seq 2/);
  await writeFile(journal, original);
});

it("prints the digest Cordon keeps for a token, and usage for unknown commands", async () => {
  expect(await cli("hash-token", "s3cret-s3cret-s3cret")).toEqual({
    code: 0,
    out: `${digestSecret("s3cret-s3cret-s3cret")}\n`,
  });
  expect((await cli("frobnicate")).code).toBe(2);
  expect((await cli()).code).toBe(2);
});

describe("verify-audit --redis", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.close());

  it("verifies the chain in Redis and catches an edited entry", async () => {
    const store = await RedisOrderStore.open(redis.url);
    const input = OrderInput.parse(orderInput());
    await store.applyChange("ord_cli", "create", "responder", "2026-03-01T00:00:00Z", () =>
      createOrder(input, { id: "ord_cli", actor: "responder", at: "2026-03-01T00:00:00Z" }),
    );
    await store.close();
    expect(await cli("verify-audit", "--redis", redis.url)).toEqual({
      code: 0,
      out: "audit chain OK: 1 entries in Redis\n",
    });

    const client = new Redis(redis.url);
    const key = redisKeys().audit;
    const entry = (await client.lindex(key, 0)) as string;
    await client.lset(key, 0, entry.replace('"responder"', '"mallory"'));
    client.disconnect();
    const broken = await cli("verify-audit", "--redis", redis.url);
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(/^audit chain BROKEN at seq 1/);
  });
});
