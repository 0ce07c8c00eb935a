/**
 * One decision partition as the shipper sees it: where its stream is, what this shipper last had
 * acknowledged there (fence, last id, epoch: checkpoint.ts), its deduplication (dedupe.ts), and the one
 * script that adds a batch of records to it.
 *
 * The script (SHIP) adds a batch in one step on the partition's shard: run whole or not at all, so what
 * an unacknowledged batch left behind is a prefix of it (none or all of it, in fact), as dedupe.ts needs.
 * It also keeps the edge's records exactly once: an edge decisionId (a version-8 UUID,
 * ingest-index.ts) already in the partition's set of its day is not added again. Records this service
 * made itself need no such check: each comes from one outbox, which ships it once.
 */

import type { Logger } from "../../../kernel/logger.js";
import type { RedisClient } from "../../../platform/node/redis.js";
import { isEdgeDecisionId } from "../../ingest-index.js";
import type { PartitionKeys } from "../keys.js";
import type { LaneCheckpoint } from "./checkpoint.js";
import { LaneDedupe } from "./dedupe.js";

/** Edge-id sets outlive ingest's 14-day window (`keys.ts` edgeIds). */
const EDGE_IDS_TTL_S = 16 * 24 * 3600;

/**
 * KEYS: 1 the stream, then the edge-id sets of the days in the batch.
 * ARGV: 1 the edge-id TTL (s), then per record: decisionId, the record's JSON line, and the KEYS index of
 *       its edge-id set (0 for a record of this service).
 * Reply: {last id added or false, records skipped as edge duplicates}.
 */
const SHIP = `
local last = false
local skipped = 0
local touched = {}
for i = 2, #ARGV, 3 do
  local k = tonumber(ARGV[i + 2])
  local add = true
  if k > 0 then
    add = redis.call('SADD', KEYS[k], ARGV[i]) == 1
    touched[k] = true
  end
  if add then
    last = redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'r', ARGV[i + 1])
  else
    skipped = skipped + 1
  end
end
for k in pairs(touched) do redis.call('EXPIRE', KEYS[k], ARGV[1]) end
return {last, skipped}
`;

const SHIP_COMMAND = "cordonShipDecisions";

type ShipClient = RedisClient & {
  [SHIP_COMMAND](numKeys: number, ...keysAndArgs: (string | number)[]): Promise<[string | null, number]>;
};

/** Makes the client able to run the ship script (EVALSHA, loaded on first use on each node). */
export function defineShip(redis: RedisClient): void {
  if (typeof (redis as unknown as Partial<ShipClient>)[SHIP_COMMAND] !== "function") {
    redis.defineCommand(SHIP_COMMAND, { lua: SHIP });
  }
}

/** One outbox line bound for a lane. */
export interface LaneLine {
  decisionId: string;
  at: string;
  line: string;
}

export class Lane {
  /** The id of the last batch this lane had acknowledged (dedupe.ts's window starts after it). */
  fence: string | undefined;
  /**
   * The fence as it was when the shipper's outbox cursor last moved: what the checkpoint keeps, since
   * it pairs with that cursor. After a crash the page at the cursor is read again, and every entry this
   * lane added since, that page's part included, lies after this fence, where the deduplication looks.
   */
  committedFence: string | undefined;
  lastAckedId: string | undefined;
  epoch: string | undefined;
  readonly dedupe: LaneDedupe;

  constructor(
    readonly keys: PartitionKeys,
    private readonly redis: RedisClient,
    saved: LaneCheckpoint | undefined,
    dedupe: { clockSkewMs: number; logger: Logger; isStopped: () => boolean; uncertain: boolean },
  ) {
    this.fence = saved?.fence ?? undefined;
    this.committedFence = this.fence;
    this.lastAckedId = saved?.lastAckedId ?? undefined;
    this.epoch = saved?.epoch ?? undefined;
    this.dedupe = new LaneDedupe(
      redis,
      keys.stream,
      dedupe.clockSkewMs,
      dedupe.logger,
      dedupe.isStopped,
      dedupe.uncertain,
    );
  }

  checkpoint(): LaneCheckpoint {
    return {
      fence: this.committedFence ?? null,
      lastAckedId: this.lastAckedId ?? null,
      epoch: this.epoch ?? null,
    };
  }

  /** The outbox cursor moved past everything this lane sent: the fence pairs with the new cursor. */
  commit(): void {
    this.committedFence = this.fence;
  }

  /** Nothing of ours lies after `id` (a first start, or a partition that lost its tail): both fences. */
  restart(id: string): void {
    this.fence = id;
    this.committedFence = id;
  }

  /**
   * Sends `lines` (all but those `skip` names) in one script and records the outcome; a failure leaves
   * the batch's outcome unknown (the next send deduplicates). Returns how many entered the stream.
   */
  async send(lines: readonly LaneLine[]): Promise<number> {
    if (lines.length === 0) return 0;
    const keys: string[] = [this.keys.stream];
    const dayKey = new Map<string, number>();
    const args: (string | number)[] = [EDGE_IDS_TTL_S];
    for (const { decisionId, at, line } of lines) {
      let k = 0;
      if (isEdgeDecisionId(decisionId)) {
        const day = at.slice(0, 10);
        k = dayKey.get(day) ?? 0;
        if (k === 0) {
          keys.push(this.keys.edgeIds(day));
          k = keys.length;
          dayKey.set(day, k);
        }
      }
      args.push(decisionId, line, k);
    }
    let reply: [string | null, number];
    try {
      reply = await (this.redis as unknown as ShipClient)[SHIP_COMMAND](keys.length, ...keys, ...args);
    } catch (err) {
      this.dedupe.sendFailed();
      throw err;
    }
    const [last, skipped] = reply;
    if (typeof last === "string") {
      this.fence = last;
      this.lastAckedId = last;
    }
    return lines.length - Number(skipped);
  }
}
