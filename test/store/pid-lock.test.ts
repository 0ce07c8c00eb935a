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

/**
 * Four child processes that each import the store, say "ready", and wait; once all four are ready they are
 * told to open at the same moment (a line on stdin), and each answers "open" or "busy". The winner keeps
 * the directory open until every answer is in, so a slow start on a loaded machine cannot turn the race
 * into a relay (one opening after another has already closed).
 */
async function race(kind: "file-store" | "aggregates", target: string): Promise<string[]> {
  const module =
    kind === "file-store" ? "./src/store/file/file-store.ts" : "./src/store/file/aggregate-store.ts";
  const cls = kind === "file-store" ? "FileStore" : "FileAggregateStore";
  const script = `
    import { createInterface } from "node:readline";
    const m = await import(${JSON.stringify(module)});
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    console.log("ready");
    await lines.next();
    let s;
    try { s = await m.${cls}.open(${JSON.stringify(target)}); console.log("open"); }
    catch (e) { console.log(e.name === "StoreUnavailableError" ? "busy" : "error " + e.message); }
    await lines.next();
    await s?.close();
    process.exit(0);`;
  const children = Array.from({ length: 4 }, () => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const said: string[] = [];
    const waiters: (() => void)[] = [];
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      said.push(...d.split("\n").filter((l) => l !== ""));
      for (const w of waiters.splice(0)) w();
    });
    const line = (n: number) =>
      new Promise<string>((resolve, reject) => {
        const check = () => (said.length >= n ? resolve(said[n - 1] as string) : waiters.push(check));
        child.on("exit", () => reject(new Error(`child exited after ${JSON.stringify(said)}`)));
        check();
      });
    return { child, line };
  });
  await Promise.all(children.map((c) => c.line(1)));
  for (const c of children) c.child.stdin.write("go\n");
  const answers = await Promise.all(children.map((c) => c.line(2)));
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          c.child.on("exit", resolve);
          c.child.stdin.end("close\n");
        }),
    ),
  );
  return answers;
}

it.each(["file-store", "aggregates"] as const)(
  "lets exactly one of four racing processes open a %s directory",
  async (kind) => {
    const target = join(dir, kind);
    const results = await race(kind, target);
    expect(results.filter((r) => r === "open")).toHaveLength(1);
    expect(results.filter((r) => r === "busy")).toHaveLength(3);
  },
);
