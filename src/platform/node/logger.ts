/** Node's logs: one JSON object per line on stderr, with the time. Redaction is the kernel's (`createLogger`). */
import { createLogger, type Logger, type LogLevel } from "../../kernel/logger.js";

export function nodeLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  return createLogger(level, ({ level, message, fields }) =>
    write(`${JSON.stringify({ level, time: new Date().toISOString(), message, ...fields })}\n`),
  );
}
