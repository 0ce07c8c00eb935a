/**
 * `QueueDecisionLog`: the edge's decision sink. It only appends: each decision record becomes one message on
 * the `DECISIONS` Queue, and the Queue consumer (`decision-consumer.ts`) delivers it to Node's decision
 * log. I5 at the edge: the check route awaits `append` before it answers, and `sendBatch` resolves only
 * once the Queue has accepted (persisted) the messages, so a record that cannot be queued turns into a
 * 503 (StoreUnavailableError), never into an answer without a record.
 * Lifetime: one per isolate, like the Queue binding.
 */
import type { Queue } from "@cloudflare/workers-types";
import type { DecisionRecord } from "../../engine/index.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { DecisionSink } from "../../store/interface.js";

/** Queues take at most 100 messages (and 256 KB) per `sendBatch`; a record is well under 1 KB. */
export const MAX_MESSAGES_PER_SEND = 100;

export class QueueDecisionLog implements DecisionSink {
  constructor(private readonly queue: Pick<Queue<DecisionRecord>, "sendBatch">) {}

  async append(records: readonly DecisionRecord[]): Promise<void> {
    if (records.length === 0) return;
    const sends: Promise<unknown>[] = [];
    for (let at = 0; at < records.length; at += MAX_MESSAGES_PER_SEND) {
      const chunk = records.slice(at, at + MAX_MESSAGES_PER_SEND);
      sends.push(this.queue.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const }))));
    }
    // All chunks are awaited, even after one fails, so none is still in flight when the 503 goes out.
    // Chunks that were accepted stay queued: records of a batch that was not answered are harmless
    // (each is one decision that was made), whereas an answer without its record is what I5 forbids.
    const results = await Promise.allSettled(sends);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
      throw new StoreUnavailableError(`decision queue refused the records: ${reason}`, {
        cause: failed.reason,
      });
    }
  }
}
