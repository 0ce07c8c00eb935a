/**
 * Data loss. The shipper checks, at start, after each (re)connection and every 10 s, that Redis still
 * holds what it acknowledged: the epoch key (a random token set once per Redis dataset; gone or changed
 * means the dataset was replaced, even when another instance has written since) and XINFO STREAM
 * (missing, or last-generated-id below our last acknowledged id: an older snapshot came back). On a loss
 * it warns, counts `cordon.redis.data_loss`, and the shipper ships the whole outbox again.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../../../kernel/logger.js";
import type { RedisClient } from "../../../platform/node/redis.js";
import { compareStreamIds, field } from "../stream-ids.js";
import { instruments } from "./metrics.js";

export interface DatasetCheck {
  /** The dataset's epoch token: the one found, or the one this check set (or adopted) when none was. */
  epoch: string;
  /** The stream's last-generated-id; undefined when the stream does not exist. */
  lastGenerated: string | undefined;
  /** Why Redis lost acknowledged records, when it did. */
  loss?: string;
  /** The dataset was replaced (its epoch token is gone or another): nothing from before can be trusted. */
  epochLost?: boolean;
}

export async function checkDataset(
  redis: RedisClient,
  known: { stream: string; epochKey: string; epoch: string | undefined; lastAckedId: string | undefined },
  logger: Logger,
): Promise<DatasetCheck> {
  const { stream, epochKey, lastAckedId } = known;
  const [[epochErr, epochValue], [infoErr, info]] = (await redis
    .pipeline()
    .get(epochKey)
    .xinfo("STREAM", stream)
    .exec()) as [[Error | null, string | null], [Error | null, unknown[]]];
  if (epochErr) throw epochErr;
  const exists = infoErr === null;
  if (infoErr && !/no such key/i.test(infoErr.message)) throw infoErr;
  const lastGenerated = exists ? String(field(info, "last-generated-id") ?? "0-0") : undefined;

  let loss: string | undefined;
  const epochLost = known.epoch !== undefined && epochValue !== known.epoch;
  if (epochLost) {
    loss = epochValue === null ? "the epoch key is gone" : "the epoch key changed";
  } else if (lastAckedId !== undefined && lastGenerated === undefined) {
    loss = "the stream is gone";
  } else if (
    lastAckedId !== undefined &&
    lastGenerated !== undefined &&
    compareStreamIds(lastGenerated, lastAckedId) < 0
  ) {
    loss = "the stream ends before the last entry it acknowledged";
  }

  let epoch = epochValue;
  if (epoch === null) {
    // SET NX then GET: of several instances finding no token, all adopt the one that won.
    const [, [getErr, current]] = (await redis
      .pipeline()
      .set(epochKey, randomUUID(), "NX")
      .get(epochKey)
      .exec()) as [[Error | null, unknown], [Error | null, string | null]];
    if (getErr || current === null) throw getErr ?? new Error("epoch key vanished after SET NX");
    epoch = current;
  }

  if (loss === undefined) return { epoch, lastGenerated };
  instruments.dataLoss.add(1);
  logger.warn("decision stream: Redis lost acknowledged decision records; re-shipping them", {
    reason: loss,
    stream,
    lastAckedId,
    lastGeneratedId: lastGenerated ?? null,
    note: "records still in the outbox are shipped again, skipping decisionIds the stream holds",
  });
  return { epoch, lastGenerated, loss, epochLost };
}
