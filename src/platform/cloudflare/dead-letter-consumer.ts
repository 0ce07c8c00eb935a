/**
 * The dead-letter queue's consumer: batches land there when Node's ingest did not take them through the
 * main queue's retries. It never acks a message whose records did not reach ingest: it retries with
 * exponential backoff (capped), and once a message has been retried for long (`PARK_AFTER_ATTEMPTS`
 * deliveries, or its oldest record is `PARK_AFTER_AGE_MS` old), before the Queue's retention or
 * `max_retries` could drop it, it parks the records in KV (`parked-decisions.ts`) and only then acks.
 * Each batch with undelivered records writes one error line carrying `cordon.edge.dlq_backlog`, the
 * field operators alert on, and every batch writes one data point to the `EDGE_METRICS` Analytics Engine
 * dataset when it is bound (`DLQ_METRIC`: index the queue; doubles undelivered messages, undelivered
 * records, parked messages, highest attempt count of an undelivered message), so a dashboard or an alert can follow the backlog
 * down to zero as well as up.
 */
import type { AnalyticsEngineDataset, MessageBatch } from "@cloudflare/workers-types";
import type { Logger } from "../../kernel/logger.js";
import { type DeliveryOptions, type DeliveryUnit, deliverRecords, logRefusals } from "./decision-consumer.js";
import { oldestAt, readDecisionMessage } from "./decision-messages.js";
import { type ParkingArea, park, parkUnreadable } from "./parked-decisions.js";

/** A queue whose name ends so is a dead-letter queue (wrangler.toml names them `<queue>-dlq`). */
export const DEAD_LETTER_SUFFIX = "-dlq";
export const isDeadLetterQueue = (queue: string): boolean => queue.endsWith(DEAD_LETTER_SUFFIX);

/** Retry delays: 30 s, doubling per delivery, at most 15 minutes. */
export const BACKOFF_BASE_S = 30;
export const BACKOFF_CAP_S = 15 * 60;
/**
 * Park after this many deliveries: about 13 hours of retries at the cap, well inside the dead-letter
 * queue's `max_retries` (100 in wrangler.toml; past it the Queue deletes a message).
 */
export const PARK_AFTER_ATTEMPTS = 56;
/** Park a message whose oldest record is this old: well inside a queue's default 4-day retention. */
export const PARK_AFTER_AGE_MS = 2 * 24 * 3600 * 1000;

export function backoffSeconds(attempts: number): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 16));
  return Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** exponent);
}

export interface DeadLetterOptions {
  delivery: DeliveryOptions;
  parking: ParkingArea;
  now: () => number;
  /** The Analytics Engine dataset (`EDGE_METRICS`), when bound. */
  metrics?: Pick<AnalyticsEngineDataset, "writeDataPoint"> | undefined;
}

/** The data point's first blob: what it measures. */
export const DLQ_METRIC = "cordon.edge.dlq_backlog";

type Message = MessageBatch<unknown>["messages"][number];

export async function drainDeadLetters(
  batch: Pick<MessageBatch<unknown>, "messages" | "queue"> & Partial<Pick<MessageBatch<unknown>, "metadata">>,
  options: DeadLetterOptions,
): Promise<void> {
  const { logger } = options.delivery;
  const stats = { undeliveredMessages: 0, undeliveredRecords: 0, parked: 0, maxAttempts: 0, oldest: "" };

  /** Parks and acks, or, when KV refuses the write, retries (the message stays in the Queue). */
  const parkOrRetry = async (message: Message, write: () => Promise<unknown>) => {
    try {
      await write();
      stats.parked++;
      message.ack();
    } catch (err) {
      logger.error("could not park dead-lettered decision records; retrying the message", {
        queue: batch.queue,
        messageId: message.id,
        error: err instanceof Error ? err.message : String(err),
      });
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  };

  const readable: { message: Message; unit: DeliveryUnit }[] = [];
  for (const message of batch.messages) {
    const records = readDecisionMessage(message.body);
    if (records === null) {
      logger.error("dead-lettered message is not a decision record; parking it under unreadable/", {
        queue: batch.queue,
        messageId: message.id,
        attempts: message.attempts,
      });
      stats.undeliveredMessages++;
      await parkOrRetry(message, () => parkUnreadable(options.parking, message, batch.queue));
      continue;
    }
    readable.push({ message, unit: { id: message.id, records, attempts: message.attempts } });
  }

  const outcomes =
    readable.length === 0
      ? []
      : await deliverRecords(
          readable.map((r) => r.unit),
          options.delivery,
        );
  for (const [index, { message, unit }] of readable.entries()) {
    const outcome = outcomes[index];
    if (outcome?.kind === "delivered") {
      logRefusals(outcome, { queue: batch.queue, messageId: message.id }, logger);
      message.ack();
      continue;
    }
    const oldest = oldestAt(unit.records);
    stats.undeliveredMessages++;
    stats.undeliveredRecords += unit.records.length;
    stats.maxAttempts = Math.max(stats.maxAttempts, message.attempts);
    if (stats.oldest === "" || oldest < stats.oldest) stats.oldest = oldest;
    const age = options.now() - Date.parse(oldest);
    if (message.attempts >= PARK_AFTER_ATTEMPTS || age >= PARK_AFTER_AGE_MS) {
      await parkOrRetry(message, () =>
        park(options.parking, {
          records: [...unit.records],
          queue: batch.queue,
          messageId: message.id,
          attempts: message.attempts,
          parkedAt: new Date(options.now()).toISOString(),
        }),
      );
    } else if (outcome?.kind === "ahead") {
      message.retry({ delaySeconds: outcome.delaySeconds });
    } else {
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }

  try {
    options.metrics?.writeDataPoint({
      indexes: [batch.queue],
      blobs: [DLQ_METRIC, batch.queue],
      doubles: [stats.undeliveredMessages, stats.undeliveredRecords, stats.parked, stats.maxAttempts],
    });
  } catch (err) {
    // A metric never holds up delivery.
    logger.warn("could not write the dead-letter metric", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
  if (stats.undeliveredMessages > 0) {
    logger.error("decision records in the dead-letter queue are not reaching ingest", {
      alert: "cordon.edge.dlq_backlog",
      // Per batch, what it could not deliver: summed over a window, the messages waiting on ingest.
      "cordon.edge.dlq_backlog": stats.undeliveredMessages,
      // The Queue's own count of messages waiting, when the runtime gives it.
      queueBacklog: batch.metadata?.metrics?.backlogCount,
      queue: batch.queue,
      undeliveredMessages: stats.undeliveredMessages,
      undeliveredRecords: stats.undeliveredRecords,
      parkedMessages: stats.parked,
      maxAttempts: stats.maxAttempts,
      oldestRecordAt: stats.oldest,
    });
  } else {
    logDrained(batch, logger);
  }
}

function logDrained(batch: Pick<MessageBatch<unknown>, "messages" | "queue">, logger: Logger): void {
  logger.info("dead-lettered decision records delivered", {
    queue: batch.queue,
    messages: batch.messages.length,
    "cordon.edge.dlq_backlog": 0,
  });
}
