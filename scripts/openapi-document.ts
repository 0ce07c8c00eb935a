/**
 * Writes the OpenAPI document the Node service serves: starts the real service (embedded store, a
 * temporary data directory, 127.0.0.1 on a free port), fetches `GET /openapi.json`, stops it.
 *
 *   npx tsx scripts/openapi-document.ts <out.json>
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config/node.js";
import { nodeLogger } from "../src/platform/node/logger.js";
import { start } from "../src/runtime/node/start.js";

const out = process.argv[2];
if (!out) {
  process.stderr.write("usage: tsx scripts/openapi-document.ts <out.json>\n");
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), "cordon-openapi-"));
try {
  const config = parseConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    CORDON_DATA_DIR: dir,
    // Tokens given, so none are generated and printed; nobody calls a guarded route here.
    CORDON_TOKENS: "openapi:auditor:openapi-document-writer-0123456789",
    CORDON_LOG_LEVEL: "error",
  });
  const running = await start(config, nodeLogger(config.CORDON_LOG_LEVEL));
  try {
    const res = await fetch(`http://127.0.0.1:${running.port}/openapi.json`);
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
    await writeFile(out, `${JSON.stringify(await res.json(), null, 2)}\n`);
  } finally {
    await running.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
