/**
 * Exactly once. A batch whose outcome is unknown (a timeout or a dropped connection after sending, or a
 * crash between XADD and the checkpoint, so always the first batch after start) may have landed, wholly,
 * in part or later. Before the next send the stream after the fence is read (XRANGE, exclusive) and
 * decisionIds already there are skipped. Stream ids only grow, so every entry of ours not yet acknowledged
 * lies after the fence: the window is exact. What landed is a prefix of what was sent (one connection,
 * one ordered pipeline), so the first batch with a record not found ends the deduplication.
 *
 * When the whole outbox is shipped again (a data loss, a checkpoint that does not fit), the window is
 * time-based instead: from the oldest record's `at` less `clockSkewMs`, until the shipper catches up.
 */
import type { DecisionRecord } from "../../../engine/index.js";
import type { Logger } from "../../../kernel/logger.js";
import type { RedisClient } from "../../../platform/node/redis.js";
import { field, type StreamEntry } from "../stream-ids.js";
import { instruments } from "./metrics.js";

const SCAN_CHUNK = 1000;

export interface DeduplicatorOptions {
  redis: RedisClient;
  stream: string;
  /** Allowed difference between this host's clock and Redis's, for the time window. */
  clockSkewMs: number;
  logger: Logger;
  /** A scan stops (throwing) once the shipper stops. */
  isStopped: () => boolean;
}

/** Which stream entries to skip, and until when. */
interface Window {
  seen: Set<string>;
  /** Records skipped so far, logged once when the deduplication ends. */
  skipped: number;
  /** "first-miss": after a lost ack, what landed is a prefix. "caught-up": a re-ship of the whole outbox. */
  until: "first-miss" | "caught-up";
}

export class Deduplicator {
  /** Something sent may have landed unseen: read the stream after the fence before the next send. */
  private uncertain: boolean;
  /** The whole outbox is to be shipped again: read the stream's time window before the next send. */
  private historyPending = false;
  private window: Window | undefined;

  constructor(
    private readonly opts: DeduplicatorOptions,
    /** True when a previous run may have died between an XADD and its checkpoint. */
    uncertain: boolean,
  ) {
    this.uncertain = uncertain;
  }

  /** A send failed or timed out: its records may be in the stream. */
  sendFailed(): void {
    this.uncertain = true;
  }

  /** The whole outbox goes again: skip what the stream holds from its oldest record's time on. */
  reshipAll(): void {
    this.historyPending = true;
  }

  /** After a data loss: nothing sent before can be in the stream unseen any more; re-ship everything. */
  startOver(): void {
    this.uncertain = false;
    this.window = undefined;
    this.historyPending = true;
  }

  /** Reads what the stream holds of `records` where in doubt, and returns those to send. */
  async fresh(
    records: readonly DecisionRecord[],
    fence: string | undefined,
  ): Promise<readonly DecisionRecord[]> {
    if (this.historyPending) {
      const from = Math.max(
        0,
        Math.min(Date.now(), ...records.map((r) => timeOf(r) ?? 0)) - this.opts.clockSkewMs,
      );
      this.window = { seen: await this.scanIds(`${from}-0`), skipped: 0, until: "caught-up" };
      this.historyPending = false;
    }
    if (this.uncertain) {
      const seen = await this.scanIds(`(${fence ?? "0-0"}`);
      if (this.window) for (const id of seen) this.window.seen.add(id);
      else this.window = { seen, skipped: 0, until: "first-miss" };
      this.uncertain = false;
    }
    const seen = this.window?.seen;
    return seen ? records.filter((r) => !seen.has(r.decisionId)) : records;
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
      this.opts.logger.info("decision stream: skipped records the stream already holds", {
        skipped: this.window.skipped,
      });
    }
    this.window = undefined;
  }

  /** decisionIds of stream entries from `start` (an XRANGE start: `id`, or `(id` for exclusive) on. */
  private async scanIds(start: string): Promise<Set<string>> {
    const { redis, stream, isStopped } = this.opts;
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
}

/** A record's time in ms, or undefined when its `at` does not parse. */
export function timeOf(record: DecisionRecord): number | undefined {
  const t = Date.parse(record.at);
  return Number.isNaN(t) ? undefined : t;
}
