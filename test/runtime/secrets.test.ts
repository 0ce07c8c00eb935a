/**
 * The master IP-hash key on the embedded default (`<data dir>/ip-hash.key`): generated once, and a file
 * that is empty or too short stops the start instead of keying every hash with next to nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/parse.js";
import { loadIpHashKey } from "../../src/runtime/node/secrets.js";
import { ROOT } from "../support/server.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-secrets-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("loadIpHashKey", () => {
  it("generates a 32-byte key once, private, and reads it back", async () => {
    const key = await loadIpHashKey(dir, undefined);
    expect(key).toHaveLength(32);
    expect((await stat(join(dir, "ip-hash.key"))).mode & 0o777).toBe(0o600);
    expect((await loadIpHashKey(dir, undefined)).equals(key)).toBe(true);
  });

  it.each([
    ["an empty file", ""],
    ["a newline", "\n"],
    ["31 bytes", `${Buffer.alloc(31, 7).toString("base64")}\n`],
    ["text that is not base64", "not a key at all!!\n"],
  ])("refuses %s, naming the file and never echoing it", async (_what, content) => {
    await writeFile(join(dir, "ip-hash.key"), content);
    const error = await loadIpHashKey(dir, undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(join(dir, "ip-hash.key"));
    expect((error as Error).message).toMatch(/at least 32 bytes/);
    // Left as it was: the operator restores it, Cordon does not replace it with a new key.
    expect(await readFile(join(dir, "ip-hash.key"), "utf8")).toBe(content);
  });

  it("takes a 32-byte file as it is", async () => {
    const key = Buffer.alloc(32, 9);
    await writeFile(join(dir, "ip-hash.key"), `${key.toString("base64")}\n`);
    expect((await loadIpHashKey(dir, undefined)).equals(key)).toBe(true);
  });
});

it("stops `npm start` with an empty ip-hash.key, exit status 2 and one clear line", async () => {
  await writeFile(join(dir, "ip-hash.key"), "");
  const result = spawnSync(process.execPath, ["--import", "tsx", "src/entry/node.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", CORDON_DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1" },
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain("ip-hash.key: holds a 0-byte key");
  expect(result.stderr).not.toContain("cordon listening");
});
