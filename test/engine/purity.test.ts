/**
 * I8: `src/engine` imports no I/O, no runtime API and no clock, so it runs the same on Node and in a
 * Worker. Checked on the syntax tree (TypeScript's parser), so a comment or a message that mentions
 * `Date.now()` is not a finding, and `globalThis.Date.now()` or `new Date` without parentheses is.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ENGINE = fileURLToPath(new URL("../../src/engine/", import.meta.url));
/** The kernel's shared types and errors: the engine imports them, so they are held to the same rule. */
const KERNEL = fileURLToPath(new URL("../../src/kernel/", import.meta.url));

/** Module specifiers the engine must never import. */
const FORBIDDEN_MODULES = [/^node:/, /^fs(\/|$)/, /^ioredis(\/|$)/, /^cloudflare:/, /^hono(\/|$)/];
/** The only modules it may import: its own files and pure, runtime-neutral libraries. */
const ALLOWED_MODULES = [/^\.\.?\//, /^zod(\/|$)/, /^iso-3166$/, /^@noble\/hashes\//];
/** Globals that reach the clock, randomness, the process, timers or the network. */
const FORBIDDEN_GLOBALS = new Set([
  "process",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "fetch",
  "performance",
  "crypto",
  "require",
]);

/** The findings in one source text, as `line: what`. */
function impurities(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const findings: string[] = [];
  const report = (node: ts.Node, what: string) =>
    findings.push(`${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${what}`);
  /** `Date` for `Date`, `globalThis.Date` and `window.Date`. */
  const lastName = (node: ts.Node): string | undefined =>
    ts.isIdentifier(node) ? node.text : ts.isPropertyAccessExpression(node) ? node.name.text : undefined;

  const checkModule = (node: ts.Node, specifier: ts.Expression | undefined) => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier)) return;
    const name = specifier.text;
    if (FORBIDDEN_MODULES.some((re) => re.test(name))) report(node, `imports ${name}`);
    else if (!ALLOWED_MODULES.some((re) => re.test(name)))
      report(node, `imports ${name}, which is not on the engine's list`);
  };

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) checkModule(node, node.moduleSpecifier);
    if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      checkModule(node, node.moduleReference.expression);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      checkModule(node, node.arguments[0]);
    if (ts.isNewExpression(node) && lastName(node.expression) === "Date") report(node, "new Date");
    if (ts.isPropertyAccessExpression(node)) {
      const owner = lastName(node.expression);
      if (owner === "Date" && node.name.text === "now") report(node, "Date.now");
      if (owner === "Math" && node.name.text === "random") report(node, "Math.random");
    }
    if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text)) {
      // A property or key named like a global (`order.process`, `{ fetch: ... }`) is not the global.
      const parent = node.parent;
      const isMemberName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        (ts.isPropertySignature(parent) && parent.name === node) ||
        (ts.isPropertyDeclaration(parent) && parent.name === node) ||
        (ts.isMethodDeclaration(parent) && parent.name === node);
      if (!isMemberName) report(node, node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

function engineFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return engineFiles(path);
    return /\.(ts|tsx|js|mjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [path] : [];
  });
}

describe("engine purity (I8)", () => {
  const files = engineFiles(ENGINE);

  it("finds the engine's source files", () => {
    const names = files.map((f) => relative(ENGINE, f));
    expect(names).toEqual(
      expect.arrayContaining(["decide.ts", "orders.ts", "ruleset.ts", "schemas.ts", "jurisdiction.ts"]),
    );
  });

  it.each(files.map((file) => ({ file, name: relative(ENGINE, file) })))(
    "$name uses no I/O, runtime API, clock or randomness",
    ({ file }) => {
      expect(impurities(file, readFileSync(file, "utf8"))).toEqual([]);
    },
  );

  describe("the kernel, which the engine imports", () => {
    const kernel = engineFiles(KERNEL);
    it("finds the kernel's source files", () => {
      expect(kernel.map((f) => relative(KERNEL, f))).toEqual(
        expect.arrayContaining(["errors.ts", "logger.ts"]),
      );
    });
    it.each(kernel.map((file) => ({ file, name: relative(KERNEL, file) })))(
      "kernel/$name uses no I/O, runtime API, clock or randomness",
      ({ file }) => {
        expect(impurities(file, readFileSync(file, "utf8"))).toEqual([]);
      },
    );
  });

  describe("the detector", () => {
    const bad: { name: string; code: string }[] = [
      { name: "a node: import", code: `import { readFileSync } from "node:fs";` },
      { name: "a bare fs import", code: `import fs from "fs";` },
      { name: "an fs/promises import", code: `import { readFile } from "fs/promises";` },
      { name: "an ioredis import", code: `import Redis from "ioredis";` },
      { name: "a cloudflare: import", code: `import { env } from "cloudflare:workers";` },
      { name: "a hono import", code: `import { Hono } from "hono";` },
      { name: "a hono subpath re-export", code: `export { cors } from "hono/cors";` },
      { name: "a dynamic import", code: `const m = await import("node:crypto");` },
      { name: "an unlisted package", code: `import { LRUCache } from "lru-cache";` },
      { name: "Date.now()", code: "const t = Date.now();" },
      { name: "globalThis.Date.now()", code: "const t = globalThis.Date.now();" },
      { name: "new Date()", code: "const d = new Date();" },
      { name: "new Date(ms)", code: "const d = new Date(0);" },
      { name: "Math.random()", code: "const r = Math.random();" },
      { name: "process.env", code: "const v = process.env.X;" },
      { name: "setTimeout", code: "setTimeout(() => {}, 1);" },
      { name: "fetch", code: `await fetch("https://example.com");` },
    ];
    it.each(bad)("flags $name", ({ code }) => {
      expect(impurities("bad.ts", code)).not.toEqual([]);
    });

    it("ignores comments, strings, allowed imports and members that share a global's name", () => {
      const good = [
        `import { z } from "zod";`,
        `import { iso31661 } from "iso-3166";`,
        `import { sha256 } from "@noble/hashes/sha2.js";`,
        `import { lineage } from "./jurisdiction.js";`,
        "// never call Date.now() or new Date() here; the clock is an argument",
        "/* Math.random(), process.env, fetch(url) */",
        `const message = "we do not process.exit or fetch( anything";`,
        "const at = Date.parse(order.effectiveFrom);",
        "const job = { process: 1 }; job.process;",
      ].join("\n");
      expect(impurities("good.ts", good)).toEqual([]);
    });
  });
});
