/**
 * The two fields the shipper needs of an outbox line, without parsing it: the decisionId (which partition
 * the record goes to, and what deduplication compares) and the `at` (the edge-id day, the backlog's age).
 * The check writes both first (`{"decisionId":"…","at":"…",…`), so they are read off the line's start;
 * a line of another shape (a record ingested from the edge keeps the order it arrived in) is parsed.
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

const ID_PREFIX = '{"decisionId":"';
const AT_INFIX = '","at":"';

export function lineFields(line: string): LineFields | undefined {
  if (line.startsWith(ID_PREFIX)) {
    const idEnd = line.indexOf('"', ID_PREFIX.length);
    if (idEnd > ID_PREFIX.length && line.startsWith(AT_INFIX, idEnd)) {
      const atStart = idEnd + AT_INFIX.length;
      const atEnd = line.indexOf('"', atStart);
      const decisionId = line.slice(ID_PREFIX.length, idEnd);
      // An id or time with an escape in it is not one the check wrote: parse the line instead.
      if (atEnd > atStart && !decisionId.includes("\\"))
        return { decisionId, at: line.slice(atStart, atEnd) };
    }
  }
  try {
    const parsed = JSON.parse(line) as { decisionId?: unknown; at?: unknown };
    if (typeof parsed.decisionId !== "string" || parsed.decisionId === "") return undefined;
    return { decisionId: parsed.decisionId, at: typeof parsed.at === "string" ? parsed.at : "" };
  } catch {
    return undefined;
  }
}
