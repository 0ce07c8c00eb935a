/**
 * `RedisDecisionLog`: the decision log in Redis mode (I5). Writes go to the local outbox only, so a check
 * costs no Redis round trip and a record is kill -9 safe before its answer; the `StreamShipper` moves them
 * to the stream. Reads page through the stream itself, the copy the reporting pipeline consumes, so a
 * record shows here once shipped. The `StreamTrimmer` keeps the stream to what the report group still
 * needs.
 *
 * Records are spread over the decision partitions (keys.ts), plus the single stream of earlier versions.
 * A page merges them in stream-id order (ids are Redis times, so roughly the order of arrival), and its
 * cursor is one position per stream (`v2.<legacy>,<partition 0>,...`, each id `ms-seq` in base 36, empty
 * for the start, so 16 partitions fit in about 200 characters), exclusive: an entry
 * trimmed since still makes a valid cursor, and a reader that polls at the end keeps its place in every
 * stream (`next` is never null, as with SegmentLog), even where the shards' clocks differ. A cursor of
 * earlier versions (one stream id) is a position in the legacy stream.
 */

import type { DecisionRecord } from "../../engine/index.js";
import { InvalidCursorError, StoreUnavailableError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import { isUnavailable, type RedisClient } from "../../platform/node/redis.js";
import type { SegmentLog } from "../file/segment-log.js";
import type { DecisionLog } from "../interface.js";
import type { RedisKeys } from "./keys.js";
import { StreamShipper, type StreamShipperOptions } from "./shipper/stream-shipper.js";
import { compareStreamIds, field, parseStreamId } from "./stream-ids.js";
import { StreamTrimmer } from "./stream-trimmer.js";

/** The instance's local outbox: a `SegmentLog` in a directory of its own (`<dataDir>/outbox`). */
export type RedisDecisionOutbox = Pick<SegmentLog, "append" | "pageLines" | "pageRaw" | "stats" | "prune">;

export interface RedisDecisionLogParts {
  outbox: RedisDecisionOutbox;
  /** For reads (XRANGE) and trimming; not the shipper's client, whose pipeline may be stalled. */
  redis: RedisClient;
  keys: RedisKeys;
  /** Woken after each append, so a record does not wait for the next poll. */
  shipper?: StreamShipper;
  trimmer?: StreamTrimmer;
}

export interface RedisDecisionLogOptions {
  outbox: RedisDecisionOutbox;
  redis: RedisClient;
  /** The shipper's own client: `createRedis(url, { name: "shipper", overrides: SHIPPER_REDIS_OVERRIDES })`. */
  shipperRedis: RedisClient;
  keys: RedisKeys;
  dataDir: string;
  logger?: Logger;
  shipper?: Pick<
    StreamShipperOptions,
    | "batchSize"
    | "coalesceMs"
    | "intervalMs"
    | "maxBackoffMs"
    | "degradedAfterMs"
    | "clockSkewMs"
    | "retentionMs"
    | "pruneIntervalMs"
  >;
  /** Trim interval, ms (default 60 s); 0 runs no trimmer. */
  trimIntervalMs?: number;
}

export class RedisDecisionLog implements DecisionLog {
  readonly shipper: StreamShipper | undefined;
  readonly trimmer: StreamTrimmer | undefined;
  private readonly outbox: RedisDecisionOutbox;
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;

  constructor(parts: RedisDecisionLogParts) {
    this.outbox = parts.outbox;
    this.redis = parts.redis;
    this.keys = parts.keys;
    this.shipper = parts.shipper;
    this.trimmer = parts.trimmer;
  }

  /** Starts a shipper and (unless `trimIntervalMs` is 0) a trimmer around the outbox. */
  static async start(opts: RedisDecisionLogOptions): Promise<RedisDecisionLog> {
    const shipper = await StreamShipper.start({
      ...opts.shipper,
      outbox: opts.outbox,
      redis: opts.shipperRedis,
      keys: opts.keys,
      dataDir: opts.dataDir,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    const trimIntervalMs = opts.trimIntervalMs ?? 60_000;
    const trimmer =
      trimIntervalMs > 0
        ? StreamTrimmer.start({
            redis: opts.redis,
            keys: opts.keys,
            intervalMs: trimIntervalMs,
            ...(opts.logger ? { logger: opts.logger } : {}),
          })
        : undefined;
    return new RedisDecisionLog({
      outbox: opts.outbox,
      redis: opts.redis,
      keys: opts.keys,
      shipper,
      trimmer,
    });
  }

  /** The outbox's group commit, nothing else: resolves without a Redis round trip (see the header). */
  append(records: readonly DecisionRecord[]): Promise<void> {
    return this.shipper === undefined
      ? this.outbox.append(records)
      : this.outbox.append(records).then(this.wake);
  }

  /** After an append: the shipper ships soon rather than at its next poll. */
  private readonly wake = (): void => this.shipper?.notify();

  async page(opts: { after?: string; limit: number }): Promise<{ records: DecisionRecord[]; next: string }> {
    const { after, limit } = opts;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const streams = [this.keys.legacy, ...this.keys.partitions].map((p) => p.stream);
    const positions = after === undefined ? streams.map(() => "0-0") : parseCursor(after, streams.length);
    let pages: [string, string[]][][];
    try {
      pages = await Promise.all(
        streams.map(
          (stream, i) =>
            this.redis.xrange(stream, `(${positions[i]}`, "+", "COUNT", limit) as Promise<
              [string, string[]][]
            >,
        ),
      );
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError("Redis is unavailable", { cause: err });
      throw err;
    }
    const merged = pages
      .flatMap((entries, stream) => entries.map(([id, fields]) => ({ stream, id, fields })))
      .sort((a, b) => compareStreamIds(a.id, b.id) || a.stream - b.stream)
      .slice(0, limit);
    const records = merged.map(({ id, fields }) => {
      const json = field(fields, "r");
      try {
        if (json === undefined) throw new Error("no field r");
        return JSON.parse(json) as DecisionRecord;
      } catch {
        // Never skipped silently: a report that quietly missed records would undercount.
        throw new StoreUnavailableError(`decision stream entry ${id} holds no readable record`);
      }
    });
    for (const { stream, id } of merged) positions[stream] = id;
    return { records, next: `v2.${positions.map(encodeId).join(",")}` };
  }

  /** Stops the shipper (after a short flush) and the trimmer; the outbox and clients stay the caller's. */
  async close(): Promise<void> {
    await Promise.all([this.shipper?.stop(), this.trimmer?.stop()]);
  }
}

/** One position per stream (legacy first), from a cursor of this log; InvalidCursorError otherwise. */
function parseCursor(cursor: string, streams: number): string[] {
  // Earlier versions: one id of the single (now legacy) stream.
  if (parseStreamId(cursor) !== undefined)
    return [cursor, ...Array.from({ length: streams - 1 }, () => "0-0")];
  const ids = cursor.startsWith("v2.") ? cursor.slice(3).split(",").map(decodeId) : [];
  if (ids.length !== streams || ids.some((id) => id === undefined)) {
    throw new InvalidCursorError("not a cursor of this decision log");
  }
  return ids as string[];
}

/** A stream id in a cursor: `ms-seq` in base 36, "" for `0-0`. */
function encodeId(id: string): string {
  const [ms, seq] = parseStreamId(id) ?? [0n, 0n];
  return ms === 0n && seq === 0n ? "" : `${ms.toString(36)}-${seq.toString(36)}`;
}

function decodeId(text: string): string | undefined {
  if (text === "") return "0-0";
  const match = /^([0-9a-z]{1,13})-([0-9a-z]{1,13})$/.exec(text);
  if (!match) return undefined;
  const id = `${parseBase36(match[1] as string)}-${parseBase36(match[2] as string)}`;
  return parseStreamId(id) === undefined ? undefined : id;
}

function parseBase36(text: string): bigint {
  let value = 0n;
  for (const ch of text) value = value * 36n + BigInt(Number.parseInt(ch, 36));
  return value;
}
