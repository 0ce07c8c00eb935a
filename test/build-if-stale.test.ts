/**
 * `npm start` does not rebuild when nothing changed (issue 15): scripts/build.mjs --if-stale (prestart
 * and prepare) compiles only without a stamp or when a source is newer than it. Run on a tiny project of
 * its own (a copy of the script beside a one-file src/), with this repository's TypeScript.
 */
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT } from "./support/server.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-build-"));
  await mkdir(join(dir, "scripts"));
  await mkdir(join(dir, "src"));
  await copyFile(join(ROOT, "scripts", "build.mjs"), join(dir, "scripts", "build.mjs"));
  await writeFile(join(dir, "package.json"), '{ "name": "tiny", "private": true, "type": "module" }\n');
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { outDir: "dist", module: "nodenext", target: "es2022", types: [] } }),
  );
  await writeFile(
    join(dir, "tsconfig.build.json"),
    JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { rootDir: "." }, include: ["src"] }),
  );
  await writeFile(join(dir, "src", "a.ts"), "export const a: number = 1;\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const build = () =>
  spawnSync(process.execPath, [join(dir, "scripts", "build.mjs"), "--if-stale"], {
    cwd: dir,
    encoding: "utf8",
    // The tiny project has no node_modules of its own: it resolves TypeScript from this repository's.
    env: { PATH: process.env.PATH ?? "", NODE_PATH: join(ROOT, "node_modules") },
    timeout: 120_000,
  });

it("compiles once, then starts without compiling until a source changes", async () => {
  const first = build();
  expect(first.status, first.stderr).toBe(0);
  expect(first.stderr).toContain("compiling");
  expect(await readFile(join(dir, "dist", "src", "a.js"), "utf8")).toContain("a = 1");
  const stamped = (await stat(join(dir, "dist", ".build-stamp"))).mtimeMs;

  const second = build();
  expect(second.status).toBe(0);
  expect(second.stderr).toBe("");
  expect((await stat(join(dir, "dist", ".build-stamp"))).mtimeMs).toBe(stamped);

  await writeFile(join(dir, "src", "a.ts"), "export const a: number = 2;\n");
  const later = new Date(stamped + 5000);
  await utimes(join(dir, "src", "a.ts"), later, later);
  const third = build();
  expect(third.status, third.stderr).toBe(0);
  expect(third.stderr).toContain("compiling");
  expect(await readFile(join(dir, "dist", "src", "a.js"), "utf8")).toContain("a = 2");
}, 150_000);
