/**
 * The Worker's logs: one JSON object per line on the console, which Workers Logs (and `wrangler tail`)
 * index by field. Redaction is the kernel's (`createLogger`). Lifetime: one per isolate.
 */
import { createLogger, type Logger, type LogLevel } from "../../kernel/logger.js";

export function workerLogger(level: LogLevel): Logger {
  return createLogger(level, ({ level, message, fields }) =>
    console[level](JSON.stringify({ level, message, ...fields })),
  );
}
