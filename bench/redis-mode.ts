/**
 * The Redis side of the HTTP benchmark's fifth server, `cordon-redis` (Cordon with REDIS_URL set): a
 * redis-server for the run, a bench client of its own that reads what Redis did (INFO commandstats, the
 * redis-server's CPU, XLEN of the decision streams), and an incremental count of the records in Cordon's
 * local outbox, to know when the background shipper has caught up.
 *
 * The redis-server is test/support/redis.ts's: appendonly with `appendfsync always`, as a durable
 * production Redis runs (an XADD is acknowledged once it is on disk). One change, made with CONFIG SET:
 * automatic AOF rewrites are off. The stream is never trimmed here (no report group), so it grows by
 * ~150 000 entries per 10 s run and the AOF would be rewritten (a fork copying the whole dataset) every
 * few seconds; in production the trimmer keeps the stream to what the report group has not read.
 * `aof_rewrites` and `total_forks` are reported so a rewrite that ran anyway would show.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { redisKeys } from "../src/store/redis/keys.js";
import { type RedisServer, startRedis } from "../test/support/redis.js";
import { cpuSeconds, sleep } from "./servers.js";

/** The decision streams (one per partition) Cordon ships to with the default prefix and partitions. */
export const STREAMS = redisKeys("cordon").partitions.map((p) => p.stream);

export function hasRedisServer(): boolean {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export type CommandStats = Record<string, { calls: number; usec: number }>;

export interface BenchRedis {
  server: RedisServer;
  /** The bench's own client (not Cordon's): INFO, XLEN. */
  admin: Redis;
  pid: number;
  version: string;
  config: Record<string, string>;
  /** Calls the bench itself made, by command, so they can be told apart from Cordon's. */
  own: Record<string, number>;
  info(section: string): Promise<Record<string, string>>;
  commandStats(): Promise<CommandStats>;
  xlen(): Promise<number>;
  /** The `id` field (decisionId) of every stream entry, in stream order. */
  streamDecisionIds(): Promise<string[]>;
  cpu(): { user: number; system: number; total: number };
  close(): Promise<void>;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const server = await startRedis();
  const admin = new Redis(server.url, { connectionName: "cordon-bench", lazyConnect: false });
  const own: Record<string, number> = {};
  const count = (command: string) => {
    own[command] = (own[command] ?? 0) + 1;
  };
  const info = async (section: string) => {
    count("info");
    const out: Record<string, string> = {};
    for (const line of (await admin.info(section)).split("\r\n")) {
      const at = line.indexOf(":");
      if (at > 0 && !line.startsWith("#")) out[line.slice(0, at)] = line.slice(at + 1);
    }
    return out;
  };
  count("config|set");
  await admin.config("SET", "auto-aof-rewrite-percentage", "0");
  const config: Record<string, string> = {};
  for (const name of ["appendonly", "appendfsync", "auto-aof-rewrite-percentage", "save"]) {
    count("config|get");
    const [, value] = (await admin.config("GET", name)) as [string, string];
    config[name] = value;
  }
  const serverInfo = await info("server");
  const pid = Number(serverInfo.process_id);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error("redis-server: no process_id in INFO server");
  return {
    server,
    admin,
    pid,
    version: serverInfo.redis_version ?? "unknown",
    config,
    own,
    info,
    async commandStats() {
      const stats: CommandStats = {};
      // cmdstat_xadd:calls=12,usec=34,usec_per_call=2.83,rejected_calls=0,failed_calls=0
      for (const [key, value] of Object.entries(await info("commandstats"))) {
        if (!key.startsWith("cmdstat_")) continue;
        const calls = /calls=(\d+)/.exec(value);
        const usec = /usec=(\d+)/.exec(value);
        stats[key.slice("cmdstat_".length)] = {
          calls: Number(calls?.[1] ?? 0),
          usec: Number(usec?.[1] ?? 0),
        };
      }
      return stats;
    },
    async xlen() {
      let total = 0;
      for (const stream of STREAMS) {
        count("xlen");
        total += await admin.xlen(stream);
      }
      return total;
    },
    async streamDecisionIds() {
      const ids: string[] = [];
      for (const stream of STREAMS) {
        let from = "-";
        for (;;) {
          count("xrange");
          const entries = (await admin.xrange(stream, from, "+", "COUNT", 10_000)) as [string, string[]][];
          for (const [, fields] of entries) {
            const at = fields.indexOf("id");
            ids.push(at >= 0 ? String(fields[at + 1]) : "");
          }
          if (entries.length < 10_000) break;
          from = `(${(entries[entries.length - 1] as [string, string[]])[0]}`;
        }
      }
      return ids;
    },
    cpu: () => cpuSeconds(pid),
    async close() {
      admin.disconnect();
      await server.close();
    },
  };
}

/** after − before, per command, leaving out commands that did not run in between. */
export function diffCommandStats(before: CommandStats, after: CommandStats): CommandStats {
  const out: CommandStats = {};
  for (const [name, a] of Object.entries(after)) {
    const b = before[name] ?? { calls: 0, usec: 0 };
    if (a.calls > b.calls) out[name] = { calls: a.calls - b.calls, usec: a.usec - b.usec };
  }
  return out;
}

/**
 * Counts the records (lines) in a SegmentLog's `decisions/*.jsonl` segments, reading only what was appended
 * since the last call: the outbox reaches hundreds of MB over a run, and the count is polled.
 */
export class DecisionLineCounter {
  private readonly dir: string;
  private readonly files = new Map<string, { offset: number; lines: number }>();
  private readonly buf = Buffer.allocUnsafe(1 << 20);

  constructor(storeDir: string) {
    this.dir = join(storeDir, "decisions");
  }

  count(): number {
    let total = 0;
    for (const name of readdirSync(this.dir).filter((f) => f.endsWith(".jsonl"))) {
      const path = join(this.dir, name);
      const state = this.files.get(name) ?? { offset: 0, lines: 0 };
      const size = statSync(path).size;
      if (size > state.offset) {
        const fd = openSync(path, "r");
        try {
          while (state.offset < size) {
            const n = readSync(fd, this.buf, 0, Math.min(this.buf.length, size - state.offset), state.offset);
            if (n <= 0) break;
            // Only whole lines: a record being written is counted once its newline is there.
            const last = this.buf.lastIndexOf(0x0a, n - 1);
            if (last < 0) break;
            let at = this.buf.indexOf(0x0a);
            while (at !== -1 && at <= last) {
              state.lines++;
              at = this.buf.indexOf(0x0a, at + 1);
            }
            state.offset += last + 1;
          }
        } finally {
          closeSync(fd);
        }
      }
      this.files.set(name, state);
      total += state.lines;
    }
    return total;
  }
}

/** The decisionIds of a SegmentLog's `decisions/*.jsonl` records, in file order. */
export function outboxDecisionIds(storeDir: string): string[] {
  const dir = join(storeDir, "decisions");
  const ids: string[] = [];
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()) {
    for (const match of readFileSync(join(dir, name), "utf8").matchAll(/^\{"decisionId":"([^"]+)"/gm))
      ids.push(match[1] as string);
  }
  return ids;
}

/**
 * Waits until the stream holds as many entries as the outbox holds records (the shipper has caught up).
 * Returns how long that took and both counts; `drained` is false after `timeoutMs`.
 */
export async function waitShipped(
  redis: BenchRedis,
  outbox: DecisionLineCounter,
  timeoutMs = 30_000,
): Promise<{ drained: boolean; ms: number; records: number; streamEntries: number }> {
  const started = performance.now();
  for (;;) {
    const records = outbox.count();
    const streamEntries = await redis.xlen();
    const ms = performance.now() - started;
    if (streamEntries >= records) return { drained: streamEntries === records, ms, records, streamEntries };
    if (ms > timeoutMs) return { drained: false, ms, records, streamEntries };
    await sleep(20);
  }
}
