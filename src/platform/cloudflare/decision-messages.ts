/**
 * The body of a message on the `DECISIONS` Queue, and how records are packed into messages and sends.
 * A message carries many records (`{records: [...]}`), so a busy isolate sends a few messages per
 * moment instead of one per check (a queue takes about 5,000 messages a second). Messages written
 * before many-record bodies existed carry one bare record; `readDecisionMessage` takes both, so
 * messages in flight during a deploy are still delivered.
 */
import { z } from "zod";
import { DecisionRecord } from "../../engine/index.js";

/** The many-record body. */
export const DecisionMessage = z.object({ records: z.array(DecisionRecord).min(1) });
export type DecisionMessage = z.infer<typeof DecisionMessage>;

/**
 * Bytes of JSON per message body. A Queue message is at most 128 KB including about 100 bytes of the
 * Queue's own metadata; the margin also covers the difference between KB and KiB.
 */
export const MAX_MESSAGE_BYTES = 96 * 1024;
/** A `sendBatch` takes at most 100 messages and 256 KB in all. */
export const MAX_MESSAGES_PER_SEND = 100;
export const MAX_SEND_BYTES = 224 * 1024;

/** The records a message carries, or null when its body is neither form (it can never be delivered). */
export function readDecisionMessage(body: unknown): DecisionRecord[] | null {
  const many = DecisionMessage.safeParse(body);
  if (many.success) return many.data.records;
  const one = DecisionRecord.safeParse(body);
  return one.success ? [one.data] : null;
}

const encoder = new TextEncoder();
export const jsonBytes = (value: unknown): number => encoder.encode(JSON.stringify(value)).length;

/**
 * Splits records into message bodies of at most `maxBytes` of JSON each (in order), and those into
 * sends of at most `MAX_MESSAGES_PER_SEND` messages and `MAX_SEND_BYTES`. A record larger than a whole
 * message still goes, alone: the Queue refuses it and the check answers 503, rather than the record
 * being dropped here.
 */
export function packRecords(
  records: readonly DecisionRecord[],
  maxBytes = MAX_MESSAGE_BYTES,
): { sends: DecisionMessage[][]; messages: number } {
  // `{"records":[` + `]}` around the records, and a comma between two.
  const envelope = jsonBytes({ records: [] });
  const bodies: { body: DecisionMessage; bytes: number }[] = [];
  let current: DecisionRecord[] = [];
  let bytes = envelope;
  for (const record of records) {
    const size = jsonBytes(record);
    if (current.length > 0 && bytes + 1 + size > maxBytes) {
      bodies.push({ body: { records: current }, bytes });
      current = [];
      bytes = envelope;
    }
    bytes += (current.length > 0 ? 1 : 0) + size;
    current.push(record);
  }
  if (current.length > 0) bodies.push({ body: { records: current }, bytes });

  const sends: DecisionMessage[][] = [];
  let send: DecisionMessage[] = [];
  let sendBytes = 0;
  for (const { body, bytes: size } of bodies) {
    if (send.length > 0 && (send.length >= MAX_MESSAGES_PER_SEND || sendBytes + size > MAX_SEND_BYTES)) {
      sends.push(send);
      send = [];
      sendBytes = 0;
    }
    send.push(body);
    sendBytes += size;
  }
  if (send.length > 0) sends.push(send);
  return { sends, messages: bodies.length };
}

/** The earliest `at` of the records (ISO strings compare in time order), or "" for none. */
export function oldestAt(records: readonly DecisionRecord[]): string {
  let oldest = "";
  for (const { at } of records) if (oldest === "" || at < oldest) oldest = at;
  return oldest;
}
