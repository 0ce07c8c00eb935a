/**
 * Who may import what around the stores, checked on the syntax tree (TypeScript's parser): the report
 * reads decisions through the `DecisionLog` interface, never a concrete store or Redis; the ruleset sync's
 * logic reaches Redis and the disk only through its channel and mirror; the Redis outbox is a decision
 * log alone, never a whole data directory.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** Every module specifier a file names: imports, re-exports and dynamic imports. */
function specifiers(path: string): string[] {
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteralLike(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) found.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `path` (a file or a folder below src/) as its .ts/.tsx files. */
function sources(path: string): string[] {
  const full = join(SRC, path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full, { recursive: true, encoding: "utf8" })
    .filter((name) => /\.tsx?$/.test(name))
    .map((name) => join(full, name));
}

/** Imports of the files under `path` that match a forbidden pattern, as `file: specifier`. */
function violations(path: string, forbidden: RegExp[]): string[] {
  return sources(path).flatMap((file) =>
    specifiers(file)
      .filter((spec) => forbidden.some((re) => re.test(spec)))
      .map((spec) => `${relative(SRC, file)}: ${spec}`),
  );
}

describe("store boundaries", () => {
  it("keeps src/report free of concrete stores and of ioredis", () => {
    expect(violations("report", [/\/store\/(file|redis)\//, /^ioredis$/])).toEqual([]);
  });

  it("keeps the ruleset sync's logic free of ioredis, node: modules and the Redis keys", () => {
    expect(violations("rulesets/redis-sync.ts", [/^ioredis$/, /^node:/, /\/store\//])).toEqual([]);
  });

  it("gives the Redis decision log and its shipper a decision log alone, never a whole data directory", () => {
    const whole = [/\/file-store\.js$/, /\/order-journal\.js$/];
    expect(violations("store/redis/decision-log.ts", whole)).toEqual([]);
    expect(violations("store/redis/shipper", whole)).toEqual([]);
  });

  it("finds what it is looking for (the check is not vacuous)", () => {
    expect(violations("runtime/node/start.ts", [/\/file-store\.js$/])).toHaveLength(1);
    expect(violations("store/redis/shipper", [/\/segment-log\.js$/]).length).toBeGreaterThan(0);
  });
});
