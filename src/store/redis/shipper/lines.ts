/**
 * An outbox line as the shipper holds it: its bytes, its partition, and its decisionId and `at` read off
 * the bytes only when asked. The check writes `decisionId` first (`{"decisionId":"…","at":"…",…`), so the
 * partition (keys.ts `partitionOf`, FNV-1a) is hashed straight off the id's bytes while they are checked,
 * and the SHIP script reads the id off the line itself (lane.ts): on the way to the stream a line of this
 * shape makes no string and no object but its `OutboxLine`. A line of another shape (a record ingested
 * from the edge keeps the order it arrived in; an id with an escape or a non-ASCII byte) is parsed.
 *
 * Validation stays where it matters: the outbox holds only what this process wrote, group-committed
 * and recovered line by line (segment-log.ts), and the report's reader checks every record against the
 * schema before counting it (report-reader.ts), leaving any that fails pending for repair.
 */

import { isEdgeDecisionId } from "../../ingest-index.js";
import { partitionOf } from "../keys.js";

interface LineFields {
  decisionId: string;
  /** The record's `at`, ISO 8601; "" when the line has none. */
  at: string;
}

/** `{"decisionId":"`: where the check's lines start; the id's first byte follows. */
export const ID_PREFIX = Buffer.from('{"decisionId":"');
const AT_INFIX = Buffer.from('","at":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** A UUID is 36 characters; version 8 (the edge's ids, ingest-index.ts) has an "8" at index 14. */
const UUID_LENGTH = 36;
const VERSION_AT = 14;
const EIGHT = 0x38;

/** One outbox line `buf[start, end)` (UTF-8 JSON, no newline). */
export class OutboxLine {
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    /** Its decision partition (`partitionOf` its decisionId; 0 for a line without one). */
    readonly partition: number,
    /**
     * Where its decisionId ends when the line has the check's shape: the id is `buf[start + 15, idEnd)`,
     * ASCII without escapes. 0 otherwise, and `parsed` holds the fields.
     */
    readonly idEnd: number,
    private readonly parsed: LineFields | undefined,
  ) {}

  /** The line holds a decisionId this service could have written. */
  get valid(): boolean {
    return this.idEnd > 0 || this.parsed !== undefined;
  }

  get decisionId(): string {
    if (this.idEnd > 0) return this.buf.toString("latin1", this.start + ID_PREFIX.length, this.idEnd);
    return this.parsed?.decisionId ?? "";
  }

  /** The record's `at`; "" when it has none. */
  get at(): string {
    if (this.idEnd === 0) return this.parsed?.at ?? "";
    const { buf, end, idEnd } = this;
    const atStart = idEnd + AT_INFIX.length;
    if (atStart < end && buf.compare(AT_INFIX, 0, AT_INFIX.length, idEnd, atStart) === 0) {
      const atEnd = buf.indexOf(QUOTE, atStart);
      if (atEnd > atStart && atEnd < end) return buf.toString("utf8", atStart, atEnd);
    }
    return parse(buf, this.start, end)?.at ?? "";
  }

  /** A record ingested from the edge (a version-8 UUID), which the SHIP script adds only once. */
  get edge(): boolean {
    if (this.idEnd === 0) return isEdgeDecisionId(this.parsed?.decisionId ?? "");
    // Most ids are this service's (version 4): told apart by two bytes, without a string.
    const idStart = this.start + ID_PREFIX.length;
    return (
      this.idEnd - idStart === UUID_LENGTH &&
      this.buf[idStart + VERSION_AT] === EIGHT &&
      isEdgeDecisionId(this.decisionId)
    );
  }
}

/** The line `buf[start, end)`, its partition among `partitions` hashed off its id's bytes when it can be. */
export function readLine(buf: Buffer, start: number, end: number, partitions: number): OutboxLine {
  const idStart = start + ID_PREFIX.length;
  if (end > idStart && startsWithPrefix(buf, start)) {
    // FNV-1a as keys.ts `partitionOf`, over bytes: the same as over the string's characters while every
    // byte is ASCII. Anything else (an escape, a non-ASCII byte, no closing quote) is parsed below.
    let hash = 0x811c9dc5;
    for (let i = idStart; i < end; i++) {
      const b = buf[i] as number;
      if (b === QUOTE) {
        if (i === idStart) break;
        return new OutboxLine(buf, start, end, (hash >>> 0) % partitions, i, undefined);
      }
      if (b === BACKSLASH || b >= 0x80) break;
      hash ^= b;
      hash = Math.imul(hash, 0x01000193);
    }
  }
  const parsed = parse(buf, start, end);
  return new OutboxLine(
    buf,
    start,
    end,
    parsed === undefined ? 0 : partitionOf(parsed.decisionId, partitions),
    0,
    parsed,
  );
}

function startsWithPrefix(buf: Buffer, start: number): boolean {
  for (let i = 0; i < ID_PREFIX.length; i++) if (buf[start + i] !== ID_PREFIX[i]) return false;
  return true;
}

function parse(buf: Buffer, start: number, end: number): LineFields | undefined {
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
