/** The ingest index in Redis: see `store/ingest-index.ts` for the order of operations. */
import type { Redis } from "ioredis";
import { byMonth, type IngestIndex, monthOf } from "../ingest-index.js";

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
