/** The ingest index in Redis: see `store/ingest-index.ts` for the claims and the order of operations. */
import type { ChainableCommander } from "ioredis";
import type { RedisClient } from "../../platform/node/redis.js";
import {
  byMonth,
  type Claim,
  type IngestEntry,
  type IngestIndex,
  judge,
  monthOf,
  monthTtlMs,
  PENDING,
} from "../ingest-index.js";

/**
 * A HASH per month, id -> `p:<digest>` (claimed) or `<digest>` (stored), shared by every instance and
 * expired once the month is past ingest's window (`monthTtlMs`). HSETNX makes a claim atomic: of two instances
 * ingesting different records under one id at once, one claims it and the other is refused.
 * The key is the 0.1.0 SET's (ids only, `key(month)`) with `:digests` appended: same hash tag, so the
 * months of one delivery stay in one cluster slot.
 */
export class RedisIngestIndex implements IngestIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: (month: string) => string,
  ) {}

  #hash(month: string): string {
    return `${this.key(month)}:digests`;
  }

  #expire(pipeline: ChainableCommander, entries: readonly IngestEntry[]): void {
    for (const [month, list] of byMonth(entries)) {
      const latest = list
        .map((e) => e.at)
        .sort()
        .at(-1) as string;
      pipeline.pexpire(this.#hash(month), Math.max(monthTtlMs(month, latest), 1));
    }
  }

  async claim(entries: readonly IngestEntry[]): Promise<Claim[]> {
    if (entries.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const e of entries) {
      const key = this.#hash(monthOf(e.at));
      // The field's value after HSETNX: ours if we claimed it, else whatever was there (it only ever
      // changes from `p:<digest>` to that same digest, so reading it in the same pipeline is enough).
      pipeline.hsetnx(key, e.decisionId, PENDING + e.digest).hget(key, e.decisionId);
    }
    this.#expire(pipeline, entries);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    return entries.map((e, i) => {
      const [, set] = replies[2 * i] as [null, number];
      if (set === 1) return "new";
      const [, stored] = replies[2 * i + 1] as [null, string | null];
      return judge(stored, e.digest);
    });
  }

  async confirm(entries: readonly IngestEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [month, list] of byMonth(entries))
      pipeline.hset(this.#hash(month), ...list.flatMap((e) => [e.decisionId, e.digest]));
    this.#expire(pipeline, entries);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
  }
}
