/**
 * Exactly once, per partition. A batch whose outcome is unknown (a timeout or a dropped connection after
 * sending, or a crash between the send and the checkpoint, so always the first batch after start) may
 * have landed, wholly, in part or later. Before the partition's next send its stream after the fence is
 * read (XRANGE, exclusive) and decisionIds already there are skipped. Stream ids only grow, so every entry
 * of ours not yet acknowledged lies after the fence: the window is exact. What landed is a prefix of what
 * was sent (one script per batch, run whole or not at all, on one connection), so the first batch with a
 * record not found ends the deduplication.
 *
 * When the whole outbox is shipped again (its checkpoint is gone or does not fit it), the window is
 * time-based instead: from the oldest record's `at` less the allowed clock skew, until the shipper
 * catches up. Repairs after a data loss (stream-shipper.ts) use the same scan with a window of their own.
 */

import type { Logger } from "../../../kernel/logger.js";
import type { RedisClient } from "../../../platform/node/redis.js";
import { field, type StreamEntry } from "../stream-ids.js";
import { instruments } from "./metrics.js";

const SCAN_CHUNK = 1000;

export class LaneDedupe {
  /** Something sent may have landed unseen: read the stream after the fence before the next send. */
  private uncertain: boolean;
  /** The whole outbox goes again: read the stream's time window before the next send. */
  private historyPending = false;
  private window: { seen: Set<string>; skipped: number; until: "first-miss" | "caught-up" } | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly stream: string,
    private readonly clockSkewMs: number,
    private readonly logger: Logger,
    private readonly isStopped: () => boolean,
    /** True when a previous run may have died between a send and its checkpoint. */
    uncertain: boolean,
  ) {
    this.uncertain = uncertain;
  }

  /** The whole outbox goes again: skip what the stream holds from its oldest record's time on. */
  reshipAll(): void {
    this.historyPending = true;
  }

  /** A send failed or timed out: its records may be in the stream. */
  sendFailed(): void {
    this.uncertain = true;
  }

  /** Forgets what it knew: the stream it guarded was lost (a repair re-ships with its own window). */
  reset(): void {
    this.uncertain = false;
    this.historyPending = false;
    this.window = undefined;
  }

  /**
   * The lines to send: all of them, unless in doubt, then those whose decisionId the stream after
   * `fence` lacks (or, on a whole re-ship, those it lacks from the oldest line's `at` less the clock
   * skew on). Outside a window it only hands the lines back: nothing is parsed or copied per page.
   */
  async fresh<T extends { decisionId: string; at: string }>(
    lines: readonly T[],
    fence: string | undefined,
  ): Promise<readonly T[]> {
    if (this.historyPending) {
      const from = Math.max(
        0,
        Math.min(Date.now(), ...lines.map((l) => timeOf(l.at) ?? Date.now())) - this.clockSkewMs,
      );
      const seen = await scanIds(this.redis, this.stream, `${from}-0`, this.isStopped);
      this.window = { seen, skipped: 0, until: "caught-up" };
      this.historyPending = false;
    }
    if (this.uncertain) {
      const seen = await scanIds(this.redis, this.stream, `(${fence ?? "0-0"}`, this.isStopped);
      if (this.window) for (const id of seen) this.window.seen.add(id);
      else this.window = { seen, skipped: 0, until: "first-miss" };
      this.uncertain = false;
    }
    const seen = this.window?.seen;
    return seen ? lines.filter((l) => !seen.has(l.decisionId)) : lines;
  }

  /** After a batch of `read` records of which `sent` went to the stream. */
  sent(read: number, sent: number): void {
    if (!this.window) return;
    this.window.skipped += read - sent;
    instruments.skipped.add(read - sent);
    if (this.window.until === "first-miss" && sent > 0) this.end();
  }

  /** The outbox is shipped to its end: nothing more to skip. */
  caughtUp(): void {
    this.end();
    this.historyPending = false;
  }

  private end(): void {
    if (this.window && this.window.skipped > 0) {
      this.logger.info("decision stream: skipped records the stream already holds", {
        stream: this.stream,
        skipped: this.window.skipped,
      });
    }
    this.window = undefined;
  }
}

/** decisionIds of stream entries from `start` (an XRANGE start: `id`, or `(id` for exclusive) on. */
export async function scanIds(
  redis: RedisClient,
  stream: string,
  start: string,
  isStopped: () => boolean,
): Promise<Set<string>> {
  const ids = new Set<string>();
  let from = start;
  while (!isStopped()) {
    const entries = (await redis.xrange(stream, from, "+", "COUNT", SCAN_CHUNK)) as StreamEntry[];
    for (const [, fields] of entries) {
      const id = field(fields, "id");
      if (id !== undefined) ids.add(id);
    }
    if (entries.length < SCAN_CHUNK) break;
    from = `(${(entries[entries.length - 1] as StreamEntry)[0]}`;
  }
  if (isStopped()) throw new Error("stopped while reading the stream");
  return ids;
}

/** A record's time in ms, or undefined when its `at` does not parse. */
export function timeOf(at: string): number | undefined {
  const t = Date.parse(at);
  return Number.isNaN(t) ? undefined : t;
}
