/**
 * The house as drawn in the README ("Architecture"): which folder of `src/` may import which. Every
 * import (type-only ones included: they couple the code as much) is read from the syntax tree and
 * judged against `MAY_IMPORT`; one that runs from a lower layer to a higher one fails here, naming the
 * file, the import and the rule. The few that are allowed anyway are listed in `EXCEPTIONS`, each with
 * its reason. Runtime-free layers also may not import a runtime (`node:*`, ioredis, `cloudflare:*`,
 * the Node HTTP adapter): they run in the Worker too, or are meant to.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Layers, from the inside out. A file belongs to the first layer whose pattern matches its path. */
const LAYERS = [
  ["kernel", /^kernel\//],
  ["engine", /^engine\//],
  ["telemetry", /^telemetry\//],
  ["i18n", /^i18n\//],
  ["geo", /^geo\//],
  ["config", /^config\//],
  ["store", /^store\/[^/]+$/],
  ["report", /^report\//],
  ["platform/node", /^platform\/node\//],
  ["platform/cloudflare", /^platform\/cloudflare\//],
  ["store/file", /^store\/file\//],
  ["store/redis", /^store\/redis\//],
  // The Redis channel and the disk mirror are Node-only; the rest of rulesets/ (the sync's logic too) runs anywhere.
  ["rulesets/node", /^rulesets\/(redis-channel|disk-mirror)\.ts$/],
  ["rulesets", /^rulesets\//],
  ["service", /^service\//],
  ["http", /^http\/(?!routes\/|app\.ts$)[^/]+$/],
  ["http/routes", /^http\/routes\//],
  ["console", /^console\//],
  ["app", /^http\/app\.ts$/],
  ["runtime", /^runtime\//],
  ["entry", /^entry\//],
  ["cli", /^cli\//],
] as const;
type Layer = (typeof LAYERS)[number][0];

const PURE: Layer[] = ["kernel", "engine"];
const CORE: Layer[] = [...PURE, "telemetry", "i18n", "geo", "store"];

/** What each layer may import besides itself. */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  kernel: [],
  engine: ["kernel"],
  telemetry: [],
  i18n: ["kernel", "engine"],
  geo: ["kernel", "engine"],
  config: ["kernel"],
  store: ["kernel", "engine"],
  report: ["kernel", "engine", "i18n", "store"],
  "platform/node": ["kernel", "engine", "geo"],
  "platform/cloudflare": [...CORE],
  "store/file": [...CORE, "report", "platform/node"],
  // The outbox of the Redis mode is a local segment log: store/redis builds on store/file.
  "store/redis": [...CORE, "report", "platform/node", "store/file"],
  rulesets: [...CORE, "config"],
  "rulesets/node": [...CORE, "rulesets", "platform/node", "store/redis"],
  service: [...CORE, "report", "rulesets"],
  http: [...CORE, "report", "rulesets", "service"],
  "http/routes": [...CORE, "report", "rulesets", "service", "http"],
  console: [...CORE, "report", "rulesets", "service", "http"],
  app: [...CORE, "report", "rulesets", "service", "http", "http/routes", "console"],
  runtime: LAYERS.map(([name]) => name).filter((l) => l !== "entry" && l !== "cli"),
  entry: ["kernel", "config", "platform/node", "platform/cloudflare", "runtime"],
  cli: LAYERS.map(([name]) => name).filter((l) => l !== "entry"),
};

/** Layers that must not import a runtime: they run in the Worker, or are written to. */
const RUNTIME_FREE: Layer[] = [
  ...CORE,
  "config",
  "report",
  "rulesets",
  "service",
  "http",
  "http/routes",
  "console",
  "app",
];
const RUNTIME_MODULES = [
  /^node:/,
  /^(fs|path|os|crypto|net|http)(\/|$)/,
  /^ioredis$/,
  /^cloudflare:/,
  /^@hono\/node-server/,
];

/**
 * The only packages the innermost layers may use (the others are bound by the runtime rule alone):
 * the kernel and i18n run everywhere and carry nothing but text and types; the report renders with
 * Hono's JSX and nothing else.
 */
const PACKAGES: Partial<Record<Layer, RegExp[]>> = {
  kernel: [/^zod$/],
  i18n: [],
  report: [/^zod$/, /^hono\/(jsx|html)(\/|$)/],
};

/**
 * Narrower rules inside a layer: a file matching `files` may not import a module matching `imports`.
 */
const NARROWER: { files: RegExp; imports: RegExp; why: string }[] = [
  {
    files: /^store\/redis\//,
    imports: /(^|\/)store\/file\/(file-store|order-journal)\.ts$/,
    why: "the Redis mode's outbox is a decision log alone, never a whole data directory",
  },
];

/** Imports allowed against the rules, each with its reason: `file -> imported file or module`. */
const EXCEPTIONS: Record<string, string> = {};

function layerOf(path: string): Layer | undefined {
  return LAYERS.find(([, pattern]) => pattern.test(path))?.[0];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every module specifier a source text imports or re-exports (static, dynamic and `import x = require`). */
function specifiersOf(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const take = (expr: ts.Expression | undefined) => {
    if (expr && ts.isStringLiteralLike(expr)) found.push(expr.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) take(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      take(node.moduleReference.expression);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      take(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument))
      take(node.argument.literal as ts.StringLiteral);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The findings for one file of `src/` (its path relative to `src/`), given its imports. */
function violations(file: string, specifiers: readonly string[]): string[] {
  const from = layerOf(file);
  if (from === undefined) return [`${file}: in no layer (add its folder to LAYERS)`];
  const out: string[] = [];
  for (const spec of specifiers) {
    if (spec.startsWith(".")) {
      const target = relative(SRC, resolve(SRC, dirname(file), spec)).replace(/\.js$/, ".ts");
      const to = layerOf(target) ?? layerOf(target.replace(/\.ts$/, ".tsx"));
      if (to === undefined) {
        out.push(`${file}: imports ${spec}, outside every layer`);
        continue;
      }
      const narrower = NARROWER.find((rule) => rule.files.test(file) && rule.imports.test(target));
      if (narrower) {
        out.push(`${file} imports ${target}: ${narrower.why}`);
        continue;
      }
      if (to === from || MAY_IMPORT[from].includes(to)) continue;
      const key = `${file} -> ${target}`;
      if (key in EXCEPTIONS) continue;
      out.push(
        `${file} (${from}) imports ${target} (${to}): ${from} may import ${MAY_IMPORT[from].join(", ") || "nothing"}`,
      );
    } else if (
      PACKAGES[from] &&
      !PACKAGES[from].some((re) => re.test(spec)) &&
      !(`${file} -> ${spec}` in EXCEPTIONS)
    ) {
      out.push(`${file} (${from}) imports the package ${spec}, not on its list`);
    } else if (
      RUNTIME_FREE.includes(from) &&
      RUNTIME_MODULES.some((re) => re.test(spec)) &&
      !(`${file} -> ${spec}` in EXCEPTIONS)
    ) {
      out.push(`${file} (${from}) imports the runtime module ${spec}`);
    }
  }
  return out;
}

describe("layering", () => {
  const files = sourceFiles(SRC).map((path) => ({
    file: relative(SRC, path),
    specifiers: specifiersOf(path, readFileSync(path, "utf8")),
  }));

  it("reads every source file", () => {
    expect(files.length).toBeGreaterThan(80);
    expect(files.map((f) => f.file)).toEqual(expect.arrayContaining(["engine/decide.ts", "http/app.ts"]));
  });

  it("finds no import that runs against the layers", () => {
    expect(files.flatMap((f) => violations(f.file, f.specifiers))).toEqual([]);
  });

  it("lists only exceptions that are still needed", () => {
    const used = new Set(
      files.flatMap((f) =>
        f.specifiers.map(
          (s) =>
            `${f.file} -> ${s.startsWith(".") ? relative(SRC, resolve(SRC, dirname(f.file), s)).replace(/\.js$/, ".ts") : s}`,
        ),
      ),
    );
    expect(Object.keys(EXCEPTIONS).filter((key) => !used.has(key))).toEqual([]);
  });

  describe("the checker", () => {
    it.each([
      ["engine/decide.ts", "../http/app.js", /engine may import kernel/],
      ["kernel/errors.ts", "../engine/index.js", /kernel may import nothing/],
      ["geo/ip.ts", "../store/redis/keys.js", /geo may import/],
      ["service/check.ts", "../http/errors.js", /service may import/],
      ["console/pages/simulate.tsx", "../../http/routes/v1-check.js", /console may import/],
      ["report/build.ts", "../store/file/file-store.js", /report may import/],
      ["store/file/journal.ts", "../../runtime/node/start.js", /store\/file may import/],
      ["http/routes/v1-check.ts", "../app.js", /http\/routes may import/],
      ["service/orders.ts", "node:fs", /runtime module node:fs/],
      ["geo/cached-geo.ts", "ioredis", /runtime module ioredis/],
      ["somewhere/else.ts", "../engine/index.js", /in no layer/],
      ["i18n/places.ts", "lru-cache", /package lru-cache, not on its list/],
      ["store/redis/decision-log.ts", "../file/file-store.js", /a decision log alone/],
      ["store/redis/shipper/checkpoint.ts", "../../file/order-journal.js", /a decision log alone/],
      ["rulesets/redis-sync.ts", "ioredis", /runtime module ioredis/],
      ["rulesets/redis-sync.ts", "../store/redis/keys.js", /rulesets may import/],
      ["report/html/page.tsx", "hono", /package hono, not on its list/],
    ])("flags %s importing %s", (file, spec, message) => {
      expect(violations(file, [spec]).join("\n")).toMatch(message);
    });

    it("passes imports that run inward, and runtime imports where runtimes live", () => {
      expect(violations("http/routes/v1-check.ts", ["../../service/check.js", "../services.js"])).toEqual([]);
      expect(
        violations("store/redis/keys.ts", ["ioredis", "../interface.js", "../../engine/index.js"]),
      ).toEqual([]);
      expect(violations("platform/node/redis.ts", ["ioredis", "node:net"])).toEqual([]);
      expect(violations("report/html/page.tsx", ["hono/jsx", "../../i18n/report.js"])).toEqual([]);
      expect(violations("store/redis/decision-log.ts", ["../file/segment-log.js"])).toEqual([]);
    });

    it("reads type-only, dynamic and re-exported imports", () => {
      const text = [
        `import type { A } from "./a.js";`,
        `export { B } from "./b.js";`,
        `const c = await import("./c.js");`,
        `type D = import("./d.js").D;`,
      ].join("\n");
      expect(specifiersOf("x.ts", text)).toEqual(["./a.js", "./b.js", "./c.js", "./d.js"]);
    });
  });
});
