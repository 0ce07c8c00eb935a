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
import type { PartitionKeys } from "../keys.js";
import type { LaneCheckpoint } from "./checkpoint.js";
import { LaneDedupe } from "./dedupe.js";
import { ID_PREFIX, type OutboxLine } from "./lines.js";

/** Edge-id sets outlive ingest's 14-day window (`keys.ts` edgeIds). */
const EDGE_IDS_TTL_S = 16 * 24 * 3600;

/**
 * KEYS: the streams of the batch's lanes, one per lane; then the edge-id sets of the days in the batch.
 * ARGV: 1 the edge-id TTL (s); then three per lane, in the order of KEYS: the records' JSON lines as the
 *       outbox holds them, each ended by a newline; their decisionIds: "" when every line starts with its
 *       own (`{"decisionId":"<id>"`, lines.ts), else per record an empty entry for such a line or "=" and
 *       the id, each ended by a newline; "" when every record is this service's, else per record the KEYS
 *       index of its edge-id set (0 for one of this service), each ended by a comma.
 * Reply: per lane {last id added or false, records skipped as edge duplicates}.
 *
 * A lane's records travel as three arguments rather than three per record: the client copies one buffer
 * (the outbox's bytes, never made into strings) instead of encoding a string per record. All lanes of a
 * page on one server go in one script (see `ship`): the per-command cost (the command, its write, its
 * reply) is paid once a page instead of once a lane.
 */
const SHIP = `
local touched = {}
local out = {}
for li = 1, (#ARGV - 1) / 3 do
  local lines, ids, edges = ARGV[3 * li - 1], ARGV[3 * li], ARGV[3 * li + 1]
  local last = false
  local skipped = 0
  local at, idAt, edgeAt = 1, 1, 1
  while at <= #lines do
    local lineEnd = string.find(lines, '\\n', at, true)
    local id
    if #ids > 0 then
      local idEnd = string.find(ids, '\\n', idAt, true)
      if idEnd > idAt then id = string.sub(ids, idAt + 1, idEnd - 1) end
      idAt = idEnd + 1
    end
    if id == nil then
      local idStart = at + ${ID_PREFIX.length}
      id = string.sub(lines, idStart, string.find(lines, '"', idStart, true) - 1)
    end
    local add = true
    if #edges > 0 then
      local edgeEnd = string.find(edges, ',', edgeAt, true)
      local k = tonumber(string.sub(edges, edgeAt, edgeEnd - 1))
      edgeAt = edgeEnd + 1
      if k > 0 then
        add = redis.call('SADD', KEYS[k], id) == 1
        touched[k] = true
      end
    end
    if add then
      last = redis.call('XADD', KEYS[li], '*', 'id', id, 'r', string.sub(lines, at, lineEnd - 1))
    else
      skipped = skipped + 1
    end
    at = lineEnd + 1
  end
  out[li] = {last, skipped}
end
for k in pairs(touched) do redis.call('EXPIRE', KEYS[k], ARGV[1]) end
return out
`;

const SHIP_COMMAND = "cordonShipDecisions";

type ShipClient = RedisClient & {
  [SHIP_COMMAND](
    numKeys: number,
    ...keysAndArgs: (string | number | Buffer)[]
  ): Promise<[string | null, number][]>;
};

/** Makes the client able to run the ship script (EVALSHA, loaded on first use on each node). */
export function defineShip(redis: RedisClient): void {
  if (typeof (redis as unknown as Partial<ShipClient>)[SHIP_COMMAND] !== "function") {
    redis.defineCommand(SHIP_COMMAND, { lua: SHIP });
  }
}

const NEWLINE = 0x0a;

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
   * Sends `lines` in one script and records the outcome; a failure leaves the batch's outcome unknown
   * (the next send deduplicates). Returns how many entered the stream.
   */
  async send(lines: readonly OutboxLine[]): Promise<number> {
    return (await ship(this.redis, [{ lane: this, lines }]))[0] as number;
  }

  /** The script's reply for this lane's part of a batch. */
  acknowledged(last: string | null): void {
    if (typeof last === "string") {
      this.fence = last;
      this.lastAckedId = last;
    }
  }
}

/** A lane's part of a batch. */
export interface LanePart {
  lane: Lane;
  lines: readonly OutboxLine[];
}

/**
 * Sends the parts (lanes whose streams live on one server) in one script, run whole or not at all, and
 * records the outcome in each lane; a failure leaves every part's outcome unknown (each lane deduplicates
 * its next send). Returns how many of each part's records entered its stream.
 */
export async function ship(redis: RedisClient, parts: readonly LanePart[]): Promise<number[]> {
  const sending = parts.filter((p) => p.lines.length > 0);
  if (sending.length === 0) return parts.map(() => 0);
  const keys: string[] = sending.map((p) => p.lane.keys.stream);
  const args: (string | Buffer)[] = [];
  for (const { lane, lines } of sending) {
    let dayKey: Map<string, number> | undefined;
    let edges: number[] | undefined;
    let parsed = false;
    let bytes = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as OutboxLine;
      bytes += line.end - line.start + 1;
      if (line.idEnd === 0) parsed = true;
      // Edge records are rare: the index per record is made only for a lane's part that holds one.
      if (!line.edge) continue;
      const day = line.at.slice(0, 10);
      dayKey ??= new Map();
      let k = dayKey.get(day) ?? 0;
      if (k === 0) {
        keys.push(lane.keys.edgeIds(day));
        k = keys.length;
        dayKey.set(day, k);
      }
      edges ??= new Array<number>(lines.length).fill(0);
      edges[i] = k;
    }
    const joined = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const { buf, start, end } of lines) {
      at += buf.copy(joined, at, start, end);
      joined[at++] = NEWLINE;
    }
    // The script reads an id off its line (after ID_PREFIX, to the next quote) unless it is given here.
    const ids = parsed ? lines.map((l) => (l.idEnd > 0 ? "\n" : `=${l.decisionId}\n`)).join("") : "";
    args.push(joined, ids, edges === undefined ? "" : `${edges.join(",")},`);
  }
  let reply: [string | null, number][];
  try {
    reply = await (redis as unknown as ShipClient)[SHIP_COMMAND](
      keys.length,
      ...keys,
      EDGE_IDS_TTL_S,
      ...args,
    );
  } catch (err) {
    for (const { lane } of sending) lane.dedupe.sendFailed();
    throw err;
  }
  let i = 0;
  return parts.map(({ lane, lines }) => {
    if (lines.length === 0) return 0;
    const [last, skipped] = reply[i++] as [string | null, number];
    lane.acknowledged(last);
    return lines.length - Number(skipped);
  });
}
