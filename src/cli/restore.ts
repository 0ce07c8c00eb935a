/**
 * `cordon restore`: puts an order history back into a Redis that lost it, from an instance's audit
 * mirror (`<dataDir>/audit-mirror`, or a copy of its `audit.jsonl` kept as a backup). The chain is
 * verified before anything is written; a Redis that holds any order history is refused; the orders
 * state is rebuilt by replaying the entries, so orders, order ids, audit lists, head and epoch are as
 * they were; and the ruleset compiled from them is stored and announced, so running instances see the
 * history they mirror again and resume order changes by themselves.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { compile } from "../engine/index.js";
import { createRedis } from "../platform/node/redis.js";
import { RedisRulesetChannel } from "../rulesets/redis-channel.js";
import { AUDIT_MIRROR_FILE, readMirrorFile } from "../store/file/audit-mirror.js";
import { AuditChainError } from "../store/interface.js";
import { redisKeys } from "../store/redis/keys.js";
import { RedisOrderStore } from "../store/redis/order-store.js";
import { HistoryPresentError, planRestore, seedHistory } from "../store/redis/restore.js";
import { ready } from "./report.js";

export interface RestoreOptions {
  url: string;
  prefix: string;
  /** A mirror directory, or a mirror file (a backup copy of one). */
  from: string;
  out: (line: string) => void;
}

/** Exit code: 0 restored, 1 refused (nothing written). */
export async function restore(opts: RestoreOptions): Promise<number> {
  const { out } = opts;
  const file = (await isDirectory(opts.from)) ? join(opts.from, AUDIT_MIRROR_FILE) : opts.from;
  let contents: Awaited<ReturnType<typeof readMirrorFile>>;
  try {
    contents = await readMirrorFile(file);
  } catch (err) {
    if (!(err instanceof AuditChainError)) throw err;
    out(`restore refused: ${file} does not verify at seq ${err.seq}: ${err.message}`);
    return 1;
  }
  if (contents.epoch === undefined || contents.entries.length === 0) {
    out(`restore refused: ${file} holds no audit entries`);
    return 1;
  }
  if (contents.torn) out(`note: ${file} ends with ${contents.torn} (an append cut short); left out`);
  const plan = planRestore(contents.epoch, contents.entries);
  out(
    `${file}: ${plan.entries.length} entries verified, ${plan.orders.length} orders, epoch ${plan.epoch}, head ${plan.head.seq} ${plan.head.hash}`,
  );

  const keys = redisKeys(opts.prefix);
  const redis = createRedis(opts.url, { name: "cli-restore", commandTimeoutMs: 30_000 });
  redis.on("error", () => undefined); // failures surface as rejected commands
  try {
    await ready(redis, 5000);
    try {
      await seedHistory(redis, keys, plan);
    } catch (err) {
      if (!(err instanceof HistoryPresentError)) throw err;
      out(`restore refused: ${err.message}`);
      return 1;
    }
    out(`restored ${plan.entries.length} audit entries and ${plan.orders.length} orders into Redis`);
    // What instances would compile from the restored store, stored and announced as they would.
    const ruleset = compile(
      plan.orders.map((o) => o.order),
      { version: plan.head.seq, epoch: plan.epoch, compiledAt: new Date().toISOString() },
    );
    const channel = new RedisRulesetChannel(redis, redis, keys);
    const { stored } = await channel.publish({
      version: ruleset.version,
      epoch: ruleset.epoch,
      whole: ruleset,
    });
    out(
      stored
        ? `ruleset v${ruleset.version} of epoch ${plan.epoch} stored and announced`
        : `ruleset v${ruleset.version}: redis already holds a newer one of this epoch`,
    );
  } finally {
    redis.disconnect();
  }

  // Judged afterwards as `cordon verify-audit --redis` judges it.
  const store = await RedisOrderStore.open(opts.url, { prefix: opts.prefix });
  try {
    const verdict = await store.verify();
    if (!verdict.ok) {
      out(`restored history does NOT verify at seq ${verdict.seq}: ${verdict.reason}`);
      return 1;
    }
    out(`audit chain OK: ${verdict.count} entries in Redis`);
    return 0;
  } finally {
    await store.close();
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
