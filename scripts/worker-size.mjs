#!/usr/bin/env node
/**
 * The Worker bundle's size against Cloudflare's limit, after `wrangler deploy --dry-run --outdir`:
 * every module wrangler would upload (the script and the Data modules, not the source map or README),
 * raw and gzip-compressed, which is how Cloudflare counts the limit. Fails above the Workers Paid plan's
 * 10 MiB; says when the Free plan's 3 MiB is exceeded (the bundled mmdb alone is about 4.3 MiB gzip).
 *
 *   node scripts/worker-size.mjs [dist/worker]
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const MiB = 1024 * 1024;
const PAID_LIMIT = 10 * MiB;
const FREE_LIMIT = 3 * MiB;

const dir = process.argv[2] ?? "dist/worker";
const files = readdirSync(dir).filter((name) => !name.endsWith(".map") && name !== "README.md");
if (!files.some((name) => name.endsWith(".js"))) {
  console.error(`worker-size: no bundle in ${dir}; run wrangler deploy --dry-run --outdir ${dir} first`);
  process.exit(2);
}

const rows = files.map((name) => {
  const bytes = readFileSync(join(dir, name));
  return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});
const total = rows.reduce((sum, r) => ({ raw: sum.raw + r.raw, gzip: sum.gzip + r.gzip }), {
  raw: 0,
  gzip: 0,
});

const mib = (n) => `${(n / MiB).toFixed(2)} MiB`;
for (const r of rows)
  console.log(`  ${r.name.padEnd(60)} ${mib(r.raw).padStart(10)} raw ${mib(r.gzip).padStart(10)} gzip`);
console.log(
  `worker bundle: ${mib(total.raw)} raw, ${mib(total.gzip)} gzip (limit ${mib(PAID_LIMIT)} gzip, Workers Paid)`,
);
if (total.gzip > FREE_LIMIT) {
  console.log(`  note: above the Workers Free plan's ${mib(FREE_LIMIT)}; deploy on Workers Paid`);
}
if (total.gzip > PAID_LIMIT) {
  console.error(
    `worker-size: the bundle is ${mib(total.gzip)} gzip, over the ${mib(PAID_LIMIT)} Workers limit`,
  );
  process.exit(1);
}
