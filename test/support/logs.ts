/**
 * Loggers for tests: one that keeps every line after the kernel's redaction, one that hands one level's
 * messages to a callback, and one that keeps lines as written, before any redaction.
 */
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

/**
 * A logger that keeps every line exactly as the component wrote it, before any redaction: for tests
 * that prove a component never hands a secret or an address to its logger in the first place.
 */
export function rawLogger(lines: LogLine[] = []): { logger: Logger; lines: LogLine[] } {
  const at = (level: LogLine["level"]) => (message: string, fields?: Record<string, unknown>) =>
    lines.push({ level, message, ...(fields ? { fields } : {}) });
  return { logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }, lines };
}
