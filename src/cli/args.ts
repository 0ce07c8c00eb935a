/**
 * Command-line arguments for `cordon` and `npm run report`: node:util's parseArgs, with its errors turned
 * into one line (`unknown option --x`) the commands print before exiting 2. Every command takes the same
 * names for the same things: `--data-dir DIR` (a data directory, default CORDON_DATA_DIR or ./data),
 * `--redis URL` and `--prefix P` (a Redis deployment), `--out` (where to write), `--period PERIOD` (or
 * PERIOD alone), and `--help`/`-h`.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

/** A bad command line: its message is one line, and the command exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** An option the command does not have (rather than a wrong value): the line alone says it. */
  readonly unknown: boolean;
  constructor(message: string, opts: { unknown?: boolean } = {}) {
    super(message);
    this.unknown = opts.unknown ?? false;
  }
}

type Options = Record<string, { type: "string" | "boolean"; short?: string }>;

export interface CommandLine<O extends Options> {
  values: { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string };
  positionals: string[];
}

/** parseArgs, strict, throwing a one-line `UsageError` for an unknown option or a missing value. */
export function parseCommandLine<O extends Options>(
  argv: string[],
  options: O,
  allowPositionals: boolean,
): CommandLine<O> {
  try {
    const parsed = parseArgs({
      args: argv,
      options: options as ParseArgsConfig["options"],
      allowPositionals,
      strict: true,
    });
    return parsed as unknown as CommandLine<O>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(oneLine(err), { unknown: code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" });
  }
}

function oneLine(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${quoted ?? message}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${quoted ?? message}`;
    default:
      // e.g. "Option '--out <value>' argument missing": the first sentence is the whole of it.
      return message.split("\n")[0]?.replace(/\.\s.*$/, "") ?? message;
  }
}
