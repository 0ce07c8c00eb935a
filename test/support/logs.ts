/** A logger for tests that keeps every line it is given (after the kernel's redaction). */
import { createLogger, type Logger } from "../../src/kernel/logger.js";

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
}

export function recordingLogger(lines: LogLine[] = []): { logger: Logger; lines: LogLine[] } {
  const logger = createLogger("debug", ({ level, message, fields }) =>
    lines.push({ level, message, ...(Object.keys(fields).length > 0 ? { fields } : {}) }),
  );
  return { logger, lines };
}

/** A logger that hands each message at `level` to `onMessage`, and drops the rest. */
export function loggerFor(
  level: LogLine["level"],
  onMessage: (message: string, fields?: Record<string, unknown>) => unknown,
): Logger {
  return createLogger("debug", (entry) => {
    if (entry.level === level) onMessage(entry.message, entry.fields);
  });
}
