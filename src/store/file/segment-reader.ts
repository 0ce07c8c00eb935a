/**
 * `SegmentReader`: reads a decision log that another process writes (a worker's own log under
 * `CORDON_WORKERS`, see runtime/node/workers.md), without its lock and without writing anything. Same
 * layout and cursors as `SegmentLog` (segments.ts), so a `FileAggregateStore` counts it by position the
 * same way.
 *
 * How far it reads is the caller's `bound`, fixed for the reader's life:
 * - `{ until }`, the writer's acknowledged end (`SegmentLog.end()`, asked of the live writer): bytes past
 *   it may be a write still under way, or one that failed and will be cut back (write-guard.ts), so a
 *   record there may never have been answered and its bytes may be reused.
 * - `"complete"`, for a log nobody has open (its writer dead, or a slot no longer run): every complete
 *   line is a write that returned, and the next opener cuts only what follows the last one (torn-tail.ts),
 *   so complete lines are final. An unreadable line is where such a log ends, as at its next open.
 */
import { type FileHandle, open, stat } from "node:fs/promises";
import { join } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { InvalidCursorError, StoreUnavailableError } from "../../kernel/errors.js";
import type { DecisionLog } from "../interface.js";
import { NEWLINE, readRange } from "./file-io.js";
import {
  DECISIONS_DIR,
  decodeCursor,
  encodeCursor,
  listSegments,
  type Position,
  segmentFile,
} from "./segments.js";

export type ReadBound = { until: string } | "complete";

type Page = Awaited<ReturnType<DecisionLog["page"]>>;

export class SegmentReader implements Pick<DecisionLog, "page"> {
  private readonly dir: string;
  private readonly until: Position | undefined;

  /** `root` holds `decisions/` (a worker's directory); `bound` as in the module header. */
  constructor(
    root: string,
    private readonly bound: ReadBound,
  ) {
    this.dir = join(root, DECISIONS_DIR);
    if (bound === "complete") this.until = undefined;
    else {
      const until = decodeCursor(bound.until);
      if (!until) throw new InvalidCursorError("not a cursor of a decision log");
      this.until = until;
    }
  }

  async page(opts: { after?: string; limit: number; positions?: boolean }): Promise<Page> {
    const { after, limit } = opts;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const segments = await listSegments(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as number[];
      throw err;
    });
    const records: DecisionRecord[] = [];
    const positions: string[] = [];
    let pos: Position =
      after === undefined ? { seg: segments[0] ?? 1, off: 0 } : (decodeCursor(after) ?? bad());
    if (after !== undefined) await this.checkCursor(pos, segments);
    while (records.length < limit) {
      if (
        this.until &&
        (pos.seg > this.until.seg || (pos.seg === this.until.seg && pos.off >= this.until.off))
      )
        break;
      if (!segments.includes(pos.seg)) break;
      const size = await sizeOf(this.path(pos.seg));
      const end = this.until?.seg === pos.seg ? Math.min(this.until.off, size) : size;
      if (pos.off >= end) {
        // On to the next segment only when more is wanted, and only from one read to its very end.
        const next = segments.find((s) => s > pos.seg);
        if (next === undefined || (this.until && next > this.until.seg) || pos.off < size) break;
        pos = { seg: next, off: 0 };
        continue;
      }
      const read = await this.readLines(pos, end, limit - records.length);
      for (const line of read.lines) {
        records.push(line.record);
        positions.push(encodeCursor({ seg: pos.seg, off: line.end }));
      }
      const last = read.lines[read.lines.length - 1];
      if (last !== undefined) pos = { seg: pos.seg, off: last.end };
      if (last === undefined || read.unreadable) break; // a line not finished, or where the log ends
    }
    const next = records.length === 0 && after !== undefined ? after : encodeCursor(pos);
    return opts.positions ? { records, next, positions } : { records, next };
  }

  /** Complete lines in `[pos.off, end)`, at most `max` of them. */
  private async readLines(
    pos: Position,
    end: number,
    max: number,
  ): Promise<{ lines: { record: DecisionRecord; end: number }[]; unreadable: boolean }> {
    const lines: { record: DecisionRecord; end: number }[] = [];
    if (pos.off >= end) return { lines, unreadable: false };
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.path(pos.seg), "r");
      let off = pos.off;
      let chunk = 1 << 20;
      while (off < end && lines.length < max) {
        const want = Math.min(end - off, chunk);
        const buf = await readRange(fh, off, off + want);
        const last = buf.lastIndexOf(NEWLINE);
        if (last === -1) {
          if (want === end - off) break; // a line not finished (yet): not ours to read
          chunk *= 2;
          continue;
        }
        let from = 0;
        while (from <= last && lines.length < max) {
          const nl = buf.indexOf(NEWLINE, from);
          let record: DecisionRecord;
          try {
            record = JSON.parse(buf.toString("utf8", from, nl)) as DecisionRecord;
          } catch {
            if (this.bound === "complete") return { lines, unreadable: true };
            throw new StoreUnavailableError(
              `decision log ${this.dir}/${segmentFile(pos.seg)} at byte ${off + from}: unreadable record`,
            );
          }
          lines.push({ record, end: off + nl + 1 });
          from = nl + 1;
        }
        off += from;
      }
      return { lines, unreadable: false };
    } finally {
      await fh?.close();
    }
  }

  /** As SegmentLog's: an existing segment, and a line boundary within what may be read. */
  private async checkCursor(pos: Position, segments: number[]): Promise<void> {
    if (!segments.includes(pos.seg)) bad();
    if (this.until && (pos.seg > this.until.seg || (pos.seg === this.until.seg && pos.off > this.until.off)))
      bad();
    if (pos.off === 0) return;
    const fh = await open(this.path(pos.seg), "r");
    try {
      const before = await readRange(fh, pos.off - 1, pos.off);
      if (before.length !== 1 || before[0] !== NEWLINE) bad();
    } finally {
      await fh.close();
    }
  }

  private path(seg: number): string {
    return join(this.dir, segmentFile(seg));
  }
}

function bad(): never {
  throw new InvalidCursorError("not a cursor of this decision log");
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}
