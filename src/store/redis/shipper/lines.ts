/**
 * The two fields the shipper needs of an outbox line, without parsing it: the decisionId (which partition
 * the record goes to, and what deduplication compares) and the `at` (the edge-id day, the backlog's age).
 * The check writes both first (`{"decisionId":"…","at":"…",…`), so they are read off the line's first
 * bytes; a line of another shape (a record ingested from the edge keeps the order it arrived in) is
 * parsed. The line itself stays bytes: it travels to the stream as the outbox holds it (lane.ts).
 *
 * Validation stays where it matters: the outbox holds only what this process wrote, group-committed
 * and recovered line by line (segment-log.ts), and the report's reader checks every record against the
 * schema before counting it (report-reader.ts), leaving any that fails pending for repair.
 */

export interface LineFields {
  decisionId: string;
  /** The record's `at`, ISO 8601; "" when the line has none. */
  at: string;
}

const ID_PREFIX = Buffer.from('{"decisionId":"');
const AT_INFIX = Buffer.from('","at":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The fields of the line `buf[start, end)` (UTF-8 JSON, no newline). */
export function lineFields(buf: Buffer, start: number, end: number): LineFields | undefined {
  const idStart = start + ID_PREFIX.length;
  if (end > idStart && buf.compare(ID_PREFIX, 0, ID_PREFIX.length, start, idStart) === 0) {
    const idEnd = buf.indexOf(QUOTE, idStart);
    const atStart = idEnd + AT_INFIX.length;
    if (
      idEnd > idStart &&
      atStart < end &&
      buf.compare(AT_INFIX, 0, AT_INFIX.length, idEnd, atStart) === 0 &&
      // An id with an escape in it is not one the check wrote: parse the line instead.
      !holds(buf, BACKSLASH, idStart, idEnd)
    ) {
      const atEnd = buf.indexOf(QUOTE, atStart);
      if (atEnd > atStart && atEnd < end)
        return { decisionId: buf.toString("utf8", idStart, idEnd), at: buf.toString("utf8", atStart, atEnd) };
    }
  }
  try {
    const parsed = JSON.parse(buf.toString("utf8", start, end)) as { decisionId?: unknown; at?: unknown };
    // A newline would split the batch's list of ids (lane.ts): such an id is no id this service made.
    if (typeof parsed.decisionId !== "string" || parsed.decisionId === "" || parsed.decisionId.includes("\n"))
      return undefined;
    return { decisionId: parsed.decisionId, at: typeof parsed.at === "string" ? parsed.at : "" };
  } catch {
    return undefined;
  }
}

function holds(buf: Buffer, byte: number, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] === byte) return true;
  return false;
}
