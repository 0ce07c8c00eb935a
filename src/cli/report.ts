#!/usr/bin/env node
import { mkdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Order } from "../engine/index.js";
import { LANGUAGES, type Language } from "../i18n/language.js";
import { StoreUnavailableError } from "../kernel/errors.js";
import { createLogger, type Logger } from "../kernel/logger.js";
/**
 * `npm run report -- --period 2023-H1 --format csv --out report/ (--data-dir DIR | --redis URL)`: the
 * access-denial report of a period, written to `<out>/<period>.<json|csv|html>`, without the server.
 *
 * First the incremental aggregation catches up: from a data directory's decision log into
 * `<dataDir>/report/` (report/runner.ts), or from the Redis decision stream through the `report` consumer
 * group (consumer `report-cli`, store/redis/report-reader.ts) into the report keys in Redis. Then the
 * report is built from the aggregates and the orders, and rendered. Running it again, or after it was killed, gives the same numbers.
 *
 * A data directory is opened with its lock, like the server does (one process per directory): the CLI
 * works on the directory of a stopped server and refuses one a running server holds.
 */
import { writeFileAtomic } from "../platform/node/atomic-file.js";
import { createRedis, type RedisClient } from "../platform/node/redis.js";
import type { AggregateStore } from "../report/aggregate-store.js";
import { buildReport } from "../report/build.js";
import { type FrozenReport, frozenFormat } from "../report/frozen.js";
import { publisherOf } from "../report/model.js";
import { type Period, parsePeriod } from "../report/periods.js";
import { renderCsv, renderHtml, renderJson } from "../report/render.js";
import type { RunResult } from "../report/runner.js";
import { WorkerAggregates } from "../runtime/node/worker-aggregates.js";
import { FileStore } from "../store/file/file-store.js";
import { readFrozen } from "../store/file/frozen-store.js";
import { JOURNAL_FILE } from "../store/file/order-journal.js";
import { RedisAggregateStore } from "../store/redis/aggregate-store.js";
import { RedisFrozenReportStore } from "../store/redis/frozen-store.js";
import { RedisOrderStore } from "../store/redis/order-store.js";
import { storedRedisKeys } from "../store/redis/partition-count.js";
import { runFromStream } from "../store/redis/report-reader.js";
import { parseCommandLine, UsageError } from "./args.js";

const USAGE = `usage: npm run report -- [--period] PERIOD [--format json|csv|html] [--out DIR] [--lang en|nl]
                         [--threshold N] [--data-dir DIR | --redis URL [--prefix P]]
  --period     2023-H1, 2023-Q3 or 2023-07 (UTC); the period alone works too
  --format     json (default), csv (the dataset) or html
  --out        directory for <period>.<format> (default ./report)
  --lang       language of the HTML page (default en)
  --threshold  counts below N are shown as "< N" in CSV and HTML (default 0: every count)
  --data-dir   a stopped server's data directory (default CORDON_DATA_DIR or ./data)
  --redis      a Redis deployment's URL; --prefix its key prefix (default cordon)
  --help, -h   this text`;

const FORMATS = ["json", "csv", "html"] as const;
type Format = (typeof FORMATS)[number];

/** The stream consumer of CLI runs: a stable name, so a run picks up what a killed one left pending. */
export const CLI_CONSUMER = "report-cli";

interface Args {
  period: Period;
  format: Format;
  out: string;
  lang: Language;
  threshold: number;
  source: { kind: "file"; dataDir: string } | { kind: "redis"; url: string; prefix: string };
}

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

const stdio: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** Runs the command; resolves to the exit code (0 done, 1 failed, 2 bad arguments). */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  let args: Args | "help";
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // An option that does not exist: one line. A value that is wrong: the line and the usage.
    io.err(
      `report: ${err.message}${err.unknown ? " (npm run report -- --help lists the options)" : `\n${USAGE}`}\n`,
    );
    return 2;
  }
  if (args === "help") {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const logger = createLogger("warn", ({ message, fields }) =>
    io.err(`warning: ${message}${Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ""}\n`),
  );
  try {
    const { run, months, history, orders, frozen } =
      args.source.kind === "file"
        ? await fromDataDir(args.source.dataDir, args.period, logger)
        : await fromRedis(args.source.url, args.source.prefix, args.period, logger);
    io.out(
      `aggregated ${run.applied} new decision records (${run.duplicates} already counted) in ${run.batches} batch(es)\n`,
    );
    if (run.malformed !== undefined && run.malformed.length > 0) {
      io.err(
        `warning: ${run.malformed.length} decision stream entries are not decision records and are not counted; ` +
          "they stay pending (see the warning above)\n",
      );
    }
    // Who publishes, from the server's settings (an empty one counts as unset, as there).
    const publisher = publisherOf(
      process.env.CORDON_REPORT_PUBLISHER?.trim() || undefined,
      process.env.CORDON_REPORT_SERVICE?.trim() || undefined,
    );
    const report = buildReport({
      period: args.period,
      orders,
      months,
      history,
      threshold: args.threshold,
      generatedAt: new Date().toISOString(),
      ...(publisher ? { publisher } : {}),
    });
    // A finalized period (I9): its frozen bytes at the default threshold, else the live report, provisional.
    const text =
      frozen !== undefined && args.threshold === 0
        ? frozen.formats[frozenFormat(args.format, args.lang)]
        : args.format === "json"
          ? renderJson(report)
          : args.format === "csv"
            ? renderCsv(report)
            : renderHtml(report, args.lang);
    if (frozen !== undefined && args.threshold === 0)
      io.out(`${args.period.id} is finalized: its frozen report\n`);
    const path = join(args.out, `${args.period.id}.${args.format}`);
    await mkdir(args.out, { recursive: true });
    // The report appears whole or not at all: a reader never picks up half a file.
    await writeFileAtomic(path, text);
    io.out(`wrote ${path}\n`);
    return 0;
  } catch (err) {
    if (err instanceof CliError || err instanceof StoreUnavailableError) {
      io.err(`report: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** A failure with a message meant for the operator (no stack). */
class CliError extends Error {}

interface Gathered {
  run: RunResult & { malformed?: string[] };
  months: Awaited<ReturnType<AggregateStore["months"]>>;
  history: Awaited<ReturnType<AggregateStore["months"]>>;
  orders: Order[];
  /** The period's frozen report when it is finalized. */
  frozen: FrozenReport | undefined;
}

async function fromDataDir(dataDir: string, period: Period, logger: Logger): Promise<Gathered> {
  // FileStore.open creates what is missing: a mistyped path must not become an empty report.
  const isDataDir = await stat(join(dataDir, JOURNAL_FILE)).then(
    () => true,
    () =>
      stat(join(dataDir, "decisions")).then(
        (s) => s.isDirectory(),
        () => false,
      ),
  );
  if (!isDataDir)
    throw new CliError(`${dataDir} is not a Cordon data directory (no ${JOURNAL_FILE}, no decisions/)`);
  let store: FileStore;
  try {
    store = await FileStore.open(dataDir, { logger });
  } catch (err) {
    if (err instanceof StoreUnavailableError && /in use by process/.test(err.message)) {
      throw new CliError(
        `${err.message}. The report CLI works on the data directory of a stopped server; while the server ` +
          `runs, ask it instead (GET /v1/reports/${period.id} as an auditor), or stop it first.`,
      );
    }
    throw err;
  }
  try {
    // The server's decision log and, where it ran CORDON_WORKERS > 1, each worker's own (stopped: every
    // worker log is read to its last complete line).
    const aggregates = await WorkerAggregates.open(dataDir, { log: store, logger });
    try {
      const run = await aggregates.catchUp();
      return {
        run,
        ...(await read(aggregates, period)),
        orders: await store.listOrders(),
        frozen: await readFrozen(join(dataDir, "report"), period.id),
      };
    } finally {
      await aggregates.close();
    }
  } finally {
    await store.close();
  }
}

async function fromRedis(url: string, prefix: string, period: Period, logger: Logger): Promise<Gathered> {
  let orderStore: RedisOrderStore;
  try {
    orderStore = await RedisOrderStore.open(url, { prefix, logger });
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    throw new CliError(`cannot reach Redis at ${url} (${err.message})`);
  }
  let redis: RedisClient | undefined;
  try {
    // Longer command timeout than the server's: a batch's script and a month's sets are big replies.
    redis = createRedis(url, { name: "report-cli", commandTimeoutMs: 30_000 });
    redis.on("error", () => {}); // failures surface as rejected commands; no unhandled 'error' events
    await ready(redis, 5000);
    const keys = await storedRedisKeys(redis, prefix);
    const aggregates = new RedisAggregateStore(redis, keys);
    const run = await runFromStream(redis, keys, aggregates, { consumer: CLI_CONSUMER, logger });
    return {
      run,
      ...(await read(aggregates, period)),
      orders: await orderStore.listOrders(),
      frozen: await new RedisFrozenReportStore(redis, keys).get(period.id),
    };
  } finally {
    redis?.disconnect();
    await orderStore.close();
  }
}

/** The period's months, and every month up to its end (the dataset's denied joins since the start). */
async function read(
  aggregates: AggregateStore,
  period: Period,
): Promise<Pick<Gathered, "months" | "history">> {
  const last = period.months[period.months.length - 1] as string;
  const all = await aggregates.allMonths();
  return {
    months: await aggregates.months(period.months),
    history: await aggregates.months(all.filter((m) => m <= last)),
  };
}

const OPTIONS = {
  period: { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
  lang: { type: "string" },
  threshold: { type: "string" },
  "data-dir": { type: "string" },
  redis: { type: "string" },
  prefix: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function parse(argv: string[]): Args | "help" {
  const { values, positionals } = parseCommandLine(argv, OPTIONS, true);
  if (values.help) return "help";
  if (positionals.length > 1 || (positionals.length === 1 && values.period !== undefined))
    throw new UsageError(`unexpected argument ${positionals.at(-1)}`);
  const periodText = values.period ?? positionals[0];
  if (periodText === undefined) throw new UsageError("--period is required");
  const period = parsePeriod(periodText);
  if (!period)
    throw new UsageError(`--period ${periodText} is not a period such as 2023-H1, 2023-Q3 or 2023-07`);
  const format = values.format ?? "json";
  if (!isOneOf(FORMATS, format)) throw new UsageError(`--format must be json, csv or html, not ${format}`);
  const lang = values.lang ?? "en";
  if (!isOneOf(LANGUAGES, lang))
    throw new UsageError(`--lang must be ${LANGUAGES.join(" or ")}, not ${lang}`);
  const thresholdText = values.threshold ?? "0";
  const threshold = /^\d{1,4}$/.test(thresholdText) ? Number(thresholdText) : Number.NaN;
  if (!Number.isSafeInteger(threshold)) {
    throw new UsageError(`--threshold must be a whole number from 0 to 9999, not ${thresholdText}`);
  }
  if (values.redis !== undefined && values["data-dir"] !== undefined) {
    throw new UsageError("--data-dir and --redis exclude each other: the records are in one or the other");
  }
  if (values.prefix !== undefined && values.redis === undefined)
    throw new UsageError("--prefix goes with --redis");
  let source: Args["source"];
  if (values.redis !== undefined) {
    if (!/^rediss?:\/\//.test(values.redis))
      throw new UsageError(`--redis must be a redis:// URL, not ${values.redis}`);
    source = { kind: "redis", url: values.redis, prefix: values.prefix ?? "cordon" };
  } else {
    source = {
      kind: "file",
      dataDir: resolve(values["data-dir"] ?? process.env.CORDON_DATA_DIR ?? "./data"),
    };
  }
  return { period, format, out: resolve(values.out ?? "report"), lang, threshold, source };
}

function isOneOf<T extends string>(options: readonly T[], value: string): value is T {
  return (options as readonly string[]).includes(value);
}

/** Resolves once the client is connected (its offline queue is off: a command before would fail). */
export function ready(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      client.off("ready", onReady);
      fail(new CliError(`cannot reach Redis: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      done();
    };
    client.once("ready", onReady);
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
