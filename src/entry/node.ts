/**
 * The Node entry: parse the environment, build the embedded adapters (file store in CORDON_DATA_DIR,
 * the mmdb at CORDON_GEOIP_DB or the bundled GeoLite2 country database), hand them to `createApp`, and
 * serve. `npm start` runs this with no configuration at all.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import { defaultDatabasePath, ReloadingGeo } from "../adapter/node/geo-file.js";
import { createLogger } from "../adapter/node/logger.js";
import { ipHasher, loadIpHashKey, loadTokens } from "../adapter/node/secrets.js";
import { type Config, ConfigError, parseConfig } from "../config.js";
import { CachedGeo } from "../geo/cached-geo.js";
import { createApp } from "../http/app.js";
import { Authenticator } from "../http/auth.js";
import type { Logger } from "../http/env.js";
import { RulesetManager } from "../service/ruleset-manager.js";
import { FileStore } from "../store/file-store.js";

export const VERSION = "0.1.0";

export interface Running {
  port: number;
  close(): Promise<void>;
}

export async function start(config: Config, logger: Logger): Promise<Running> {
  const dataDir = resolve(config.CORDON_DATA_DIR);
  await mkdir(dataDir, { recursive: true });

  const { tokens, generated } = await loadTokens(dataDir, config.CORDON_TOKENS);
  if (generated.length > 0) printGeneratedTokens(generated, dataDir);

  const store = await FileStore.open(dataDir, { fsync: config.CORDON_DECISION_FSYNC, logger });
  const clock = () => Date.now();
  const rulesets = new RulesetManager(store, clock);
  await rulesets.refresh();

  const geoPath = config.CORDON_GEOIP_DB ? resolve(config.CORDON_GEOIP_DB) : defaultDatabasePath();
  // Long-lived: the cache lives as long as the process; a reloaded database clears it.
  let cached: CachedGeo | undefined;
  const source = await ReloadingGeo.open(geoPath, { logger, onReload: () => cached?.clear() });
  cached = new CachedGeo(source, { max: config.CORDON_GEO_CACHE_SIZE });

  const hashIp = ipHasher(await loadIpHashKey(dataDir, config.CORDON_IP_HASH_KEY));
  const app = createApp({
    store,
    geo: cached,
    rulesets,
    auth: new Authenticator(tokens, (secret) => createHash("sha256").update(secret).digest()),
    clock,
    hashIp,
    newId: randomUUID,
    logger,
    version: VERSION,
  });

  const server = await new Promise<ReturnType<typeof serve>>((ready) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => ready(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  logger.info("cordon listening", {
    port,
    dataDir,
    geo: source.info(),
    rulesetVersion: rulesets.current().version,
  });

  return {
    port,
    async close() {
      await new Promise<void>((done) => server.close(() => done()));
      source.close();
      await store.close();
    },
  };
}

function printGeneratedTokens(
  tokens: { principal: string; role: string; secret: string }[],
  dataDir: string,
): void {
  const lines = tokens.map((t) => `  ${t.role.padEnd(10)} ${t.principal.padEnd(12)} ${t.secret}`);
  // stdout, once: only the digests are kept (in tokens.json), so these secrets cannot be shown again.
  process.stdout.write(
    [
      "",
      "Cordon generated one API token per role (CORDON_TOKENS is unset). They are shown this once;",
      `only their SHA-256 digests are kept in ${dataDir}/tokens.json. Delete that file to generate new ones.`,
      "",
      ...lines,
      "",
      "",
    ].join("\n"),
  );
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cordon: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.CORDON_LOG_LEVEL);
  const running = await start(config, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error("error while stopping", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

// Run when executed directly (`node dist/src/entry/node.js`, `tsx src/entry/node.ts`), not when imported by tests.
if (process.argv[1] && import.meta.url === new URL(`file://${resolve(process.argv[1])}`).href) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `cordon: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  });
}
