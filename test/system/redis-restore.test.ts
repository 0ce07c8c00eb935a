/**
 * A Redis that restarts with its data gone, with two Cordon processes on it: order changes are refused
 * (never answered "approved" and then enforced nowhere) while the instances keep enforcing the orders
 * they had; `cordon restore` puts the history back from an instance's audit mirror, exactly as it was,
 * and both instances take order changes and enforce them again by themselves. A mirror that does not
 * verify, and a Redis that holds a history, are refused by the restore.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import { orderInput } from "../support/harness.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { api, type ServerProcess, startServer, TOKENS } from "../support/server.js";

let dir: string;
let redis: RedisServer;
let admin: RedisClient;
let a: ServerProcess;
let b: ServerProcess;
const keys = redisKeys("cordon");

function envFor(name: string): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    CORDON_DATA_DIR: join(dir, name),
    CORDON_GEOIP_DB: join(dir, "City.mmdb"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "redis-restore-test-ip-hash-key-0123456789",
    CORDON_RULESET_POLL_MS: "300",
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-redis-restore-"));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "City.mmdb"), cityDatabase());
  redis = await startRedis();
  admin = createRedis(redis.url, {
    name: "test-admin",
    overrides: { enableOfflineQueue: true, retryStrategy: () => 50, maxRetriesPerRequest: null },
  });
  admin.on("error", () => undefined);
  [a, b] = await Promise.all([startServer(envFor("a")), startServer(envFor("b"))]);
}, 60_000);

afterAll(async () => {
  for (const s of [a, b]) await s?.stop("SIGKILL");
  admin?.disconnect();
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

const check = (server: ServerProcess, meetingId: string) =>
  api(server, "POST", "/v1/check", "checker", { meetingId, ip: PLACES.mumbai.ip });

async function enter(server: ServerProcess, meetingId: string) {
  return api(
    server,
    "POST",
    "/v1/orders",
    "responder",
    orderInput({ target: { kind: "meeting", meetingIds: [meetingId] } }),
  );
}

async function mirrorLines(name: string): Promise<number> {
  const text = await readFile(join(dir, name, "audit-mirror", "audit.jsonl"), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "").length;
}

/** Everything RedisOrderStore keeps, read raw. */
async function history(prefix = keys) {
  const ids = await admin.lrange(prefix.orderIds, 0, -1);
  return {
    epoch: await admin.get(prefix.epoch),
    head: await admin.hgetall(prefix.head),
    audit: await admin.lrange(prefix.audit, 0, -1),
    orders: await admin.hgetall(prefix.orders),
    ids,
    perOrder: await Promise.all(ids.map((id) => admin.lrange(prefix.orderAudit(id), 0, -1))),
  };
}

async function restore(...args: string[]): Promise<{ code: number; output: string }> {
  let output = "";
  const code = await run(["restore", "--redis", redis.url, ...args], (s) => {
    output += s;
  });
  return { code, output };
}

let before: Awaited<ReturnType<typeof history>>;
let pendingId: string;

describe("a Redis restarted with its data gone", () => {
  it("refuses order changes on every instance until restored, and keeps enforcing the orders it had", async () => {
    const created = await enter(a, "kept-1");
    expect(created.status).toBe(201);
    expect((await api(b, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {})).status).toBe(200);
    const pending = await enter(b, "pending-1");
    expect(pending.status).toBe(201);
    pendingId = pending.body.id;
    await until(
      "A to enforce kept-1",
      () => check(a, "kept-1"),
      (r) => r.body.code === "BLOCKED",
    );
    // Both mirrors follow the chain, whichever instance wrote (they poll every 300 ms).
    await sleep(1000);
    before = await history();
    expect(before.audit).toHaveLength(3);
    const ruleset = await api(a, "GET", "/v1/ruleset", "auditor");

    await redis.kill();
    await redis.start({ fresh: true });

    // Once Redis answers again, every order route says why it refuses, naming the remedy.
    for (const server of [a, b]) {
      const refused = await until(
        "the order history to be found lost",
        () => enter(server, "after-1"),
        (r) => r.status !== 503 || /cordon restore/.test(r.body.error?.message ?? ""),
      );
      expect(refused.status).toBe(503);
      expect(refused.body.error).toMatchObject({ code: "UNAVAILABLE" });
      expect(refused.body.error.message).toMatch(/cordon restore/);
      const approve = await api(server, "POST", `/v1/orders/${pendingId}/approve`, "approver", {});
      expect(approve.status).toBe(503);
      expect(approve.body.error.message).toMatch(/cordon restore/);
      expect((await api(server, "GET", "/v1/orders", "auditor")).status).toBe(503);
      // The orders approved before stay enforced from the ruleset kept on disk.
      expect((await check(server, "kept-1")).body.code).toBe("BLOCKED");
    }
    // Nothing was written over the lost history: Redis holds no order history at all.
    expect(await admin.exists(keys.epoch, keys.head, keys.audit, keys.orders, keys.orderIds)).toBe(0);
    expect(a.stderr.join("")).toMatch(/order history in redis lost or diverged from the audit mirror/);
    expect([await mirrorLines("a"), await mirrorLines("b")]).toEqual([4, 4]);
    expect(before.epoch).toMatch(/^[0-9a-f-]{36}$/);
    expect(ruleset.body).toMatchObject({ version: 3, epoch: before.epoch });
    const ruleset2 = await api(b, "GET", "/v1/ruleset", "auditor");
    expect(ruleset2.body).toMatchObject({ version: 3, epoch: before.epoch });
  }, 60_000);

  it("is restored from an instance's mirror exactly as it was, and both instances take and enforce orders again", async () => {
    const { code, output } = await restore("--from", join(dir, "b", "audit-mirror"));
    expect(output).toMatch(/audit chain OK: 3 entries in Redis/);
    expect(code).toBe(0);
    expect(await history()).toEqual(before);
    expect(await admin.mget(keys.rulesetVersion, keys.rulesetEpoch)).toEqual(["3", before.epoch]);

    // The instances resume by themselves.
    const created = await until(
      "A to take orders again",
      () => enter(a, "after-2"),
      (r) => r.status === 201,
    );
    expect((await api(b, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {})).status).toBe(200);
    expect((await api(a, "POST", `/v1/orders/${pendingId}/approve`, "approver", {})).status).toBe(200);
    for (const server of [a, b]) {
      for (const meetingId of ["kept-1", "pending-1", "after-2"]) {
        await until(
          `${meetingId} enforced`,
          () => check(server, meetingId),
          (r) => r.body.code === "BLOCKED",
        );
      }
      const ruleset = await until(
        "the ruleset of the restored epoch at v6",
        () => api(server, "GET", "/v1/ruleset", "auditor"),
        (r) => r.body.version === 6,
      );
      expect(ruleset.body.epoch).toBe(before.epoch);
    }
    const audit = await api(a, "GET", "/v1/audit", "auditor");
    expect(audit.body.entries.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    let verified = "";
    expect(await run(["verify-audit", "--redis", redis.url], (s) => (verified += s))).toBe(0);
    expect(verified).toMatch(/audit chain OK: 6 entries/);
  }, 60_000);

  it("refuses to restore into a Redis that holds a history, and from a mirror that does not verify", async () => {
    const held = await history();
    await until(
      "A's mirror at seq 6",
      () => mirrorLines("a"),
      (n) => n === 7,
    );
    const again = await restore("--from", join(dir, "a", "audit-mirror"));
    expect(again.code).toBe(1);
    expect(again.output).toMatch(/restore refused: redis already holds an order history/);
    expect(await history()).toEqual(held);

    const lines = (await readFile(join(dir, "a", "audit-mirror", "audit.jsonl"), "utf8")).split("\n");
    const other = redisKeys("elsewhere");
    const tampered: [string, string[]][] = [
      [
        "an edited entry",
        lines.map((l, i) => (i === 2 ? l.replace('"actor":"approver-1"', '"actor":"responder-1"') : l)),
      ],
      ["a removed entry", lines.filter((_, i) => i !== 2)],
      [
        "a reordered chain",
        [lines[0] ?? "", lines[1] ?? "", lines[3] ?? "", lines[2] ?? "", ...lines.slice(4)],
      ],
    ];
    for (const [what, text] of tampered) {
      expect(text.join("\n"), what).not.toBe(lines.join("\n"));
      const file = join(dir, `backup-${what.replace(/ /g, "-")}.jsonl`);
      await writeFile(file, text.join("\n"));
      const result = await restore("--prefix", "elsewhere", "--from", file);
      expect(result.code, what).toBe(1);
      expect(result.output, what).toMatch(/restore refused: .* does not verify at seq 2/);
      expect(await history(other), what).toMatchObject({ epoch: null, audit: [], ids: [] });
    }
    // The untouched copy restores (under another prefix, which holds nothing).
    const good = join(dir, "backup-good.jsonl");
    await writeFile(good, lines.join("\n"));
    const result = await restore("--prefix", "elsewhere", "--from", good);
    expect(result.code).toBe(0);
    expect((await history(other)).audit).toEqual(held.audit);
  }, 60_000);
});
