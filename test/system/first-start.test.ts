/**
 * `npm start` with no configuration: the data directory is created, one token per role is generated and
 * printed once, only digests are kept, and the bundled GeoLite2 database answers. A bad setting stops
 * the start with a message naming the variable.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startServer } from "../support/server.js";
import { waitFor } from "../support/wait.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-first-start-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("first start on the embedded default", () => {
  it("generates tokens once, keeps only their digests, and serves checks from the bundled database", async () => {
    const dataDir = join(dir, "data");
    const env = { CORDON_DATA_DIR: dataDir };
    const server = await startServer(env);
    try {
      // Printed just after the listening line (DESIGN.md: shown only once the server is listening).
      await waitFor(() => /Lost them\?/.test(server.stdout.join("")), "the generated tokens");
      const printed = server.stdout.join("");
      const tokens = [...printed.matchAll(/^\s+(\w+)\s+(\S+)\s+(cdn_\S+)$/gm)].map((m) => ({
        role: m[1],
        principal: m[2],
        secret: m[3] as string,
      }));
      expect(tokens.map((t) => t.role).sort()).toEqual([
        "admin",
        "approver",
        "approver",
        "auditor",
        "checker",
        "edge",
        "responder",
        "responder",
      ]);
      const kept = await readFile(join(dataDir, "tokens.json"), "utf8");
      for (const t of tokens) expect(kept).not.toContain(t.secret);

      const checker = tokens.find((t) => t.role === "checker")?.secret;
      const res = await fetch(`${server.url}/v1/check`, {
        method: "POST",
        headers: { authorization: `Bearer ${checker}`, "content-type": "application/json" },
        body: JSON.stringify({ meetingId: "81234567890", ip: "8.8.8.8" }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        decision: "allow",
        code: "NO_ORDER",
        geo: { country: "US", subdivision: null },
      });
      const ready = await (
        await fetch(`${server.url}/readyz`, { headers: { authorization: `Bearer ${checker}` } })
      ).json();
      expect(ready).toMatchObject({ ready: true, geo: { subdivisions: false } });
    } finally {
      await server.stop();
    }
    expect(server.stderr.join("")).not.toMatch(/cdn_/);

    const again = await startServer(env);
    await again.stop();
    expect(again.stdout.join("")).not.toMatch(/cdn_/);
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ CORDON_TOKENS: "alice:king:0123456789abcdef" }, "CORDON_TOKENS"],
    [{ CORDON_IP_HASH_KEY: "short" }, "CORDON_IP_HASH_KEY"],
    [{ CORDON_WORKERS: "0" }, "CORDON_WORKERS"],
  ])("refuses to start with %o, naming %s", (env, name) => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/entry/node.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", CORDON_DATA_DIR: join(dir, "never"), ...env },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(name);
    expect(result.stderr).not.toContain("0123456789abcdef");
  });
});
