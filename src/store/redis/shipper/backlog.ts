/**
 * The backlog: how many outbox records are not in the stream yet, and since when the oldest waits, for
 * the shipper's status and the `cordon.decisions.backlog` gauge. An estimate that costs no I/O per call:
 * unshipped records at a mark, plus outbox appends since, minus records consumed since.
 */
import { InvalidCursorError } from "../../../kernel/errors.js";
import type { SegmentLog } from "../../file/segment-log.js";
import { timeOf } from "./dedupe.js";

const COUNT_CHUNK = 10_000;

export class Backlog {
  private atMark = 0;
  private statsAtMark = 0;
  private consumedSinceMark = 0;
  private oldestPendingAt: number | undefined;

  constructor(private readonly outbox: Pick<SegmentLog, "stats">) {}

  value(): number {
    const appended = this.outbox.stats().decisionRecords - this.statsAtMark;
    return Math.max(0, this.atMark + appended - this.consumedSinceMark);
  }

  /** How long the oldest unshipped record has waited, ms (0 when none is known to). */
  waitingMs(): number {
    return this.oldestPendingAt === undefined ? 0 : Date.now() - this.oldestPendingAt;
  }

  /** `count` records were unshipped when the outbox's stats read `statsBefore`. */
  mark(count: number, statsBefore: number): void {
    this.atMark = count;
    this.statsAtMark = statsBefore;
    this.consumedSinceMark = 0;
  }

  /** A batch was read from the outbox; `oldestAt` is its oldest record's `at`. */
  reading(oldestAt: string): void {
    this.oldestPendingAt = timeOf(oldestAt) ?? Date.now();
  }

  consumed(count: number): void {
    this.consumedSinceMark += count;
  }

  /** Every append counted in `statsBefore` finished before a read that found nothing. */
  caughtUp(statsBefore: number): void {
    this.mark(0, statsBefore);
    this.oldestPendingAt = undefined;
  }
}

/**
 * Counts the outbox from `cursor` to its end; undefined when `cursor` itself does not fit the outbox
 * (InvalidCursorError on the first page). Appends racing the count may be counted twice.
 */
export async function countOutbox(
  outbox: Pick<SegmentLog, "pageLines">,
  cursor: string | undefined,
): Promise<number | undefined> {
  let count = 0;
  let after = cursor;
  for (;;) {
    let page: { lines: string[]; next: string | null };
    try {
      page = await outbox.pageLines({ ...(after === undefined ? {} : { after }), limit: COUNT_CHUNK });
    } catch (err) {
      if (err instanceof InvalidCursorError && after === cursor) return undefined;
      throw err;
    }
    count += page.lines.length;
    if (page.lines.length === 0 || page.next === null) return count;
    after = page.next;
  }
}
