/**
 * The Queue consumer: delivers the edge's decision records to the Node service's decision log through
 * `POST /v1/decisions/ingest`, which appends each `decisionId` once. That dedupe is what makes delivery
 * exactly-once in the log: Queues deliver at least once, a batch is retried whole when its POST fails,
 * and a POST can succeed on Node while its answer is lost, so the same record may arrive again (I5).
 *
 * A message is acked only after a 2xx; anything else (network error, 5xx, 401 while a token rotates)
 * retries it, and after `max_retries` the Queue moves it to the dead-letter queue, so nothing is dropped
 * silently. A message whose body is not a decision record cannot succeed later: it is logged and sent
 * on its way to the dead-letter queue without holding up the valid ones.
 */
import type { MessageBatch } from "@cloudflare/workers-types";
import { DecisionRecord } from "../../engine/index.js";
import type { Logger } from "../../kernel/logger.js";

export const INGEST_PATH = "/v1/decisions/ingest";

export interface DeliveryOptions {
  /** The Node service's base URL (CORDON_INGEST_URL). */
  url: string;
  /** A token whose role may ingest (CORDON_INGEST_TOKEN). */
  token: string;
  logger: Logger;
  fetch?: typeof fetch;
}

type Message = MessageBatch<unknown>["messages"][number];

export async function deliverDecisions(
  batch: Pick<MessageBatch<unknown>, "messages" | "queue">,
  options: DeliveryOptions,
): Promise<void> {
  const valid: { message: Message; record: DecisionRecord }[] = [];
  for (const message of batch.messages) {
    const parsed = DecisionRecord.safeParse(message.body);
    if (parsed.success) {
      valid.push({ message, record: parsed.data });
    } else {
      options.logger.error("decision message is not a decision record; retrying it towards the DLQ", {
        queue: batch.queue,
        messageId: message.id,
        attempts: message.attempts,
      });
      message.retry();
    }
  }
  if (valid.length === 0) return;

  const delivered = await post(
    valid.map((v) => v.record),
    Math.max(...valid.map((v) => v.message.attempts)),
    options,
  );
  for (const { message } of valid) {
    if (delivered) message.ack();
    else message.retry();
  }
}

/** One POST for the whole batch (ingest takes up to 500 records; a Queue batch is at most 100). */
async function post(records: DecisionRecord[], attempts: number, options: DeliveryOptions): Promise<boolean> {
  const doFetch = options.fetch ?? fetch;
  try {
    // Appended, not resolved: a base URL with a path (a gateway prefix) keeps it.
    const response = await doFetch(`${options.url.replace(/\/+$/, "")}${INGEST_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json" },
      body: JSON.stringify({ records }),
    });
    if (response.ok) {
      await response.body?.cancel();
      return true;
    }
    options.logger.warn("decision ingest refused the batch; retrying it", {
      status: response.status,
      records: records.length,
      attempts,
      detail: (await response.text()).slice(0, 500),
    });
  } catch (err) {
    options.logger.warn("decision ingest unreachable; retrying the batch", {
      error: err instanceof Error ? err.message : String(err),
      records: records.length,
      attempts,
    });
  }
  return false;
}
