#!/usr/bin/env node
/**
 * `cordon` command line: operations on a data directory that do not need the server running.
 *   cordon verify-audit [--data-dir DIR]   verify the hash chain of the order audit log (exit 1 if broken)
 *   cordon verify-audit --redis URL        the same for the audit log in Redis (REDIS_URL deployments)
 *   cordon ruleset [--data-dir DIR]        compile the stored orders and print the ruleset summary
 *   cordon hash-token SECRET               print the SHA-256 digest Cordon keeps for a token
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { compile } from "../engine/index.js";
import { digestSecret } from "../http/auth.js";
import { FileStore } from "../store/file-store.js";
import { AuditChainError } from "../store/interface.js";
import { RedisOrderStore } from "../store/redis-order-store.js";
import { verifyAudit } from "./verify-audit.js";

const USAGE = `usage:
  cordon verify-audit [--data-dir DIR | --redis URL [--prefix P]]
  cordon ruleset [--data-dir DIR]
  cordon hash-token SECRET
DIR defaults to CORDON_DATA_DIR or ./data`;

export async function run(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string" },
      redis: { type: "string" },
      prefix: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  const [command, ...rest] = positionals;
  const dataDir = resolve(values["data-dir"] ?? process.env.CORDON_DATA_DIR ?? "./data");
  if (values.help || !command) {
    out(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  switch (command) {
    case "verify-audit": {
      if (values.redis) {
        let store: RedisOrderStore;
        try {
          store = await RedisOrderStore.open(values.redis, { prefix: values.prefix ?? "cordon" });
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
      const store = await FileStore.open(dataDir);
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
        out(`${USAGE}\n`);
        return 2;
      }
      out(`${digestSecret(secret)}\n`);
      return 0;
    }
    default:
      out(`unknown command: ${command}\n${USAGE}\n`);
      return 2;
  }
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
