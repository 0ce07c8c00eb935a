/**
 * Retention of the outbox. Without it the outbox grows without bound. At most once per interval (after a
 * step, so never while a batch is in flight) the segments that lie wholly before the cursor of the last
 * *written* checkpoint and were last modified more than `retentionMs` ago are deleted (SegmentLog `prune`
 * with `modifiedBefore`). Before the checkpoint cursor means every record in them is acknowledged by
 * Redis and recorded as such on disk: a crash cannot bring back a checkpoint that points into them, and
 * nothing unshipped is ever deleted. A closed segment is never written again, so its mtime is at or after
 * its newest record's `at`; where the two differ (a copied data directory gets fresh mtimes) they differ
 * in the direction of keeping more. Only what the outbox still has can be re-shipped after a Redis data
 * loss, so the retention also bounds how far back such a loss can be repaired.
 */
import type { Logger } from "../../../kernel/logger.js";
import type { PruneResult, SegmentLog } from "../../file/segment-log.js";
import { instruments } from "./metrics.js";

export class OutboxRetention {
  private prunedAt: number | undefined;

  constructor(
    /** An outbox without `prune` is never pruned. */
    private readonly outbox: Partial<Pick<SegmentLog, "prune">>,
    private readonly retentionMs: number,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** Deletes shipped segments past the retention, at most once per interval. Never throws. */
  async maybePrune(savedCursor: string | undefined): Promise<void> {
    if (!this.outbox.prune || this.retentionMs === Number.POSITIVE_INFINITY || savedCursor === undefined)
      return;
    const now = performance.now();
    if (this.prunedAt !== undefined && now - this.prunedAt < this.intervalMs) return;
    this.prunedAt = now;
    let result: PruneResult;
    try {
      result = await this.outbox.prune(savedCursor, { modifiedBefore: Date.now() - this.retentionMs });
    } catch (err) {
      // Shipping does not depend on it: the outbox only grows until the next try.
      this.logger.warn("decision outbox: pruning shipped segments failed", {
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    if (result.segmentsRemoved > 0) {
      instruments.pruned.add(result.bytesRemoved);
      this.logger.info("decision outbox: pruned shipped segments past the retention", {
        ...result,
        retentionMs: this.retentionMs,
      });
    }
  }
}
