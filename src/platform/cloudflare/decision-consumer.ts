/**
 * The Queue consumer: delivers the edge's decision records to the Node service's decision log through
 * `POST /v1/decisions/ingest`, with an `edge` token. Queues deliver at least once, a batch is retried
 * whole when its POST fails, and a POST can succeed on Node while its answer is lost, so the same record
 * may arrive again: ingest skips a record it stored identically, which makes the log exactly-once (I5).
 *
 * What happens to each message:
 * - ingest answered 2xx: acked, except a record it refused as `TOO_FAR_AHEAD` (this Worker's clock runs
 *   ahead of Node's; it will pass once Node's clock catches up), which is retried after a delay;
 * - refused for any other reason: logged at error level (decisionId, code, message) and acked. Those
 *   refusals are final (a malformed record, a finalized period, a conflicting id, an unknown order), so
 *   retrying would only delay the same answer to the dead-letter queue; the log line is the trail;
 * - no 2xx (network error, 5xx, 401 while a token rotates, 400): the whole batch is retried, and after
 *   `max_retries` the Queue moves it to the dead-letter queue, which this same consumer drains, slowly
 *   (wrangler.toml), so a long outage of Node delays records rather than losing them;
 * - a message whose body is not a decision record cannot succeed later: logged, and retried on its way
 *   to the dead-letter queue without holding up the valid ones.
 */
import type { MessageBatch } from "@cloudflare/workers-types";
import { z } from "zod";
import { DecisionRecord } from "../../engine/index.js";
import type { Logger } from "../../kernel/logger.js";

export const INGEST_PATH = "/v1/decisions/ingest";

/** How long a record refused as ahead of Node's clock waits before the next try (ingest allows 5 min). */
export const AHEAD_RETRY_DELAY_S = 60;

export interface DeliveryOptions {
  /** The Node service's base URL (CORDON_INGEST_URL). */
  url: string;
  /** The secret of a token with the `edge` role (CORDON_EDGE_TOKEN). */
  token: string;
  logger: Logger;
  fetch?: typeof fetch;
}

type Message = MessageBatch<unknown>["messages"][number];

/** Ingest's answer (DecisionIngestResult); only what the consumer acts on. */
const IngestAnswer = z.object({
  accepted: z.number(),
  skipped: z.number(),
  refused: z.array(z.object({ index: z.number().int(), code: z.string(), message: z.string() })),
});
type Refusal = z.infer<typeof IngestAnswer>["refused"][number];

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

  const answer = await post(
    valid.map((v) => v.record),
    Math.max(...valid.map((v) => v.message.attempts)),
    options,
  );
  if (answer === null) {
    for (const { message } of valid) message.retry();
    return;
  }
  const refusals = new Map<number, Refusal>(answer.map((r) => [r.index, r]));
  valid.forEach(({ message, record }, index) => {
    const refusal = refusals.get(index);
    if (refusal === undefined) {
      message.ack();
    } else if (refusal.code === "TOO_FAR_AHEAD") {
      options.logger.warn("decision ingest: record ahead of Node's clock; retrying it later", {
        decisionId: record.decisionId,
        attempts: message.attempts,
      });
      message.retry({ delaySeconds: AHEAD_RETRY_DELAY_S });
    } else {
      // Never the record itself: a refused one may hold what must not be logged (an address, say).
      options.logger.error("decision ingest refused a record for good; dropping it", {
        queue: batch.queue,
        messageId: message.id,
        decisionId: record.decisionId,
        code: refusal.code,
        reason: refusal.message,
      });
      message.ack();
    }
  });
}

/**
 * One POST for the whole batch (ingest takes up to 500 records; a Queue batch is at most 100).
 * Resolves to ingest's refusals, or null when the batch was not taken (retry it whole).
 */
async function post(
  records: DecisionRecord[],
  attempts: number,
  options: DeliveryOptions,
): Promise<Refusal[] | null> {
  const doFetch = options.fetch ?? fetch;
  try {
    // Appended, not resolved: a base URL with a path (a gateway prefix) keeps it.
    const response = await doFetch(`${options.url.replace(/\/+$/, "")}${INGEST_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${options.token}`, "content-type": "application/json" },
      body: JSON.stringify({ records }),
    });
    if (response.ok) {
      const answer = IngestAnswer.safeParse(await response.json().catch(() => undefined));
      // A 2xx means Node took the batch; an answer that lists no refusals (an ingest older than this
      // Worker, which refused whole batches only) took all of it.
      if (!answer.success) {
        options.logger.warn("decision ingest answered 2xx without refusals; taking the batch as stored", {
          records: records.length,
        });
        return [];
      }
      return answer.data.refused;
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
  return null;
}
