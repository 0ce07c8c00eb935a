/**
 * `RedisEnforcementEvents`: enforcement events on Redis, one stream every instance serves, so a
 * subscriber can move to any instance with its `Last-Event-ID`. A publish is one script that checks the
 * compare-and-set token (`rev`), the ruleset epoch Redis holds and the staleness rule of
 * store/enforcement-events.ts, then XADDs the events and writes the state: two instances reconciling the
 * same change publish it once, and an instance with an older ruleset publishes nothing. All keys share
 * the low-volume hash tag (keys.ts), so the script runs on one slot of a Redis Cluster.
 *
 * Following: one reader per instance (a connection of its own, XREAD BLOCK) wakes the subscribers of
 * this instance, which read what is new with XRANGE after their own cursors.
 */
import type { ScopeKey } from "../../engine/index.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import { isUnavailable, type RedisClient } from "../../platform/node/redis.js";
import {
  type EnforcementEvent,
  type EnforcementEventStore,
  type EventPage,
  KEPT_CHANGES,
  type OrderEvents,
  type PublishBatch,
  type PublishedEnforcement,
  type PublishedRevision,
  type PublishedSince,
  type PublishResult,
} from "../enforcement-events.js";
import type { EnforcementKeys } from "./keys.js";
import { compareStreamIds, parseStreamId, type StreamEntry } from "./stream-ids.js";

// KEYS: meta, state, stream, ruleset epoch, trimmed, changes. ARGV: rev, epoch ('' for none), version,
// at, trim floor ('' for none), number of state changes, then (orderId, scope or '' to delete) per change,
// then (type, event JSON) per event. The staleness rule is `staleness` in store/enforcement-events.ts.
// Entry ids take the publishing instance's clock (`<at>-<seq>`, never below the last id), not Redis's:
// the retention trims by the same clock that dates the events.
// The changes entry (keys.ts) is written by the same script, so a reader of `changesSince` sees a
// revision with exactly the publishes that made it; it is capped here by KEPT_CHANGES (`kept` in the
// meta hash counts the order ids it holds).
const PUBLISH = `
local m = redis.call('HMGET', KEYS[1], 'rev', 'epoch', 'version', 'at', 'kept')
local rev = tonumber(m[1] or '0')
if rev ~= tonumber(ARGV[1]) then return {'conflict'} end
local held = redis.call('GET', KEYS[4])
if held and held ~= ARGV[2] then
  return {'stale', 'ruleset epoch ' .. ARGV[2] .. ' is not the one Redis holds'}
end
if (m[2] or '') == ARGV[2] then
  local version = tonumber(m[3] or '-1')
  local at = tonumber(m[4] or '0')
  if tonumber(ARGV[3]) < version then
    return {'stale', 'ruleset v' .. ARGV[3] .. ' is older than the published v' .. version}
  end
  if tonumber(ARGV[4]) < at then
    return {'stale', 'this clock is behind the last publish', string.format('%d', at + 1)}
  end
end
local ids = {}
local i = 7
for _ = 1, tonumber(ARGV[6]) do
  ids[#ids + 1] = ARGV[i]
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
  i = i + 2
end
local reply = {'published'}
local ms = tonumber(ARGV[4])
local last = redis.call('HGET', KEYS[1], 'last')
if last then
  local lastMs = tonumber(string.match(last, '^(%d+)'))
  if lastMs > ms then ms = lastMs end
end
while i <= #ARGV do
  last = redis.call('XADD', KEYS[3], string.format('%d-*', ms), 'type', ARGV[i], 'e', ARGV[i + 1])
  reply[#reply + 1] = last
  i = i + 2
end
local kept = tonumber(m[5] or '0')
local newest = redis.call('XREVRANGE', KEYS[6], '+', '-', 'COUNT', 1)[1]
-- Entries of another history (the meta hash emptied, the stream not): they can never be followed.
if newest and tonumber(string.match(newest[1], '^(%d+)')) > rev then
  redis.call('DEL', KEYS[6])
  kept = 0
end
if #ids > ${KEPT_CHANGES.orders} then
  redis.call('DEL', KEYS[6])
  kept = 0
else
  redis.call('XADD', KEYS[6], string.format('%d-0', rev + 1), 'epoch', m[2] or '', 'version', m[3] or '-1',
    'at', m[4] or '0', 'n', #ids, 'ids', #ids > 0 and cjson.encode(ids) or '[]')
  kept = kept + #ids
  local len = redis.call('XLEN', KEYS[6])
  local dropped = 0
  local from = '-'
  while len > ${KEPT_CHANGES.publishes} or kept > ${KEPT_CHANGES.orders} do
    local oldest = redis.call('XRANGE', KEYS[6], from, '+', 'COUNT', 1)[1]
    if not oldest then kept = 0 break end
    kept = kept - tonumber(oldest[2][8])
    len = len - 1
    dropped = dropped + 1
    from = '(' .. oldest[1]
  end
  if dropped > 0 then redis.call('XTRIM', KEYS[6], 'MAXLEN', len) end
end
redis.call('HSET', KEYS[1], 'rev', string.format('%d', rev + 1), 'epoch', ARGV[2], 'version', ARGV[3], 'at', ARGV[4],
  'kept', string.format('%d', kept))
if last then redis.call('HSET', KEYS[1], 'last', last) end
if ARGV[5] ~= '' then
  local dropped = redis.call('XREVRANGE', KEYS[3], '(' .. ARGV[5], '-', 'COUNT', 1)
  if #dropped > 0 then
    redis.call('SET', KEYS[5], dropped[1][1])
    redis.call('XTRIM', KEYS[3], 'MINID', ARGV[5])
  end
end
return reply
`;

// KEYS: meta, state, changes. ARGV: the reader's revision (rev, epoch or '', version, at). One read of
// the revision and the orders the publishes after the reader's named, with their scopes now ('' for
// none); 'unknown' when one of those publishes is no longer kept, or the reader's revision is not the
// one the first of them was published over (another history).
const READ_SINCE = `
local m = redis.call('HMGET', KEYS[1], 'rev', 'epoch', 'version', 'at')
local rev = tonumber(m[1] or '0')
local reply = {'since', m[1] or '0', m[2] or '', m[3] or '-1', m[4] or '0'}
local since = tonumber(ARGV[1])
local function same(epoch, version, at)
  return epoch == ARGV[2] and tonumber(version) == tonumber(ARGV[3]) and tonumber(at) == tonumber(ARGV[4])
end
if rev == since and same(reply[3], reply[4], reply[5]) then return reply end
if rev <= since then return {'unknown'} end
local entries = redis.call('XRANGE', KEYS[3], string.format('%d-0', since + 1), '+')
local first = entries[1]
if #entries ~= rev - since or first[1] ~= string.format('%d-0', since + 1)
  or entries[#entries][1] ~= string.format('%d-0', rev) or not same(first[2][2], first[2][4], first[2][6]) then
  return {'unknown'}
end
local seen = {}
for _, entry in ipairs(entries) do
  for _, id in ipairs(cjson.decode(entry[2][10])) do
    if not seen[id] then
      seen[id] = true
      reply[#reply + 1] = id
      reply[#reply + 1] = redis.call('HGET', KEYS[2], id) or ''
    end
  end
end
return reply
`;

const READ_STATE = `return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}`;

/** The meta hash's fields (HGETALL's flat list) as a revision. */
function revisionOf(meta: string[]): PublishedRevision {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < meta.length; i += 2) m.set(meta[i] as string, meta[i + 1] as string);
  return {
    rev: Number(m.get("rev") ?? 0),
    epoch: m.get("epoch") || null,
    version: Number(m.get("version") ?? -1),
    at: Number(m.get("at") ?? 0),
  };
}

/** Entries per XREVRANGE while looking for one order's events. */
const SCAN_PAGE = 500;

/** How long one XREAD of the shared reader blocks; its client's command timeout must exceed it. */
export const FOLLOW_BLOCK_MS = 5000;

export interface RedisEnforcementEventsOptions {
  /** Commands (the instance's shared client). */
  redis: RedisClient;
  /** A connection of its own for the blocking XREAD (commandTimeout above FOLLOW_BLOCK_MS). */
  reader: RedisClient;
  keys: EnforcementKeys;
  /** The ruleset epoch key (keys.rulesetEpoch): a publish must come from the epoch Redis holds. */
  rulesetEpochKey: string;
  retentionMs: number;
  logger?: Logger;
}

export class RedisEnforcementEvents implements EnforcementEventStore {
  private readonly listeners = new Set<(closing?: boolean) => void>();
  private following: Promise<void> | undefined;
  private stopped = false;
  private readonly logger: Logger;

  constructor(private readonly opts: RedisEnforcementEventsOptions) {
    this.logger = opts.logger ?? SILENT_LOGGER;
  }

  get retentionMs(): number {
    return this.opts.retentionMs;
  }

  async published(): Promise<PublishedEnforcement> {
    const { keys } = this.opts;
    const [meta, state] = (await this.call("read state", () =>
      this.opts.redis.eval(READ_STATE, 2, keys.meta, keys.state),
    )) as [string[], string[]];
    const orders = new Map<string, ScopeKey>();
    for (let i = 0; i + 1 < state.length; i += 2) orders.set(state[i] as string, state[i + 1] as string);
    return { ...revisionOf(meta), orders };
  }

  async changesSince(since: PublishedRevision): Promise<PublishedSince | undefined> {
    const { keys } = this.opts;
    const reply = (await this.call("read changes", () =>
      this.opts.redis.eval(
        READ_SINCE,
        3,
        keys.meta,
        keys.state,
        keys.changes,
        String(since.rev),
        since.epoch ?? "",
        String(since.version),
        String(since.at),
      ),
    )) as string[];
    if (reply[0] !== "since") return undefined;
    const [, rev, epoch, version, at] = reply;
    const orders = new Map<string, ScopeKey | null>();
    for (let i = 5; i + 1 < reply.length; i += 2) orders.set(reply[i] as string, reply[i + 1] || null);
    return {
      revision: revisionOf(["rev", rev, "epoch", epoch, "version", version, "at", at] as string[]),
      orders,
    };
  }

  async publish(batch: PublishBatch): Promise<PublishResult> {
    const { keys, retentionMs } = this.opts;
    const args: string[] = [
      String(batch.rev),
      batch.epoch ?? "",
      String(batch.version),
      String(batch.at),
      batch.events.length > 0 ? `${Math.max(0, batch.at - retentionMs)}-0` : "",
      String(batch.changes.length),
      ...batch.changes.flatMap((c) => [c.orderId, c.after ?? ""]),
      ...batch.events.flatMap(({ type, ...rest }) => [type, JSON.stringify({ type, ...rest })]),
    ];
    const reply = (await this.call("publish", () =>
      this.opts.redis.eval(
        PUBLISH,
        6,
        keys.meta,
        keys.state,
        keys.stream,
        this.opts.rulesetEpochKey,
        keys.trimmed,
        keys.changes,
        ...args,
      ),
    )) as string[];
    const [kind, ...rest] = reply;
    if (kind === "conflict") return { kind: "conflict" };
    if (kind === "stale") {
      const [reason, retryAt] = rest;
      return { kind: "stale", reason: reason ?? "stale", ...(retryAt ? { retryAt: Number(retryAt) } : {}) };
    }
    // This instance's own subscribers need not wait for the reader's round trip.
    if (rest.length > 0) this.notify();
    return { kind: "published", ids: rest };
  }

  isCursor(raw: string): boolean {
    return raw === "0" || parseStreamId(raw) !== undefined;
  }

  compare(a: string, b: string): number {
    return compareStreamIds(a === "0" ? "0-0" : a, b === "0" ? "0-0" : b);
  }

  async latest(): Promise<string> {
    const last = (await this.call("latest", () =>
      this.opts.redis.xrevrange(this.opts.keys.stream, "+", "-", "COUNT", 1),
    )) as StreamEntry[];
    return last[0]?.[0] ?? "0";
  }

  async read(cursor: string, limit: number): Promise<EventPage> {
    const { redis, keys } = this.opts;
    const after = cursor === "0" ? "0-0" : cursor;
    // The trim point first: it only moves forward, so entries read after it cannot hide a later trim.
    const trimmed = await this.call("read", () => redis.get(keys.trimmed));
    const entries = (await this.call("read", () =>
      redis.xrange(keys.stream, `(${after}`, "+", "COUNT", limit),
    )) as StreamEntry[];
    const events = entries.flatMap(eventOf);
    return { events, lost: trimmed !== null && compareStreamIds(after, trimmed) < 0 };
  }

  async eventsFor(orderId: string, limit: number): Promise<OrderEvents> {
    const { redis, keys } = this.opts;
    const trimmed = await this.call("events of an order", () => redis.get(keys.trimmed));
    const found: EnforcementEvent[] = [];
    let end = "+";
    while (found.length <= limit) {
      const entries = (await this.call("events of an order", () =>
        redis.xrevrange(keys.stream, end, "-", "COUNT", SCAN_PAGE),
      )) as StreamEntry[];
      for (const event of entries.flatMap(eventOf)) if (event.orderId === orderId) found.push(event);
      const oldest = entries.at(-1)?.[0];
      if (oldest === undefined || entries.length < SCAN_PAGE) break;
      end = `(${oldest}`;
    }
    return { events: found.slice(0, limit), more: found.length > limit, trimmed: trimmed !== null };
  }

  listen(listener: (closing?: boolean) => void): () => void {
    this.listeners.add(listener);
    this.ensureFollowing();
    return () => this.listeners.delete(listener);
  }

  private ensureFollowing(): void {
    if (this.following || this.stopped) return;
    this.following = this.follow().finally(() => {
      this.following = undefined;
      // A subscriber that came while the loop was ending must not be left without a reader.
      if (this.listeners.size > 0) this.ensureFollowing();
    });
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const listener of [...this.listeners]) listener(true);
    this.listeners.clear();
    // The reader's XREAD ends by its block timeout or when the caller disconnects the reader.
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** The shared reader: one blocking XREAD at a time while this instance has subscribers. */
  private async follow(): Promise<void> {
    let last: string | undefined;
    while (!this.stopped && this.listeners.size > 0) {
      try {
        if (last === undefined) {
          last = await this.latest();
          // What landed before this point and after a subscriber's own read would wake no one: one
          // wake now makes every subscriber read again (a read that finds nothing costs one XRANGE).
          this.notify();
        }
        const reply = (await this.opts.reader.xread(
          "COUNT",
          1000,
          "BLOCK",
          FOLLOW_BLOCK_MS,
          "STREAMS",
          this.opts.keys.stream,
          last === "0" ? "0-0" : last,
        )) as [string, StreamEntry[]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        const newest = entries.at(-1)?.[0];
        if (newest !== undefined) {
          last = newest;
          this.notify();
        }
      } catch (err) {
        if (this.stopped) return;
        this.logger.warn("enforcement events: the follower's read failed; retrying", {
          error: (err as Error).message,
        });
        // Subscribers poll on their heartbeat meanwhile, so nothing waits longer than that.
        last = undefined;
        this.notify();
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (isUnavailable(err)) {
        throw new StoreUnavailableError(`redis enforcement events: ${what}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }
}

function eventOf([id, fields]: StreamEntry): EnforcementEvent[] {
  const json = fields[fields.indexOf("e") + 1];
  if (json === undefined) return [];
  const event = JSON.parse(json) as Omit<EnforcementEvent, "id">;
  return [{ id, ...event }];
}
