/**
 * CORDON_WORKERS=N with Redis: N worker processes share the port, each with its own outbox; a worker
 * that dies is replaced in the same slot; SIGTERM to the primary stops them all.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PLACES } from "../support/fixtures.js";
import { freePort, type RedisServer, startRedis } from "../support/redis.js";
import { api, ROOT, TOKENS } from "../support/server.js";

let dir: string;
let redis: RedisServer;
let primary: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-workers-"));
  redis = await startRedis();
});
afterAll(async () => {
  if (primary && primary.exitCode === null) primary.kill("SIGKILL");
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it("runs two workers on one port, replaces a dead one in its slot, and stops on SIGTERM", async () => {
  const port = await freePort();
  const stderr: string[] = [];
  primary = spawn(process.execPath, ["--import", "tsx", "src/entry/node.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      HOST: "127.0.0.1",
      REDIS_URL: redis.url,
      CORDON_WORKERS: "2",
      CORDON_DATA_DIR: join(dir, "data"),
      CORDON_TOKENS: Object.values(TOKENS).join(","),
      CORDON_IP_HASH_KEY: "workers-test-ip-hash-key-0123456789abcdef",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  primary.stderr?.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
  const listening = () =>
    [...stderr.join("").matchAll(/"message":"cordon listening".*?"worker":(\d+)/g)].map((m) => Number(m[1]));
  await waitFor(() => listening().length >= 2, 30_000, "two workers listening");
  expect(new Set(listening())).toEqual(new Set([0, 1]));
  expect((await readdir(join(dir, "data"))).sort()).toEqual(["worker-0", "worker-1"]);

  const server = { url: `http://127.0.0.1:${port}` };
  const results = await Promise.all(
    Array.from({ length: 40 }, () =>
      api(server, "POST", "/v1/check", "checker", { meetingId: "m", ip: PLACES.amsterdam.ip }),
    ),
  );
  expect(results.every((r) => r.status === 200)).toBe(true);

  // Kill one worker: the primary replaces it in the same slot.
  const pids = [...stderr.join("").matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1]));
  expect(pids.length).toBeGreaterThan(0);
  process.kill(pids[0] as number, "SIGKILL");
  await waitFor(() => listening().length >= 3, 30_000, "a replacement worker");
  expect(new Set(listening())).toEqual(new Set([0, 1]));
  expect(
    (await api(server, "POST", "/v1/check", "checker", { meetingId: "m", ip: PLACES.amsterdam.ip })).status,
  ).toBe(200);

  const exited = once(primary, "exit");
  primary.kill("SIGTERM");
  const [code] = await exited;
  expect(code).toBe(0);
}, 90_000);
