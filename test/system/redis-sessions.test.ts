/**
 * Console sessions with REDIS_URL, as `npm start` runs: two Cordon processes on one Redis. Signed in on
 * A, the console works on B with the same cookie; A is stopped and started again and the session still
 * works on it. (In process memory, as embedded mode keeps them, B would send the user to sign in.)
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signInHttp } from "../support/console-http.js";
import { cityDatabase } from "../support/fixtures.js";
import { type RedisServer, startRedis } from "../support/redis.js";
import { type ServerProcess, secret, startServer, TOKENS } from "../support/server.js";

let dir: string;
let redis: RedisServer;
const servers: ServerProcess[] = [];

function start(name: string): Promise<ServerProcess> {
  return startServer({
    REDIS_URL: redis.url,
    CORDON_DATA_DIR: join(dir, name),
    CORDON_GEOIP_DB: join(dir, "City.mmdb"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "redis-sessions-test-ip-hash-key-0123456789",
  }).then((s) => {
    servers.push(s);
    return s;
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-redis-sessions-"));
  await writeFile(join(dir, "City.mmdb"), cityDatabase());
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  for (const s of servers) await s.stop("SIGKILL");
  await redis.close();
  await rm(dir, { recursive: true, force: true });
});

const orders = (server: ServerProcess, cookie: string) =>
  fetch(`${server.url}/console/orders`, { headers: { cookie }, redirect: "manual" });

describe("console sessions on two Cordon processes sharing Redis", () => {
  it("serves on B a sign-in made on A, and keeps it across a restart of A", async () => {
    const [a, b] = await Promise.all([start("a"), start("b")]);
    const send = (path: string, init: RequestInit) => fetch(a.url + path, init);
    const signedIn = await signInHttp(send, a.url, secret("responder"));

    const onB = await orders(b, signedIn.cookie);
    expect(onB.status).toBe(200);
    expect(await onB.text()).toContain("responder-1");

    await a.stop("SIGTERM");
    const restarted = await start("a");
    const onRestarted = await orders(restarted, signedIn.cookie);
    expect(onRestarted.status).toBe(200);
    expect(await onRestarted.text()).toContain("responder-1");
  }, 60_000);
});
