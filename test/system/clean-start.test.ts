/**
 * Clean starts (issue 15): every misconfiguration stops the start with one line naming the setting and
 * what is wrong (no value, no stack trace) and a non-zero exit; generated tokens are kept and shown only
 * once the server listens, and a later start says where they are; Redis unreachable at start leaves the
 * instance not ready, says so loudly, and recovers when Redis comes up.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis } from "../support/redis.js";
import { ROOT, startServer } from "../support/server.js";
import { waitFor } from "../support/wait.js";

let dir: string;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-clean-start-"));
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Runs the entry to its exit (a start that fails), with the whole output. */
async function failedStart(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/entry/node.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The lines a person reads (not the JSON log lines). */
const plainLines = (text: string) =>
  text.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("{"));

const SECRET = "cdn_pasted-secret-never-echoed";

describe("a misconfigured start stops with one line naming the setting", () => {
  it.each<[string, (d: string) => Promise<Record<string, string>>, string]>([
    ["CORDON_GEOIP_DB is a directory", async (d) => ({ CORDON_GEOIP_DB: d }), "CORDON_GEOIP_DB"],
    [
      "CORDON_GEOIP_DB does not exist",
      async (d) => ({ CORDON_GEOIP_DB: join(d, "missing.mmdb") }),
      "CORDON_GEOIP_DB",
    ],
    [
      "CORDON_GEOIP_DB is not a MaxMind database",
      async (d) => {
        await writeFile(join(d, "not.mmdb"), "hello\n");
        return { CORDON_GEOIP_DB: join(d, "not.mmdb") };
      },
      "CORDON_GEOIP_DB",
    ],
    ["CORDON_TOKENS is empty", async () => ({ CORDON_TOKENS: "" }), "CORDON_TOKENS"],
    ["CORDON_TOKENS is a secret without its name", async () => ({ CORDON_TOKENS: SECRET }), "CORDON_TOKENS"],
    [
      "CORDON_TOKENS has role and secret swapped",
      async () => ({ CORDON_TOKENS: `alice:${SECRET}:responder` }),
      "CORDON_TOKENS",
    ],
    [
      "CORDON_DATA_DIR is a file",
      async (d) => {
        await writeFile(join(d, "a-file"), "");
        return { CORDON_DATA_DIR: join(d, "a-file") };
      },
      "CORDON_DATA_DIR",
    ],
    [
      "PORT is in use",
      async () => {
        const taken = createServer().listen(0, "127.0.0.1");
        await once(taken, "listening");
        const address = taken.address();
        cleanups.push(() => new Promise<void>((done) => taken.close(() => done())));
        return { PORT: String(typeof address === "object" && address ? address.port : 0) };
      },
      "PORT",
    ],
    [
      "PORT is in use, with CORDON_WORKERS=2 (no worker restarted in a loop)",
      async () => {
        const taken = createServer().listen(0, "127.0.0.1");
        await once(taken, "listening");
        const address = taken.address();
        cleanups.push(() => new Promise<void>((done) => taken.close(() => done())));
        return {
          PORT: String(typeof address === "object" && address ? address.port : 0),
          CORDON_WORKERS: "2",
        };
      },
      "PORT",
    ],
    ["HOST is not an address of this machine", async () => ({ HOST: "192.0.2.1" }), "HOST"],
  ])(
    "%s",
    async (_name, envOf, setting) => {
      const d = await mkdtemp(join(dir, "case-"));
      const dataDir = join(d, "data");
      const result = await failedStart({ CORDON_DATA_DIR: dataDir, ...(await envOf(d)) });
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBeNull();
      const lines = plainLines(result.stderr);
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^cordon: .*${setting}: `));
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr).not.toContain("pasted-secret");
      // Nothing shown, nothing kept: the next start generates (and shows) the tokens.
      expect(result.stdout).not.toMatch(/cdn_/);
      expect(await exists(join(dataDir, "tokens.json"))).toBe(false);
    },
    40_000,
  );
});

it("stops a second Cordon on a data directory in use, naming CORDON_DATA_DIR", async () => {
  const dataDir = join(dir, "in-use");
  const first = await startServer({ CORDON_DATA_DIR: dataDir });
  try {
    const second = await failedStart({ CORDON_DATA_DIR: dataDir });
    expect(second.code).toBe(2);
    const lines = plainLines(second.stderr);
    expect(lines, second.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^cordon: .*CORDON_DATA_DIR: .* is in use by process \d+/);
  } finally {
    await first.stop();
  }
}, 60_000);

describe("tokens on the embedded default", () => {
  it("are shown and kept only once the server listens, and a later start says where they are", async () => {
    const dataDir = join(dir, "tokens-data");
    // A first start that fails on its port shows and keeps no token...
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    const address = taken.address();
    const failed = await failedStart({
      CORDON_DATA_DIR: dataDir,
      PORT: String(typeof address === "object" && address ? address.port : 0),
    });
    await new Promise<void>((done) => taken.close(() => done()));
    expect(failed.code).toBe(2);
    expect(failed.stdout).not.toMatch(/cdn_/);
    expect(await exists(join(dataDir, "tokens.json"))).toBe(false);

    // ...so the next one does, with the console's address and where the digests are.
    const first = await startServer({ CORDON_DATA_DIR: dataDir });
    try {
      await waitFor(() => /Lost them\?/.test(first.stdout.join("")), "the generated tokens", 10_000);
      const printed = first.stdout.join("");
      expect(printed).toContain(`Console: http://127.0.0.1:${first.port}/console`);
      expect(printed.match(/cdn_\S+/g)?.length).toBe(8);
      expect(printed).toContain(join(dataDir, "tokens.json"));
      expect(await exists(join(dataDir, "tokens.json"))).toBe(true);
    } finally {
      await first.stop();
    }

    const later = await startServer({ CORDON_DATA_DIR: dataDir });
    try {
      await waitFor(() => /API tokens:/.test(later.stdout.join("")), "the tokens hint", 10_000);
      const printed = later.stdout.join("");
      expect(printed).not.toMatch(/cdn_/);
      expect(printed).toContain(join(dataDir, "tokens.json"));
      expect(printed).toMatch(/delete .*tokens\.json and start again/);
    } finally {
      await later.stop();
    }
  }, 90_000);
});

describe("Redis unreachable at start", () => {
  it("is not ready, logs one loud line per interval, and recovers when Redis comes up", async () => {
    const redis = await startRedis();
    await redis.kill(); // its port, closed
    const dataDir = join(dir, "redis-down");
    await mkdir(dataDir);
    const server = await startServer(
      {
        CORDON_DATA_DIR: dataDir,
        REDIS_URL: redis.url,
        CORDON_TOKENS: "checker-1:checker:clean-start-checker-secret-01",
        CORDON_IP_HASH_KEY: "k".repeat(40),
        CORDON_RULESET_POLL_MS: "500",
      },
      { timeoutMs: 40_000 },
    );
    try {
      const ready = async () => (await fetch(`${server.url}/readyz`)).status;
      expect(await ready()).toBe(503);
      const loud = () =>
        server.stderr
          .join("")
          .split("\n")
          .filter((line) => /"level":"error".*"message":"redis unreachable \(REDIS_URL\)/.test(line));
      await waitFor(() => loud().length >= 1, "the loud line");
      expect(loud()[0]).toContain(`127.0.0.1:${redis.port}`);
      // A few seconds later: still one line (one per 10 s), not one per reconnection attempt.
      await new Promise((done) => setTimeout(done, 3000));
      expect(loud()).toHaveLength(1);
      expect(
        server.stderr.join("").match(/ip-hash key not loaded/g)?.length ?? 0,
        "the IP-hash key warning, once per reason and minute",
      ).toBeLessThanOrEqual(1);
      expect(await ready()).toBe(503);

      await redis.start();
      await waitFor(async () => (await ready()) === 200, "ready once Redis is up", 20_000);
      expect(server.stderr.join("")).toContain('"message":"redis reachable again"');
    } finally {
      await server.stop();
      await redis.close();
    }
  }, 90_000);
});
