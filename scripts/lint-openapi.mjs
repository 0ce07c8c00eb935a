#!/usr/bin/env node
/**
 * `npm run lint:openapi`: writes the OpenAPI document the Node service serves (scripts/openapi-document.ts
 * starts the real service) to dist/openapi.json, then lints it with Redocly CLI's `recommended` ruleset
 * (redocly.yaml). Fails on any error AND any warning; the only exceptions are the ones listed, with
 * their reason, in .redocly.lint-ignore.yaml. Redocly's usage telemetry and update check are off.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";

const DOC = "dist/openapi.json";
const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };

mkdirSync("dist", { recursive: true });
const write = spawnSync("npx", ["tsx", "scripts/openapi-document.ts", DOC], { stdio: "inherit", env });
if (write.status !== 0) process.exit(write.status ?? 1);

const lint = spawnSync("npx", ["redocly", "lint", DOC, "--format=json"], { env, encoding: "utf8" });
let report;
try {
  report = JSON.parse(lint.stdout);
} catch {
  process.stderr.write(lint.stdout + lint.stderr);
  console.error("lint:openapi: redocly lint gave no JSON report");
  process.exit(1);
}
for (const p of report.problems) {
  const where = p.location?.[0]?.pointer ?? "";
  console.log(`  ${p.severity.padEnd(7)} ${p.ruleId.padEnd(28)} ${where}  ${p.message}`);
}
const { errors, warnings, ignored } = report.totals;
console.log(
  `lint:openapi: ${DOC} against Redocly's recommended rules: ${errors} errors, ${warnings} warnings (${ignored} ignored on purpose, see .redocly.lint-ignore.yaml)`,
);
process.exit(errors === 0 && warnings === 0 && lint.status === 0 ? 0 : 1);
