#!/usr/bin/env node
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parsePublishConfig } from "../config/node.js";
import { ConfigError } from "../config/parse.js";
import { compile, type Ruleset } from "../engine/index.js";
/**
 * `cordon` command line: operations on a data directory that do not need the server running.
 *   cordon verify-audit [--data-dir DIR]   verify the hash chain of the order audit log (exit 1 if broken)
 *   cordon verify-audit --redis URL        the same for the audit log in Redis (REDIS_URL deployments)
 *   cordon ruleset [--data-dir DIR]        compile the stored orders and print the ruleset summary
 *   cordon hash-token SECRET               print the SHA-256 digest Cordon keeps for a token
 *   cordon import [--data-dir DIR | --redis URL] [--as NAME] FILE.jsonl
 *                                          backfill historical orders (src/service/import.ts has the format)
 *   cordon keygen                          print a new Ed25519 key pair for signed rulesets (the edge)
 *   cordon publish [--data-dir DIR | --redis URL] [--out FILE]
 *                                          compile, sign and write the ruleset to Workers KV (or FILE)
 *   cordon verify-report [--data-dir DIR | --redis URL] [--public-key KEY] PERIOD
 *                                          recompute a finalized period's report from the data and check
 *                                          it against its signed manifest (exit 1 naming what differs)
 *   cordon edge-replay [--url URL]         have the Worker re-send its parked decision records to ingest
 *   cordon restore --redis URL [--prefix P] --from DIR|FILE
 *                                          put an order history back into an emptied Redis from an
 *                                          instance's audit mirror (or a copy of it): verified first,
 *                                          never over a history Redis holds (restore.ts)
 */
import { SILENT_LOGGER } from "../kernel/logger.js";
import { nodeLogger } from "../platform/node/logger.js";
import { createRedis } from "../platform/node/redis.js";
import type { AggregateStore } from "../report/aggregate-store.js";
import { monthOf, parsePeriod } from "../report/periods.js";
import { RulesetCompiler } from "../rulesets/compiler.js";
import { DiskMirror } from "../rulesets/disk-mirror.js";
import { RulesetHolder } from "../rulesets/holder.js";
import { KvPublisher } from "../rulesets/kv-publisher.js";
import { RedisRulesetChannel } from "../rulesets/redis-channel.js";
import { RulesetSync } from "../rulesets/redis-sync.js";
import { RULESET_MANIFEST_KV_KEY } from "../rulesets/sharded.js";
import {
  exportPrivateKey,
  exportPublicKey,
  generateSigningKey,
  keyIdOf,
  loadSigningKey,
  RULESET_KV_KEY,
  signRuleset,
} from "../rulesets/signed.js";
import { digestSecret } from "../service/auth.js";
import { type ImportDeps, ImportRefusedError, importOrders } from "../service/import.js";
import { FileAggregateStore } from "../store/file/aggregate-store.js";
import { FileStore } from "../store/file/file-store.js";
import { AuditChainError } from "../store/interface.js";
import { RedisAggregateStore } from "../store/redis/aggregate-store.js";
import { redisKeys } from "../store/redis/keys.js";
import { RedisOrderStore } from "../store/redis/order-store.js";
import { storedRedisKeys } from "../store/redis/partition-count.js";
import { parseCommandLine, UsageError } from "./args.js";
import { edgeReplay } from "./edge-replay.js";
import { ready } from "./report.js";
import { restore } from "./restore.js";
import { verifyAudit } from "./verify-audit.js";
import { fileSource, redisSource, verifyReport } from "./verify-report.js";

/** Warnings from the stores (a repaired torn tail, say) go to stderr as JSON lines. */
const logger = nodeLogger("warn");

/** Each command: its usage (the lines `cordon CMD --help` prints) and the options it takes. */
const COMMANDS: Record<string, { usage: string; options: readonly string[] }> = {
  "verify-audit": {
    usage: `cordon verify-audit [--data-dir DIR | --redis URL [--prefix P]]
  Verify the hash chain of the order audit log (exit 1 if broken), in a data directory or in Redis.`,
    options: ["data-dir", "redis", "prefix"],
  },
  ruleset: {
    usage: `cordon ruleset [--data-dir DIR]
  Compile the stored orders and print the ruleset summary.`,
    options: ["data-dir"],
  },
  "hash-token": {
    usage: `cordon hash-token SECRET
  Print the SHA-256 digest Cordon keeps for a token (tokens.json holds digests only).`,
    options: [],
  },
  import: {
    usage: `cordon import [--data-dir DIR | --redis URL [--prefix P]] [--as NAME] FILE.jsonl
  Backfill historical orders (src/service/import.ts has the format); --as names who imported them.`,
    options: ["data-dir", "redis", "prefix", "as"],
  },
  keygen: {
    usage: `cordon keygen
  Print a new Ed25519 key pair: CORDON_SIGNING_KEY for the server, the public key for the edge.`,
    options: [],
  },
  publish: {
    usage: `cordon publish [--data-dir DIR | --redis URL [--prefix P]] [--out FILE]
  Compile, sign (CORDON_SIGNING_KEY) and write the ruleset to Workers KV (CF_ACCOUNT_ID,
  CF_KV_NAMESPACE_ID, CF_API_TOKEN), or to FILE with --out (for wrangler kv key put).`,
    options: ["data-dir", "redis", "prefix", "out"],
  },
  "verify-report": {
    usage: `cordon verify-report [--data-dir DIR | --redis URL [--prefix P]] [--public-key KEY] [--period] PERIOD
  Recompute a finalized period's report from the data and check it against its signed manifest (exit 1
  naming what differs). Reads Redis when --redis is given, or REDIS_URL is set and --data-dir is not;
  --public-key (raw Ed25519, base64) pins the key the manifest must be signed with.`,
    options: ["data-dir", "redis", "prefix", "public-key", "period"],
  },
  "edge-replay": {
    usage: `cordon edge-replay [--url URL]
  Have the Worker at URL (default CORDON_EDGE_URL) re-send its parked decision records to ingest, with
  the admin secret in CORDON_EDGE_ADMIN_TOKEN.`,
    options: ["url"],
  },
  restore: {
    usage: `cordon restore [--redis URL] [--prefix P] --from DIR|FILE
  Put an order history back into an emptied Redis (REDIS_URL unless --redis) from an instance's
  <dataDir>/audit-mirror directory or a copy of its audit.jsonl: verified first, never over a history
  Redis holds.`,
    options: ["redis", "prefix", "from"],
  },
};

const USAGE = `usage: cordon COMMAND [options]     (cordon COMMAND --help for one command)
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage.split("\n")[0]}`)
  .join("\n")}
DIR defaults to CORDON_DATA_DIR or ./data; P (the Redis key prefix) to cordon. Exit codes: 0 done,
1 failed (or a check did not pass), 2 a bad command line.`;

const OPTIONS = {
  "data-dir": { type: "string" },
  redis: { type: "string" },
  prefix: { type: "string" },
  as: { type: "string" },
  url: { type: "string" },
  out: { type: "string" },
  "public-key": { type: "string" },
  from: { type: "string" },
  period: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function run(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  env: Record<string, string | undefined> = process.env,
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine<typeof OPTIONS>>;
  try {
    parsed = parseCommandLine(argv, OPTIONS, true);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err(`cordon: ${error.message} (cordon --help lists the commands and their options)\n`);
    return 2;
  }
  const { values } = parsed;
  // `cordon help [COMMAND]` is `cordon [COMMAND] --help`.
  const asked = parsed.positionals[0] === "help";
  const [command, ...rest] = asked ? parsed.positionals.slice(1) : parsed.positionals;
  const dataDir = resolve(values["data-dir"] ?? env.CORDON_DATA_DIR ?? "./data");
  if (values.help || asked) {
    const one = command === undefined ? undefined : COMMANDS[command];
    if (command !== undefined && !one) {
      err(`cordon: unknown command ${command} (cordon --help lists the commands)\n`);
      return 2;
    }
    out(`${one ? `usage: ${one.usage}` : USAGE}\n`);
    return 0;
  }
  if (!command) {
    err(`${USAGE}\n`);
    return 2;
  }
  const spec = COMMANDS[command];
  if (!spec) {
    err(`cordon: unknown command ${command} (cordon --help lists the commands)\n`);
    return 2;
  }
  const misplaced = Object.keys(values).filter((name) => name !== "help" && !spec.options.includes(name));
  if (misplaced.length > 0) {
    err(`cordon ${command}: unknown option --${misplaced[0]} (cordon ${command} --help lists its options)\n`);
    return 2;
  }
  switch (command) {
    case "edge-replay": {
      const url = values.url ?? env.CORDON_EDGE_URL;
      const token = env.CORDON_EDGE_ADMIN_TOKEN;
      if (!url || !token) {
        err("cordon edge-replay: needs --url (or CORDON_EDGE_URL) and CORDON_EDGE_ADMIN_TOKEN\n");
        return 2;
      }
      return edgeReplay({ url, token, out });
    }
    case "verify-audit": {
      if (values.redis) {
        let store: RedisOrderStore;
        try {
          store = await RedisOrderStore.open(values.redis, { prefix: values.prefix ?? "cordon", logger });
        } catch (error) {
          // Opening checks the head against the last entry: a tampered tail is caught already here.
          if (!(error instanceof AuditChainError)) throw error;
          out(`audit chain BROKEN at seq ${error.seq}: ${error.message}\n`);
          return 1;
        }
        try {
          const verdict = await store.verify();
          if (verdict.ok) {
            out(`audit chain OK: ${verdict.count} entries in Redis\n`);
            return 0;
          }
          out(`audit chain BROKEN at seq ${verdict.seq}: ${verdict.reason}\n`);
          return 1;
        } finally {
          await store.close();
        }
      }
      const result = await verifyAudit(dataDir);
      if (result.ok) {
        out(`audit chain OK: ${result.count} entries in ${dataDir}\n`);
        return 0;
      }
      out(`audit chain BROKEN at seq ${result.seq}: ${result.reason}\n`);
      return 1;
    }
    case "ruleset": {
      const store = await FileStore.open(dataDir, { logger });
      try {
        const head = await store.head();
        const ruleset = compile(await store.listOrders(), {
          version: head.seq,
          compiledAt: new Date().toISOString(),
        });
        out(
          `${JSON.stringify(
            {
              version: ruleset.version,
              hash: ruleset.hash,
              orders: ruleset.orders.map((o) => ({ id: o.id, mode: o.mode, jurisdictions: o.jurisdictions })),
              meetings: ruleset.meetings.size,
              accounts: ruleset.accounts.size,
              excluded: ruleset.excluded,
            },
            null,
            2,
          )}\n`,
        );
        return 0;
      } finally {
        await store.close();
      }
    }
    case "hash-token": {
      const [secret] = rest;
      if (!secret) {
        err(`usage: ${spec.usage}\n`);
        return 2;
      }
      out(`${digestSecret(secret)}\n`);
      return 0;
    }
    case "import": {
      const [file] = rest;
      if (!file) {
        err(`usage: ${spec.usage}\n`);
        return 2;
      }
      let lines: string;
      try {
        lines = await readFile(resolve(file), "utf8");
      } catch (error) {
        out(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
      }
      const importedBy = values.as ?? `cli:${process.env.USER ?? "unknown"}`;
      const target = values.redis
        ? await redisImportTarget(values.redis, values.prefix ?? "cordon")
        : await fileImportTarget(dataDir);
      try {
        const result = await importOrders(target.deps, lines, importedBy);
        out(
          `imported ${result.imported}, skipped ${result.skipped} (already stored) of ${result.orders.length} orders into ${target.name}, as ${importedBy}\n`,
        );
        for (const order of result.orders) out(`  line ${order.line}: ${order.id} ${order.result}\n`);
        return 0;
      } catch (error) {
        if (!(error instanceof ImportRefusedError)) throw error;
        out(`import refused: ${error.message}\n`);
        for (const issue of error.issues) out(`  ${issue.path}: ${issue.message}\n`);
        return 1;
      } finally {
        await target.close();
      }
    }
    case "keygen": {
      const pair = await generateSigningKey();
      const keyId = await keyIdOf(pair.publicKey);
      const publicKey = await exportPublicKey(pair.publicKey);
      out(
        [
          "# Node side (secret: keep it in your secret store, never in the Worker):",
          `CORDON_SIGNING_KEY=${await exportPrivateKey(pair.privateKey)}`,
          `CORDON_SIGNING_KEY_ID=${keyId}`,
          "# Worker side (public; list several, comma-separated, while rotating keys):",
          `RULESET_PUBLIC_KEYS=${keyId}:${publicKey}`,
          "",
        ].join("\n"),
      );
      return 0;
    }
    case "publish": {
      const file = values.out;
      let settings: ReturnType<typeof parsePublishConfig>;
      try {
        settings = parsePublishConfig(env, { kv: file === undefined });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        out(`${error.message}\n`);
        return 2;
      }
      const ruleset = await compileStored(values.redis, values.prefix ?? "cordon", dataDir);
      const summary = `ruleset v${ruleset.version} (hash ${ruleset.hash.slice(0, 12)}, ${ruleset.orders.length} orders)`;
      if (file !== undefined) {
        const key = await loadSigningKey(settings.signingKey, settings.keyId);
        await writeFile(resolve(file), await signRuleset(ruleset, key));
        out(
          `signed ${summary} with key ${key.keyId} into ${file} (the single-value format)\n` +
            `upload it with: npx wrangler kv key put ${RULESET_KV_KEY} --path ${file} --namespace-id <id> --remote\n` +
            `Workers read it only while KV holds no ${RULESET_MANIFEST_KV_KEY}: a KV that has one is updated by \`cordon publish\` without --out (sharded)\n`,
        );
        return 0;
      }
      if (!settings.kv) throw new Error("unreachable: KV settings were required");
      // No retries: a command reports the one attempt and its exit code says how it went.
      const publisher = await KvPublisher.fromSettings(settings.kv, { retryMs: 0 });
      const result = await publisher.publish(ruleset);
      await publisher.stop();
      if (result.outcome === "published") {
        out(
          `published signed ${summary} with key ${publisher.keyId} to KV ${RULESET_MANIFEST_KV_KEY} and its shards\n`,
        );
        return 0;
      }
      if (result.outcome === "skipped") {
        out(`nothing published for ${summary}: ${result.reason}\n`);
        return 0;
      }
      out(`publish failed for ${summary}: ${result.error}\n`);
      return 1;
    }
    case "verify-report": {
      const periodText = values.period ?? rest[0];
      const period = periodText === undefined ? undefined : parsePeriod(periodText);
      if (!period) {
        err(`${periodText === undefined ? "" : `not a period: ${periodText}\n`}usage: ${spec.usage}\n`);
        return 2;
      }
      const url = values.redis ?? (values["data-dir"] === undefined ? env.REDIS_URL : undefined);
      const redis = url ? createRedis(url, { name: "verify-report", commandTimeoutMs: 30_000 }) : undefined;
      redis?.on("error", () => undefined); // failures surface as rejected commands
      if (redis) await ready(redis, 5000);
      const source =
        url && redis ? await redisSource(url, values.prefix ?? "cordon", redis) : fileSource(dataDir);
      try {
        const verdict = await verifyReport(
          period,
          source,
          values["public-key"] === undefined ? {} : { publicKey: values["public-key"] },
        );
        for (const line of verdict.lines) out(`${line}\n`);
        out(verdict.ok ? `report ${period.id} VERIFIED\n` : `report ${period.id} does NOT verify\n`);
        return verdict.ok ? 0 : 1;
      } finally {
        await source.close();
        redis?.disconnect();
      }
    }
    case "restore": {
      const url = values.redis ?? env.REDIS_URL;
      if (!url || !values.from) {
        err(`cordon restore: needs --from and --redis (or REDIS_URL)\nusage: ${spec.usage}\n`);
        return 2;
      }
      return restore({
        url,
        prefix: values.prefix ?? "cordon",
        from: resolve(values.from),
        out: (line) => out(`${line}\n`),
      });
    }
    default:
      err(`cordon: unknown command ${command} (cordon --help lists the commands)\n`);
      return 2;
  }
}

/** Compiles the stored orders as a server would (version = the store's head). */
async function compileStored(
  redisUrl: string | undefined,
  prefix: string,
  dataDir: string,
): Promise<Ruleset> {
  const store = redisUrl
    ? await RedisOrderStore.open(redisUrl, { prefix, logger })
    : await FileStore.open(dataDir, { logger });
  try {
    const head = await store.head();
    return compile(await store.listOrders(), { version: head.seq, compiledAt: new Date().toISOString() });
  } finally {
    await store.close();
  }
}

interface ImportTarget {
  name: string;
  deps: ImportDeps;
  close(): Promise<void>;
}

/**
 * A data directory: its lock keeps a running server out, and the server compiles from the store when it
 * starts, so the compile here only re-checks the imported orders (I1 again).
 */
/** I9 offline: which months finalization froze, as the report aggregates record them. */
function finality(aggregates: Pick<AggregateStore, "frozenMonths">): ImportDeps["reports"] {
  return { isFinalized: async (at) => (await aggregates.frozenMonths()).includes(monthOf(at)) };
}

async function fileImportTarget(dataDir: string): Promise<ImportTarget> {
  const store = await FileStore.open(dataDir, { logger });
  // The data directory is locked by the store above, so no server is writing these aggregates.
  const aggregates = await FileAggregateStore.open(join(dataDir, "report"), { log: store });
  return {
    name: dataDir,
    deps: { orders: store, compiler: compilerFor(store), clock: Date.now, reports: finality(aggregates) },
    async close() {
      await aggregates.close();
      await store.close();
    },
  };
}

/**
 * Redis: running instances share the store, so the ruleset compiled after the import is published as an
 * instance would (compare-and-set and PUBLISH through `RulesetSync`) and every instance swaps to it. The
 * sync's local copy goes to a temporary directory: this process is no instance.
 */
async function redisImportTarget(url: string, prefix: string): Promise<ImportTarget> {
  const store = await RedisOrderStore.open(url, { prefix, logger });
  const redis = createRedis(url, { name: "cli-import" });
  const subscriber = createRedis(url, { name: "cli-import-subscriber" });
  const scratch = await mkdtemp(join(tmpdir(), "cordon-import-"));
  const compiler = compilerFor(store);
  const sync = await RulesetSync.start({
    compiler,
    channel: new RedisRulesetChannel(redis, subscriber, redisKeys(prefix)),
    // Silent, as the sync is: the copy is scratch, and Redis is where this ruleset matters.
    mirror: new DiskMirror(join(scratch, "ruleset.mirror"), SILENT_LOGGER),
    clock: Date.now,
  });
  return {
    name: "Redis",
    deps: {
      orders: store,
      compiler,
      clock: Date.now,
      // Keys read on use: the client connects in the background (no offline queue).
      reports: finality({
        frozenMonths: async () =>
          new RedisAggregateStore(redis, await storedRedisKeys(redis, prefix)).frozenMonths(),
      }),
    },
    async close() {
      await sync.stop();
      redis.disconnect();
      subscriber.disconnect();
      await store.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${resolve(process.argv[1])}`).href) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`cordon: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

function compilerFor(orders: ConstructorParameters<typeof RulesetCompiler>[0]): RulesetCompiler {
  return new RulesetCompiler(orders, new RulesetHolder(Date.now), Date.now);
}
