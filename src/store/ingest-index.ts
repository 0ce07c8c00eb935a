/**
 * Which decision records arriving from the edge (the Worker's Queue consumer) are already in the
 * decision log, so that a retried delivery adds nothing (I5: exactly one record per answered check).
 * Records are indexed by the month of their `at`, so an index stays small enough to hold in memory.
 *
 * Order of operations in the ingest route: `unseen` (read), append the unseen records to the decision
 * log, then `remember`. A crash between append and remember can leave a record in the log that a retry
 * appends again; the report deduplicates by decisionId too, so no count changes. The reverse order could
 * lose a record, which is worse.
 */
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Redis } from "ioredis";

export interface IngestIndex {
  /** The ids among `records` not ingested before. */
  unseen(records: readonly { decisionId: string; at: string }[]): Promise<Set<string>>;
  remember(records: readonly { decisionId: string; at: string }[]): Promise<void>;
}

const monthOf = (at: string) => at.slice(0, 7);

function byMonth<T extends { at: string }>(records: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of records) {
    const list = out.get(monthOf(r.at)) ?? [];
    list.push(r);
    out.set(monthOf(r.at), list);
  }
  return out;
}

/** One append-only file of ids per month under `<dataDir>/ingested/`, loaded into memory on first use. */
export class FileIngestIndex implements IngestIndex {
  readonly #months = new Map<string, Promise<Set<string>>>();

  constructor(private readonly dir: string) {}

  #load(month: string): Promise<Set<string>> {
    let loaded = this.#months.get(month);
    if (!loaded) {
      loaded = readFile(join(this.dir, `${month}.ids`), "utf8").then(
        (text) => new Set(text.split("\n").filter(Boolean)),
        (error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT") return new Set<string>();
          throw error;
        },
      );
      this.#months.set(month, loaded);
    }
    return loaded;
  }

  async unseen(records: readonly { decisionId: string; at: string }[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const [month, list] of byMonth(records)) {
      const seen = await this.#load(month);
      for (const r of list) if (!seen.has(r.decisionId)) out.add(r.decisionId);
    }
    return out;
  }

  async remember(records: readonly { decisionId: string; at: string }[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const [month, list] of byMonth(records)) {
      const seen = await this.#load(month);
      const fresh = list.filter((r) => !seen.has(r.decisionId));
      if (fresh.length === 0) continue;
      await appendFile(join(this.dir, `${month}.ids`), `${fresh.map((r) => r.decisionId).join("\n")}\n`);
      for (const r of fresh) seen.add(r.decisionId);
    }
  }
}

/** A SET of ids per month in Redis, shared by every instance. */
export class RedisIngestIndex implements IngestIndex {
  constructor(
    private readonly redis: Redis,
    private readonly key: (month: string) => string,
  ) {}

  async unseen(records: readonly { decisionId: string; at: string }[]): Promise<Set<string>> {
    const pipeline = this.redis.pipeline();
    for (const r of records) pipeline.sismember(this.key(monthOf(r.at)), r.decisionId);
    const replies = (await pipeline.exec()) ?? [];
    const out = new Set<string>();
    records.forEach((r, i) => {
      const [error, member] = replies[i] ?? [new Error("no reply"), 0];
      if (error) throw error;
      if (member === 0) out.add(r.decisionId);
    });
    return out;
  }

  async remember(records: readonly { decisionId: string; at: string }[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const [month, list] of byMonth(records))
      pipeline.sadd(this.key(month), ...list.map((r) => r.decisionId));
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
  }
}
