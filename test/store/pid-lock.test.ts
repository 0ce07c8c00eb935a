/** The data-directory lock: of several processes opening one directory at the same moment, exactly one wins. */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-lock-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function opener(kind: "file-store" | "aggregates", target: string): Promise<string> {
  const module =
    kind === "file-store" ? "./src/store/file/file-store.ts" : "./src/store/file/aggregate-store.ts";
  const cls = kind === "file-store" ? "FileStore" : "FileAggregateStore";
  const script = `
    const m = await import(${JSON.stringify(module)});
    // Start together: wait for the next whole 200 ms tick.
    await new Promise((r) => setTimeout(r, 200 - (Date.now() % 200)));
    try { const s = await m.${cls}.open(${JSON.stringify(target)}); console.log("open"); setTimeout(() => s.close(), 1500); }
    catch (e) { console.log(e.name === "StoreUnavailableError" ? "busy" : "error " + e.message); }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.on("exit", () => resolve(out.trim()));
    child.on("error", reject);
  });
}

it.each(["file-store", "aggregates"] as const)(
  "lets exactly one of four racing processes open a %s directory",
  async (kind) => {
    const target = join(dir, kind);
    const results = await Promise.all(Array.from({ length: 4 }, () => opener(kind, target)));
    expect(results.filter((r) => r === "open")).toHaveLength(1);
    expect(results.filter((r) => r === "busy")).toHaveLength(3);
  },
);
