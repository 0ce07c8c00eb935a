/** Structured logs: one JSON object per line on stderr. Secrets never reach here (see `redact`). */
import type { Logger } from "../../http/env.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

const SECRET_KEYS = /secret|token|password|authorization|key/i;

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const threshold = LEVELS[level];
  const log = (lvl: Exclude<LogLevel, "silent">) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < threshold) return;
    write(`${JSON.stringify({ level: lvl, time: new Date().toISOString(), message, ...redact(fields) })}\n`);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** Defence in depth: a field whose name looks like a secret is never written, whatever its value. */
function redact(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, SECRET_KEYS.test(k) ? "[redacted]" : v]),
  );
}
