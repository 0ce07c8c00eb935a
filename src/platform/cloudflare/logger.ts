/**
 * The Worker's logger: one JSON object per line on the console, which Workers Logs (and `wrangler tail`)
 * index by field. Lifetime: one per isolate.
 */
import type { Logger } from "../../http/env.js";

type Level = "debug" | "info" | "warn" | "error" | "silent";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function consoleLogger(level: Level): Logger {
  const at = (name: Exclude<Level, "silent">, write: (line: string) => void) =>
    RANK[name] >= RANK[level]
      ? (message: string, fields?: Record<string, unknown>) =>
          write(JSON.stringify({ level: name, message, ...fields }))
      : () => {};
  return {
    debug: at("debug", console.debug),
    info: at("info", console.info),
    warn: at("warn", console.warn),
    error: at("error", console.error),
  };
}
