/**
 * The presentation layer's import rules, checked on the source: `src/i18n` is pure (no runtime API, no
 * I/O) and below everything that shows text, so it imports only the engine, the kernel and itself; the
 * report's renderers import no runtime API, store or HTTP module; the console never imports the API's
 * route modules (what both need lives lower, in the services).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(SRC, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => join(SRC, dir, f));
}

/** Every module a file imports: a package name as written, a relative one as a path under src/. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return importedFiles.map(({ fileName }) =>
    fileName.startsWith(".") ? relative(SRC, resolve(dirname(file), fileName)) : fileName,
  );
}

function violations(files: string[], allowed: (spec: string) => boolean): string[] {
  return files.flatMap((file) =>
    importsOf(file)
      .filter((spec) => !allowed(spec))
      .map((spec) => `${relative(SRC, file)} imports ${spec}`),
  );
}

describe("presentation imports", () => {
  it("keeps i18n pure: only the engine, the kernel and i18n itself", () => {
    const files = sources("i18n");
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(violations(files, (spec) => /^(i18n|engine|kernel)\//.test(spec))).toEqual([]);
  });

  it("keeps the report's renderers off runtimes, stores and HTTP", () => {
    const files = [
      ...sources("report/html"),
      ...sources("report").filter((f) => /\/render[^/]*\.ts$/.test(f)),
    ];
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(
      violations(
        files,
        (spec) => /^(report|i18n|engine|kernel)\//.test(spec) || /^hono\/(html|jsx)/.test(spec),
      ),
    ).toEqual([]);
  });

  it("keeps the console off the API's route modules", () => {
    const files = sources("console");
    expect(files.length).toBeGreaterThanOrEqual(10);
    expect(
      violations(files, (spec) => !spec.startsWith("http/routes/") && !spec.startsWith("node:")),
    ).toEqual([]);
  });

  it("reads a file's imports as the rules see them: packages by name, modules by path under src/", () => {
    expect(importsOf(join(SRC, "i18n", "places.ts"))).toContain("engine/index.js");
    expect(importsOf(join(SRC, "console", "routes.tsx"))).toEqual(
      expect.arrayContaining(["hono", "http/middleware.js", "console/pages/order.js"]),
    );
  });
});
