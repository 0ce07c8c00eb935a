/**
 * Structured logs: one implementation, shared by both runtimes, that drops the value of any field whose
 * name looks like a secret. Each runtime hands in where a line goes (`platform/node/logger.ts`: stderr;
 * `platform/cloudflare/logger.ts`: the console, which Workers Logs index).
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type EntryLevel = Exclude<LogLevel, "silent">;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Defence in depth: a field whose name looks like a secret is never written, whatever its value. */
const SECRET_KEYS = /secret|token|password|authorization|key/i;

export function redact(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, SECRET_KEYS.test(k) ? "[redacted]" : v]),
  );
}

/** One log entry, redacted, as the sink receives it. */
export interface LogEntry {
  level: EntryLevel;
  message: string;
  fields: Record<string, unknown>;
}

/** A logger that passes entries at or above `level`, redacted, to `sink`. */
export function createLogger(level: LogLevel, sink: (entry: LogEntry) => void): Logger {
  const at = (name: EntryLevel) =>
    RANK[name] >= RANK[level]
      ? (message: string, fields?: Record<string, unknown>) =>
          sink({ level: name, message, fields: redact(fields) })
      : () => {};
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** For components built without a logger (tests, one-off CLI runs). */
export const SILENT_LOGGER: Logger = createLogger("silent", () => {});
