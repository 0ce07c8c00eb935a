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
 * A message carries one record (bodies written before many-record messages) or many
 * (`decision-messages.ts`); its records may go out in several POSTs (ingest takes 500 records and
 * 64 KiB per request), and the message is acked only when every one of its records was taken.
 * `deliverRecords` is the part the dead-letter consumer and the replay of parked records share.
 */
import type { MessageBatch } from "@cloudflare/workers-types";
import { z } from "zod";
import type { DecisionRecord } from "../../engine/index.js";
import type { Logger } from "../../kernel/logger.js";
import { jsonBytes, readDecisionMessage } from "./decision-messages.js";

export const INGEST_PATH = "/v1/decisions/ingest";

/** How long a record refused as ahead of Node's clock waits before the next try (ingest allows 5 min). */
export const AHEAD_RETRY_DELAY_S = 60;

/** Ingest's limits per request: 500 records, and Node's default body limit of 64 KiB (with a margin). */
export const MAX_INGEST_RECORDS = 500;
export const MAX_INGEST_BYTES = 60 * 1024;
/** POSTs in flight at once for one consumer batch (a Worker opens at most six connections at a time). */
const INGEST_CONCURRENCY = 4;

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

/** A group of records that is acked, retried or parked together (a message, a parked entry). */
export interface DeliveryUnit {
  /** For the log: a message id or a parking entry's name. */
  id: string;
  records: readonly DecisionRecord[];
  attempts: number;
}

/** What became of a unit's records. */
export type DeliveryOutcome =
  /** Every record was stored or skipped as already stored, or refused for good (listed). */
  | { kind: "delivered"; refused: { record: DecisionRecord; code: string; reason: string }[] }
  /** Some record did not reach ingest (unreachable, no 2xx): the unit must be tried again. */
  | { kind: "undelivered" }
  /** Some record was refused as ahead of Node's clock: try again after `delaySeconds`. */
  | { kind: "ahead"; delaySeconds: number };

export async function deliverDecisions(
  batch: Pick<MessageBatch<unknown>, "messages" | "queue">,
  options: DeliveryOptions,
): Promise<void> {
  const valid: { message: Message; unit: DeliveryUnit }[] = [];
  for (const message of batch.messages) {
    const records = readDecisionMessage(message.body);
    if (records !== null) {
      valid.push({ message, unit: { id: message.id, records, attempts: message.attempts } });
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

  const outcomes = await deliverRecords(
    valid.map((v) => v.unit),
    options,
  );
  valid.forEach(({ message }, index) => {
    const outcome = outcomes[index] as DeliveryOutcome;
    if (outcome.kind === "delivered") {
      logRefusals(outcome, { queue: batch.queue, messageId: message.id }, options.logger);
      message.ack();
    } else if (outcome.kind === "ahead") {
      message.retry({ delaySeconds: outcome.delaySeconds });
    } else {
      message.retry();
    }
  });
}

/** Final refusals at error level: decisionId, code and reason; never the record itself (an address, say). */
export function logRefusals(
  outcome: Extract<DeliveryOutcome, { kind: "delivered" }>,
  where: Record<string, unknown>,
  logger: Logger,
): void {
  for (const { record, code, reason } of outcome.refused) {
    logger.error("decision ingest refused a record for good; dropping it", {
      ...where,
      decisionId: record.decisionId,
      code,
      reason,
    });
  }
}

/**
 * Sends the units' records to ingest, in POSTs within ingest's limits, and says per unit what became
 * of them. Once a POST is not taken, the rest are not tried (ingest is down or refusing this Worker):
 * their units are undelivered as well.
 */
export async function deliverRecords(
  units: readonly DeliveryUnit[],
  options: DeliveryOptions,
): Promise<DeliveryOutcome[]> {
  const items = units.flatMap((unit, u) => unit.records.map((record) => ({ unit: u, record })));
  const chunks = chunkForIngest(items);
  const attempts = Math.max(0, ...units.map((u) => u.attempts));
  const undelivered = new Set<number>();
  const ahead = new Set<number>();
  const refused = new Map<number, { record: DecisionRecord; code: string; reason: string }[]>();
  let down = false;

  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++] as typeof items;
      const answer = down
        ? null
        : await post(
            chunk.map((i) => i.record),
            attempts,
            options,
          );
      if (answer === null) {
        down = true;
        for (const item of chunk) undelivered.add(item.unit);
        continue;
      }
      for (const refusal of answer) {
        const item = chunk[refusal.index];
        if (item === undefined) continue;
        if (refusal.code === "TOO_FAR_AHEAD") {
          options.logger.warn("decision ingest: record ahead of Node's clock; retrying it later", {
            decisionId: item.record.decisionId,
            attempts,
          });
          ahead.add(item.unit);
        } else {
          const list = refused.get(item.unit) ?? [];
          list.push({ record: item.record, code: refusal.code, reason: refusal.message });
          refused.set(item.unit, list);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(INGEST_CONCURRENCY, chunks.length) }, worker));

  return units.map((_, u): DeliveryOutcome => {
    if (undelivered.has(u)) return { kind: "undelivered" };
    if (ahead.has(u)) return { kind: "ahead", delaySeconds: AHEAD_RETRY_DELAY_S };
    return { kind: "delivered", refused: refused.get(u) ?? [] };
  });
}

/** Consecutive runs of at most MAX_INGEST_RECORDS records and MAX_INGEST_BYTES of request body. */
function chunkForIngest<T extends { record: DecisionRecord }>(items: readonly T[]): T[][] {
  const envelope = jsonBytes({ records: [] });
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = envelope;
  for (const item of items) {
    const size = jsonBytes(item.record) + 1;
    if (chunk.length > 0 && (chunk.length >= MAX_INGEST_RECORDS || bytes + size > MAX_INGEST_BYTES)) {
      chunks.push(chunk);
      chunk = [];
      bytes = envelope;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * One POST of a chunk of records.
 * Resolves to ingest's refusals, or null when the chunk was not taken (retry it whole).
 */
async function post(
  records: readonly DecisionRecord[],
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
