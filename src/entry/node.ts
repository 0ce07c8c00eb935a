/**
 * The Node entry (`npm start`): parse the environment, run one process or supervise
 * CORDON_WORKERS of them, and stop cleanly on SIGTERM/SIGINT. The wiring lives in `runtime/node`.
 */
import { resolve } from "node:path";
import { type Config, parseConfig } from "../config/node.js";
import { isPrimaryOfMany, supervise } from "../platform/node/cluster.js";
import { nodeLogger } from "../platform/node/logger.js";
import { WorkerHub } from "../platform/node/worker-hub.js";
import { VerifiedLatestRuleset } from "../runtime/node/latest-ruleset.js";
import type { Running } from "../runtime/node/start.js";
import { startFailure } from "../runtime/node/start-errors.js";
import { startTelemetry, type Telemetry } from "../runtime/node/telemetry.js";

async function main(): Promise<void> {
  let config: Config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    return fail(err);
  }
  const logger = nodeLogger(config.CORDON_LOG_LEVEL);
  if (isPrimaryOfMany(config.CORDON_WORKERS)) {
    // Embedded store: slot 0 writes the data directory, the others follow it through the primary.
    supervise(
      config.CORDON_WORKERS,
      logger,
      config.REDIS_URL ? undefined : new WorkerHub(logger, new VerifiedLatestRuleset(logger)),
    );
    return;
  }
  let running: Running;
  let telemetry: Telemetry;
  try {
    // First: the OpenTelemetry SDK (when asked for) must be registered before the instruments exist,
    // so the runtime, which creates them as it loads, is imported only after it.
    telemetry = await startTelemetry(config, process.env, logger);
    const { start } = await import("../runtime/node/start.js");
    running = await start(config, logger);
  } catch (err) {
    return fail(err);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    running
      .close()
      .then(() => telemetry.shutdown())
      .then(
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

/** One line naming the setting and what is wrong, and a non-zero exit (2 for a setting, 1 otherwise). */
function fail(err: unknown): never {
  const { line, code } = startFailure(err);
  process.stderr.write(`cordon: ${line}\n`);
  if (process.env.CORDON_LOG_LEVEL === "debug" && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  process.exit(code);
}

// Run when executed directly (`node dist/src/entry/node.js`, `tsx src/entry/node.ts`), not when imported by tests.
if (process.argv[1] && import.meta.url === new URL(`file://${resolve(process.argv[1])}`).href) {
  main().catch(fail);
}
