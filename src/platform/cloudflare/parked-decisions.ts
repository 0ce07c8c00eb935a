/**
 * The parking area: decision records that the dead-letter queue could not deliver for so long that the
 * Queue would soon drop them (a queue keeps a message for its retention period, 4 days by default, and
 * deletes it after `max_retries`). They are written to a KV namespace (`PARKED_DECISIONS`), whose
 * values do not expire unless asked to, and re-sent to ingest by `replayParked` (the cron trigger and
 * the `POST /v1/edge/replay` route).
 *
 * Keys: `parked/<oldest record's at>/<message id>`, so a listing is oldest first and parking the same
 * message twice (an ack lost after the write) overwrites one entry. Records ingest refuses for good
 * while replaying move to `refused/...` (kept for an operator, not retried), and a message whose body
 * was never readable to `unreadable/<message id>`. Replaying is safe to repeat: ingest skips a record
 * it stored identically, so a record stored twice (a deletion not yet visible, KV being eventually
 * consistent) is still in the decision log once.
 */
import type { KVNamespace } from "@cloudflare/workers-types";
import type { DecisionRecord } from "../../engine/index.js";
import type { Logger } from "../../kernel/logger.js";
import { type DeliveryOptions, deliverRecords } from "./decision-consumer.js";
import { oldestAt, readDecisionMessage } from "./decision-messages.js";

export const PARKED_PREFIX = "parked/";
export const REFUSED_PREFIX = "refused/";
export const UNREADABLE_PREFIX = "unreadable/";

/** Parked entries re-sent per replay run; each holds at most one message's records (under 128 KB). */
export const REPLAY_ENTRIES_PER_RUN = 50;

/** What a parking entry holds. */
export interface ParkedEntry {
  records: DecisionRecord[];
  queue: string;
  messageId: string;
  /** Deliveries the dead-letter queue had made when it was parked. */
  attempts: number;
  parkedAt: string;
}

export type ParkingArea = Pick<KVNamespace, "get" | "put" | "delete" | "list">;

export function parkedName(records: readonly DecisionRecord[], messageId: string): string {
  return `${PARKED_PREFIX}${oldestAt(records)}/${messageId}`;
}

export async function park(area: ParkingArea, entry: ParkedEntry): Promise<string> {
  const name = parkedName(entry.records, entry.messageId);
  await area.put(name, JSON.stringify(entry));
  return name;
}

/** A body no consumer can read, kept as it came so that nothing is deleted unseen. */
export async function parkUnreadable(
  area: ParkingArea,
  message: { id: string; body: unknown; attempts: number },
  queue: string,
): Promise<void> {
  await area.put(
    `${UNREADABLE_PREFIX}${message.id}`,
    JSON.stringify({ body: message.body, queue, attempts: message.attempts }),
  );
}

export interface ReplayResult {
  /** Parked entries whose records ingest took (or refused for good); removed from the parking area. */
  replayed: number;
  /** Records in those entries. */
  records: number;
  /** Records ingest refused for good, moved to `refused/`. */
  refused: number;
  /** Entries that were not readable, moved to `unreadable/`. */
  setAside: number;
  /** Entries tried but not taken (ingest unreachable, or a record ahead of Node's clock). */
  failed: number;
  /** Entries still parked after this run; `more` when the listing did not reach the end. */
  remaining: number;
  more: boolean;
}

/** Re-sends up to `limit` parked entries, oldest first, to ingest; removes the ones it took. */
export async function replayParked(
  area: ParkingArea,
  delivery: DeliveryOptions,
  limit = REPLAY_ENTRIES_PER_RUN,
): Promise<ReplayResult> {
  const listed = await area.list({ prefix: PARKED_PREFIX, limit });
  const result: ReplayResult = {
    replayed: 0,
    records: 0,
    refused: 0,
    setAside: 0,
    failed: 0,
    remaining: 0,
    more: false,
  };
  const entries: { name: string; entry: ParkedEntry }[] = [];
  let vanished = 0;
  for (const { name } of listed.keys) {
    const value = await area.get(name, "text");
    // Deleted by a replay running at the same time, the listing not yet knowing it.
    if (value === null) {
      vanished++;
      continue;
    }
    let entry: ParkedEntry;
    try {
      entry = JSON.parse(value) as ParkedEntry;
    } catch {
      await setAside(area, name, value, delivery.logger);
      result.setAside++;
      continue;
    }
    const records = readDecisionMessage({ records: entry.records });
    if (records === null) {
      await setAside(area, name, value, delivery.logger);
      result.setAside++;
      continue;
    }
    entries.push({ name, entry: { ...entry, records } });
  }
  const outcomes =
    entries.length === 0
      ? []
      : await deliverRecords(
          entries.map(({ name, entry }) => ({ id: name, records: entry.records, attempts: entry.attempts })),
          delivery,
        );

  for (const [index, { name, entry }] of entries.entries()) {
    const outcome = outcomes[index];
    if (outcome?.kind !== "delivered") {
      result.failed++;
      continue;
    }
    if (outcome.refused.length > 0) {
      for (const { record, code, reason } of outcome.refused) {
        delivery.logger.error("decision ingest refused a parked record for good; keeping it under refused/", {
          entry: name,
          decisionId: record.decisionId,
          code,
          reason,
        });
      }
      await area.put(
        `${REFUSED_PREFIX}${name.slice(PARKED_PREFIX.length)}`,
        JSON.stringify({
          ...entry,
          records: outcome.refused.map((r) => r.record),
          refusals: outcome.refused.map((r) => ({
            decisionId: r.record.decisionId,
            code: r.code,
            reason: r.reason,
          })),
        }),
      );
      result.refused += outcome.refused.length;
    }
    await area.delete(name);
    result.replayed++;
    result.records += entry.records.length;
  }
  result.remaining = listed.keys.length - vanished - result.replayed - result.setAside;
  result.more = !listed.list_complete;
  return result;
}

/** An entry no replay can read: kept under `unreadable/`, out of the way of the ones that can go. */
async function setAside(area: ParkingArea, name: string, value: string, logger: Logger): Promise<void> {
  logger.error("parked decision entry is not readable; moving it under unreadable/", { entry: name });
  await area.put(`${UNREADABLE_PREFIX}${name.slice(PARKED_PREFIX.length)}`, value);
  await area.delete(name);
}

/** One line operators alert on while anything is parked (Workers Logs: `cordon.edge.parked > 0`). */
export function logParking(result: ReplayResult, logger: Logger, trigger: string): void {
  const fields = {
    alert: "cordon.edge.parked",
    "cordon.edge.parked": result.remaining,
    parkedMore: result.more,
    replayed: result.replayed,
    replayedRecords: result.records,
    refusedRecords: result.refused,
    setAside: result.setAside,
    failed: result.failed,
    trigger,
  };
  if (result.remaining > 0 || result.more || result.refused > 0 || result.setAside > 0) {
    logger.error("parked decision records remain undelivered", fields);
  } else if (result.replayed > 0) {
    logger.info("parked decision records replayed", fields);
  } else {
    // The cron trigger's usual run: nothing parked.
    logger.debug("no parked decision records", fields);
  }
}
