/**
 * Cordon processes started as `npm start` is, with REDIS_URL naming a Redis Cluster
 * (`redis-cluster://...`): two instances serve checks, take an order on one and enforce it on the
 * other, and ship their decision records to the stream on the cluster.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedis, type RedisClient } from "../../src/platform/node/redis.js";
import { redisKeys } from "../../src/store/redis/keys.js";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import { orderInput } from "../support/harness.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { api, type ServerProcess, startServer, TOKENS, withToken } from "../support/server.js";
import { waitFor } from "../support/wait.js";

let dir: string;
let cluster: RedisCluster;
let a: ServerProcess;
let b: ServerProcess;
const servers: ServerProcess[] = [];

function envFor(name: string): Record<string, string> {
  return {
    REDIS_URL: cluster.url,
    CORDON_DATA_DIR: join(dir, name),
    CORDON_GEOIP_DB: join(dir, "City.mmdb"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "cluster-instances-test-ip-hash-key-0123456789",
    CORDON_RULESET_POLL_MS: "1000",
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-cluster-instances-"));
  await writeFile(join(dir, "City.mmdb"), cityDatabase());
  cluster = await startRedisCluster();
  const started = await Promise.allSettled(["a", "b"].map((name) => startServer(envFor(name))));
  for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
  for (const s of started) if (s.status === "rejected") throw s.reason;
  [a, b] = servers as [ServerProcess, ServerProcess];
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.stop("SIGKILL");
  await cluster?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("two instances on a Redis Cluster", () => {
  it("start on a redis-cluster:// URL, ready and not degraded", async () => {
    for (const s of [a, b]) {
      await waitFor(
        async () => {
          const ready = await (await fetch(`${s.url}/readyz`, withToken("checker"))).json();
          return ready.ready === true && ready.degraded !== true;
        },
        "the instance ready and not degraded",
        10_000,
      );
    }
  });

  it("serve checks, and enforce on B an order created and approved on A", async () => {
    const before = await api(b, "POST", "/v1/check", "checker", { meetingId: "c-1", ip: PLACES.mumbai.ip });
    expect(before.status).toBe(200);
    expect(before.body.code).toBe("NO_ORDER");

    const created = await api(
      a,
      "POST",
      "/v1/orders",
      "responder",
      orderInput({ target: { kind: "meeting", meetingIds: ["c-1"] } }),
    );
    expect(created.status).toBe(201);
    const approved = await api(b, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
    expect(approved.status).toBe(200);
    await waitFor(
      async () =>
        (await api(b, "POST", "/v1/check", "checker", { meetingId: "c-1", ip: PLACES.mumbai.ip })).body
          .code === "BLOCKED",
      "B to deny c-1",
      5000,
    );
    // A learns of B's approval as B did: by the message, or by the version poll when its subscriber was
    // moving between nodes as the message went out (README, "Redis Cluster": ruleset messages).
    await waitFor(
      async () =>
        (await api(a, "POST", "/v1/check", "checker", { meetingId: "c-1", ip: PLACES.mumbai.ip })).body
          .code === "BLOCKED",
      "A to deny c-1",
      5000,
    );
    const audit = await api(a, "GET", `/v1/orders/${created.body.id}`, "auditor");
    expect(audit.status).toBe(200);
    expect(audit.body.status).toBe("approved");
  });

  it("ship every answered check to the decision stream on the cluster", async () => {
    const answered: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await api(i % 2 ? a : b, "POST", "/v1/check", "checker", {
        meetingId: `ship-${i}`,
        ip: PLACES.amsterdam.ip,
      });
      expect(res.status).toBe(200);
      answered.push(res.body.decisionId);
    }
    const client: RedisClient = createRedis(cluster.url, {
      name: "cluster-instances-test",
      overrides: { enableOfflineQueue: true },
    });
    try {
      await waitFor(
        async () => {
          const ids = new Set<string>();
          // Spread over the decision partitions, and so over the cluster's masters.
          for (const { stream } of redisKeys("cordon").partitions) {
            const entries = (await client.xrange(stream, "-", "+")) as [string, string[]][];
            for (const [, fields] of entries) ids.add(fields[fields.indexOf("id") + 1] as string);
          }
          return answered.every((id) => ids.has(id));
        },
        "every answered check in the streams",
        10_000,
      );
    } finally {
      client.disconnect();
    }
  });
});
