/**
 * `SegmentLog`: the embedded decision log (I5), `<dir>/decisions/NNNNNN.jsonl`. One DecisionRecord per
 * line, in segments of at most `segmentBytes` (a bigger single batch gets a segment of its own). The
 * embedded store's decision log, and the Redis mode's local outbox.
 *
 * Durability. A record resolves after the write that carries it returns, so the data is in the kernel and
 * a kill -9 of the process cannot lose it; with `fsync: "batch" | "always"` each write is also fdatasynced
 * before anyone waiting on it resolves. Appends are group-committed: everything appended in one turn of
 * the event loop (or while an fdatasync is in flight) goes out in the next single write, in call order. At open a torn last
 * line of the active segment is cut off with a warning (torn-tail.ts).
 *
 * A full disk. A write that fails is rejected to everyone waiting on it (never acknowledged) and cut back
 * off the segment (write-guard.ts); writes are refused while the guard is failed, and `readiness()` says
 * not ready. When the failure was for want of space (ENOSPC, EDQUOT) the log heals by itself: every
 * `probeIntervalMs` it cuts back anything a failed write left and writes, fdatasyncs and deletes a small
 * probe file in the decision directory; once that goes through it takes writes and is ready again. The
 * next append tries the same before its own write (its write being the probe), so a log that still gets
 * traffic does not wait for the timer. Any other write error needs a reopen.
 *
 * Retention. The log never deletes records on its own: in embedded mode it IS the record the report is
 * built from. `prune(cursor)` deletes whole closed segments before the cursor's segment, for a caller
 * that knows they are kept elsewhere (the Redis mode's shipper, once they are in the stream). What is
 * left is always a suffix of the log: paging from the start begins at the oldest segment kept, and a
 * cursor into a deleted segment is refused with InvalidCursorError.
 *
 * Reading. A page of a closed segment opens that segment's file for the page; the tail of the active
 * segment (up to 256 KiB a read) is read synchronously through the writer's own handle, so a reader that
 * polls the tail (the shipper, a report's catch-up) makes one read a page and no open or close. A cursor
 * is checked to fall on a record boundary by reading the byte before it, unless the log handed that
 * cursor out itself (the last few it gave are remembered).
 */
import type { Buffer } from "node:buffer";
import { writeSync } from "node:fs";
import { type FileHandle, mkdir, open, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { InvalidCursorError, StoreUnavailableError } from "../../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import type { Readiness } from "../../kernel/runtime.js";
import type { DecisionLog } from "../interface.js";
import { DirLock } from "./dir-lock.js";
import { NEWLINE, readRange, readRangeSync, syncDir } from "./file-io.js";
import { LineBuffer } from "./line-buffer.js";
import {
  DECISIONS_DIR,
  decodeCursor,
  encodeCursor,
  listSegments,
  type Position,
  segmentFile,
} from "./segments.js";
import { repairTail } from "./torn-tail.js";
import { WriteGuard } from "./write-guard.js";

export type FsyncMode = "always" | "batch" | "never";

export interface SegmentLogOptions {
  /**
   * `never` (default): kill -9 safe, not power-loss safe. `batch`: one fdatasync per group-committed
   * write. `always`: one write and one fdatasync per `append` call, no batching across calls (same
   * durability as `batch`, at a lower rate).
   */
  fsync?: FsyncMode;
  /** Rotate the segment before a write would take it past this size. Default 64 MiB. */
  segmentBytes?: number;
  logger?: Logger;
  /** The directory's lock when the caller holds it (several stores on one directory); else taken here. */
  lock?: DirLock;
  /** Shared with the other stores of the directory (see write-guard.ts); else one of its own. */
  guard?: WriteGuard;
  /** How often a log that cannot write for want of space probes whether it can again. Default 1 s. */
  probeIntervalMs?: number;
}

export interface SegmentLogStats {
  /** Writes to the decision log, one per group-committed batch. */
  decisionWrites: number;
  decisionRecords: number;
}

export interface PruneOptions {
  /**
   * Only segments whose file was last modified before this time (ms since the epoch) go. A closed segment
   * is never written again, so its mtime is when its newest record was written. Deletion stops at the
   * first segment that is too new, so what is kept stays one unbroken suffix of the log.
   */
  modifiedBefore?: number;
}

export interface PruneResult {
  segmentsRemoved: number;
  bytesRemoved: number;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_PROBE_INTERVAL_MS = 1000;
/**
 * The largest read of the active segment done synchronously (see `readPage`): a shipper's whole page (up
 * to 2000 records of about 440 bytes, read in chunks of up to 1 MiB) of what was written in the last
 * 100 ms, which is in the page cache. Through the pool it would be an open, a read and a close, three
 * hand-offs to another thread and back for every page.
 */
const SYNC_READ_MAX = 1024 * 1024;
/** How many of its last cursors a log remembers as its own (see `issued`). */
const ISSUED_KEPT = 32;

/**
 * Records waiting for one write: every append of a turn of the event loop shares it (and its promise),
 * or, with `fsync: "always"`, one append alone.
 */
interface Batch {
  lines: LineBuffer;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The write buffer a batch starts with; it grows for a bigger batch. */
const BATCH_BYTES = 64 * 1024;
/**
 * A buffer that grew past this for one big batch is not kept for the next. Batch checks under load fill
 * a turn with 32 requests of 100 records (about 1.3 MB): at 1 MiB the buffer was dropped and grown again,
 * copying as it doubled, every turn (5 % of the batch route's CPU in a profile).
 */
const BATCH_BYTES_KEPT = 8 * 1024 * 1024;

interface Opened {
  fh: FileHandle;
  size: number;
  segments: number[];
  closedSizes: Map<number, number>;
}

export class SegmentLog implements DecisionLog {
  private readonly root: string;
  private readonly fsync: FsyncMode;
  private readonly segmentBytes: number;
  // `activeSize` counts only bytes whose write has returned: readers never go past it, so they never see
  // half a batch.
  private activeFh: FileHandle;
  private activeSize: number;
  private readonly segments: number[];
  private readonly closedSizes: Map<number, number>;
  /** Batches waiting for their write, oldest first. */
  private readonly queue: Batch[] = [];
  /** The batch appends join (the last of `queue`), until a drain takes it. */
  private accepting: Batch | undefined;
  /** A write buffer free for the next batch: two take turns, one written while the other fills. */
  private spare: LineBuffer | undefined;
  /** A drain is set to start (setImmediate) or under way: appends only join the queue. */
  private immediate: NodeJS.Immediate | undefined;
  private running = false;
  /** The last drain started, for `close` to wait on. */
  private draining: Promise<void> | undefined;
  private readonly counters: SegmentLogStats = { decisionWrites: 0, decisionRecords: 0 };
  /** Tail of the promise chain that serialises `prune`. */
  private pruneTail: Promise<unknown> = Promise.resolve();
  /** Pages under way: a prune unlinks nothing until those that began before it changed the layout end. */
  private readonly pagesInFlight = new Set<Promise<unknown>>();
  /**
   * The cursors this log handed out last (`next` of its pages): each marks a record boundary it found
   * itself, so `parseCursor` need not read the byte before it from disk again. A reader that polls (the
   * shipper, a report's catch-up) hands back the cursor it was given, page after page.
   */
  private readonly issued = new Set<string>();
  private closed: Promise<void> | undefined;
  /** Runs while the guard is failed for want of space: probes until writes go through again. */
  private recovery: NodeJS.Timeout | undefined;
  private readonly probeIntervalMs: number;
  private readonly logger: Logger;

  private constructor(
    lock: DirLock,
    opts: { fsync: FsyncMode; segmentBytes: number; probeIntervalMs: number; logger: Logger },
    opened: Opened,
    private readonly guard: WriteGuard,
    /** Set when this log took the lock itself, so its close releases it. */
    private readonly ownLock: DirLock | undefined,
  ) {
    this.root = lock.root;
    this.fsync = opts.fsync;
    this.segmentBytes = opts.segmentBytes;
    this.probeIntervalMs = opts.probeIntervalMs;
    this.logger = opts.logger;
    this.activeFh = opened.fh;
    this.activeSize = opened.size;
    this.segments = opened.segments;
    this.closedSizes = opened.closedSizes;
  }

  static async open(dir: string, options: SegmentLogOptions = {}): Promise<SegmentLog> {
    const settings = segmentLogSettings(options);
    const logger = options.logger ?? SILENT_LOGGER;
    const probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    return DirLock.with(dir, options.lock, async (lock, own) => {
      const opened = await openSegments(lock.root, logger);
      return new SegmentLog(
        lock,
        { ...settings, probeIntervalMs, logger },
        opened,
        options.guard ?? new WriteGuard(),
        own,
      );
    });
  }

  append(records: readonly DecisionRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the store is closed"));
    // A full disk is retried by the write itself (see writeDecisions); anything else needs a reopen.
    if (this.guard.failed && !this.guard.recoverable) return Promise.reject(this.guard.unavailable());
    if (records.length === 0) return Promise.resolve();
    // `always`: each append is a write of its own. Otherwise every append of this turn (the checks of
    // every request that arrived together) joins one batch, written once the event loop has run what
    // its poll phase read (setImmediate).
    const own = this.fsync === "always";
    let batch = own ? undefined : this.accepting;
    if (batch === undefined) {
      batch = this.newBatch(own ? new LineBuffer(1024) : this.takeSpare());
      if (!own) this.accepting = batch;
    }
    const { lines } = batch;
    const start = lines.length;
    const before = lines.lines;
    // Serialised now, so the caller may reuse its objects as soon as append returns.
    try {
      for (const record of records) lines.push(record);
    } catch (err) {
      lines.length = start;
      lines.lines = before;
      if (own) this.queue.pop();
      return Promise.reject(err); // a record JSON cannot hold (a cycle, a bigint): refused, not thrown
    }
    if (!this.running && this.immediate === undefined) this.immediate = setImmediate(this.kick);
    return batch.done;
  }

  private newBatch(lines: LineBuffer): Batch {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    const batch: Batch = { lines, done, resolve, reject };
    this.queue.push(batch);
    return batch;
  }

  private takeSpare(): LineBuffer {
    const spare = this.spare ?? new LineBuffer(BATCH_BYTES);
    this.spare = undefined;
    return spare;
  }

  private readonly kick = (): void => {
    this.immediate = undefined;
    this.running = true;
    this.draining = this.drain();
  };

  /** With `positions`, also each record's cursor: the report counts by position (file/aggregate-store.ts). */
  page(opts: {
    after?: string;
    limit: number;
    positions?: boolean;
  }): Promise<{ records: DecisionRecord[]; next: string | null; positions?: string[] }> {
    const positions: string[] | undefined = opts.positions ? [] : undefined;
    return this.track(
      this.readPage(opts, (buf, start, end, seg, base) => {
        // Past the newline: where the next record starts.
        positions?.push(encodeCursor({ seg, off: base + end + 1 }));
        try {
          return JSON.parse(buf.toString("utf8", start, end)) as DecisionRecord;
        } catch {
          throw this.corrupt({ seg, off: base + start }, "unreadable record");
        }
      }),
    ).then(({ items, next }) =>
      positions === undefined ? { records: items, next } : { records: items, next, positions },
    );
  }

  /**
   * As `page`, but the records as the lines written (JSON text, no newline), unparsed: for the Redis
   * shipper, which forwards them as they are. With `until` (a cursor of this log), the page stops there.
   */
  pageLines(opts: {
    after?: string;
    until?: string;
    limit: number;
  }): Promise<{ lines: string[]; next: string | null }> {
    return this.track(this.readPage(opts, (buf, start, end) => buf.toString("utf8", start, end))).then(
      ({ items, next }) => ({ lines: items, next }),
    );
  }

  /**
   * As `pageLines`, but each record as its bytes, handed to `take` as a range of a buffer (no newline)
   * that nobody writes to again: what `take` returns is the page's items. For a reader that forwards the
   * bytes without making strings of them.
   */
  pageRaw<T>(
    opts: { after?: string; until?: string; limit: number },
    take: (buf: Buffer, start: number, end: number) => T,
  ): Promise<{ items: T[]; next: string | null }> {
    return this.track(this.readPage(opts, take));
  }

  private track<T>(read: Promise<T>): Promise<T> {
    this.pagesInFlight.add(read);
    const done = () => this.pagesInFlight.delete(read);
    read.then(done, done);
    return read;
  }

  private async readPage<T>(
    opts: { after?: string; until?: string; limit: number },
    /** A record is `buf[start, end)`; `buf[0]` lies at byte `base` of segment `seg`. */
    take: (buf: Buffer, start: number, end: number, seg: number, base: number) => T,
  ): Promise<{ items: T[]; next: string | null }> {
    const { after, limit } = opts;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    if (this.closed) throw new StoreUnavailableError("the store is closed");
    let pos: Position =
      after === undefined ? { seg: this.segments[0] ?? 1, off: 0 } : await this.parseCursor(after);
    const until = opts.until === undefined ? undefined : await this.parseCursor(opts.until);
    const startSeg = pos.seg;
    const items: T[] = [];
    let reader: { seg: number; fh: FileHandle } | undefined;
    let chunk = Math.min(4 << 20, Math.max(64 << 10, limit * 512));
    try {
      while (items.length < limit) {
        if (until !== undefined && (pos.seg > until.seg || (pos.seg === until.seg && pos.off >= until.off)))
          break;
        // A segment pruned meanwhile has no end any more (0): the page moves on to the next one kept. Its
        // file is still there (see pruneNow), so a segment looked up before the prune can still be opened.
        const end =
          until?.seg === pos.seg ? Math.min(until.off, this.segmentEnd(pos.seg)) : this.segmentEnd(pos.seg);
        if (pos.off >= end) {
          const next = this.segments.find((s) => s > pos.seg);
          if (next === undefined || (until !== undefined && next > until.seg)) break;
          pos = { seg: next, off: 0 };
          continue;
        }
        const want = Math.min(end - pos.off, chunk);
        let buf: Buffer;
        if (pos.seg === this.activeSegment && want <= SYNC_READ_MAX) {
          // The tail of the segment being written: read through its own handle, synchronously (what was
          // just written is in the page cache; a tail page of a polling reader is a few kilobytes).
          // Checked and read in one step, so a rotation or a close cannot come between; no open or close
          // per page. A larger read (a backlog after a restart, maybe not cached) goes through the pool.
          if (this.closed) throw new StoreUnavailableError("the store is closed");
          buf = readRangeSync(this.activeFh.fd, pos.off, pos.off + want);
        } else {
          if (reader?.seg !== pos.seg) {
            await reader?.fh.close();
            reader = undefined;
            reader = { seg: pos.seg, fh: await open(this.segmentPath(pos.seg), "r") };
          }
          buf = await readRange(reader.fh, pos.off, pos.off + want);
        }
        if (buf.length < want) throw this.corrupt(pos, "segment is shorter than written");
        const lastNewline = buf.lastIndexOf(NEWLINE);
        if (lastNewline === -1) {
          if (want === end - pos.off) throw this.corrupt(pos, "segment ends inside a record");
          chunk *= 2; // one record longer than the chunk
          continue;
        }
        let from = 0;
        while (from <= lastNewline && items.length < limit) {
          const nl = buf.indexOf(NEWLINE, from);
          items.push(take(buf, from, nl, pos.seg, pos.off));
          from = nl + 1;
        }
        pos = { seg: pos.seg, off: pos.off + from };
      }
    } finally {
      await reader?.fh.close();
    }
    // Never null: at the end the cursor still marks where the next record will be, so a reporter polls.
    // The same string back when nothing was found, unless its segment was pruned under this page.
    const same = items.length === 0 && after !== undefined && this.segments.includes(startSeg);
    const next = same ? after : encodeCursor(pos);
    this.issued.add(next);
    if (this.issued.size > ISSUED_KEPT) this.issued.delete(this.issued.values().next().value as string);
    return { items, next };
  }

  /**
   * The cursor just past the last record written: every record appended from now on lies after it (the
   * file ingest index notes it with each claim, see file/ingest-index.ts).
   */
  end(): string {
    return encodeCursor({ seg: this.activeSegment, off: this.activeSize });
  }

  /**
   * Deletes the decision segments that lie wholly before `beforeCursor`'s segment (never that segment,
   * never the active one), oldest first; with `modifiedBefore`, only those last written before it (see
   * PruneOptions). Cursors into deleted segments are refused afterwards (InvalidCursorError); paging from
   * the start begins at the oldest segment kept. Safe with concurrent appends (they only touch the active
   * segment) and pages (one under way skips what was deleted, moving on to the oldest segment kept; the
   * files go only once such pages are done, so none fails on a missing file). Prunes run one at a time.
   * Never called by the log itself: see the module header.
   */
  prune(beforeCursor: string, opts: PruneOptions = {}): Promise<PruneResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the store is closed"));
    const result = this.pruneTail.then(() => this.pruneNow(beforeCursor, opts));
    this.pruneTail = result.catch(() => undefined);
    return result;
  }

  /**
   * For /readyz: not ready while the log cannot write (see the module header), with the reason; asking
   * also makes sure a log that can heal is probing.
   */
  readiness(name = "decision-log"): Readiness {
    if (!this.guard.failed) return { name, ready: true };
    this.watchRecovery();
    return {
      name,
      ready: false,
      detail: { error: this.guard.reason, recovering: this.guard.recoverable },
    };
  }

  /** Group-commit counters, for tests and metrics. */
  stats(): SegmentLogStats {
    return { ...this.counters };
  }

  /** Flushes pending appends, waits for a prune under way, syncs and closes. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.stopRecovery();
    // Appends of this very turn: written now rather than at the drain they were waiting for.
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.kick();
    }
    await this.draining;
    await this.pruneTail;
    try {
      // A clean stop leaves the decision log durable whatever the fsync mode.
      if (!this.guard.failed) await this.activeFh.datasync();
    } finally {
      await this.activeFh.close().catch(() => undefined);
      await this.ownLock?.release();
    }
  }

  private async drain(): Promise<void> {
    for (let batch = this.queue.shift(); batch !== undefined; batch = this.queue.shift()) {
      if (batch === this.accepting) this.accepting = undefined;
      try {
        // Every append of a batch may have been refused (a record JSON cannot hold): nothing to write.
        if (batch.lines.lines > 0) {
          const slow = this.writeNow(batch.lines);
          if (slow !== undefined) await slow;
        }
        batch.resolve();
      } catch (err) {
        batch.reject(err);
        this.watchRecovery();
      }
      if (this.fsync !== "always" && batch.lines.buf.length <= BATCH_BYTES_KEPT) {
        batch.lines.reset();
        this.spare = batch.lines;
      }
    }
    // No await between the empty check and this: an append cannot slip in unseen.
    this.running = false;
  }

  /** Starts probing (see the module header) when the guard failed for want of space. Idempotent. */
  private watchRecovery(): void {
    if (this.recovery || this.closed || !this.guard.recoverable) return;
    this.logger.warn("decision log: cannot write for want of space; not ready until a write goes through", {
      error: this.guard.reason,
    });
    this.recovery = setInterval(() => {
      void this.guard.heal(join(this.root, DECISIONS_DIR)).then((healed) => {
        if (healed) this.logger.info("decision log: writes go through again; ready");
        if (healed || !this.guard.recoverable) this.stopRecovery();
      });
    }, this.probeIntervalMs);
    this.recovery.unref();
  }

  private stopRecovery(): void {
    clearInterval(this.recovery);
    this.recovery = undefined;
  }

  /**
   * Writes a batch on the event loop's thread when nothing else is needed (no fdatasync, no rotation,
   * the guard not failed): undefined then. Otherwise the promise of `writeDecisions`, which does it all.
   */
  private writeNow(lines: LineBuffer): Promise<void> | undefined {
    if (this.fsync !== "never" || this.guard.failed) return this.writeDecisions(lines);
    if (this.activeSize > 0 && this.activeSize + lines.length > this.segmentBytes)
      return this.writeDecisions(lines);
    this.guard.assertWritable();
    const before = this.activeSize;
    try {
      writeAllSync(this.activeFh.fd, lines.buf, lines.length);
    } catch (err) {
      return this.guard
        .fail(this.activeFh, before, err, this.segmentName(this.activeSegment))
        .then((failure) => {
          throw failure;
        });
    }
    this.written(before, lines);
    return undefined;
  }

  private async writeDecisions(lines: LineBuffer): Promise<void> {
    // After a full disk: cut back what the failed write left, then this write is the probe.
    if (this.guard.failed) await this.guard.heal();
    this.guard.assertWritable();
    if (this.activeSize > 0 && this.activeSize + lines.length > this.segmentBytes) await this.rotate();
    const before = this.activeSize;
    try {
      // Written on the event loop's thread: a page-cache write of a batch takes a few µs of system time,
      // where a promised write costs several times that in user time (the thread pool's hand-off and its
      // promise) for every batch, and the answers wait for the write either way (I5).
      writeAllSync(this.activeFh.fd, lines.buf, lines.length);
      if (this.fsync !== "never") await this.activeFh.datasync();
    } catch (err) {
      throw await this.guard.fail(this.activeFh, before, err, this.segmentName(this.activeSegment));
    }
    this.written(before, lines);
  }

  private written(before: number, lines: LineBuffer): void {
    this.activeSize = before + lines.length;
    this.counters.decisionWrites += 1;
    this.counters.decisionRecords += lines.lines;
  }

  private async rotate(): Promise<void> {
    const oldSeg = this.activeSegment;
    const oldFh = this.activeFh;
    const seg = oldSeg + 1;
    let fh: FileHandle | undefined;
    try {
      // A segment is never written again once closed: making it durable now means a torn tail can only
      // ever be in the active segment, the one recovery looks at.
      await oldFh.datasync();
      fh = await openNewSegment(this.segmentPath(seg));
      await syncDir(join(this.root, DECISIONS_DIR));
    } catch (err) {
      await fh?.close().catch(() => undefined);
      throw this.guard.trip(err);
    }
    // Switched synchronously: a concurrent `page` sees either the old or the new layout, never a mix.
    this.closedSizes.set(oldSeg, this.activeSize);
    this.segments.push(seg);
    this.activeFh = fh;
    this.activeSize = 0;
    await oldFh.close().catch(() => undefined);
  }

  private async pruneNow(beforeCursor: string, opts: PruneOptions): Promise<PruneResult> {
    this.guard.assertWritable();
    const { seg: cursorSeg } = await this.parseCursor(beforeCursor);
    // Segments are kept in ascending order and only prunes (one at a time) remove any: the candidates are
    // a prefix of `segments`, all closed (the active segment is the last, and never before a cursor's).
    const doomed: number[] = [];
    for (const seg of this.segments) {
      if (seg >= cursorSeg) break;
      if (opts.modifiedBefore !== undefined) {
        const mtime = await stat(this.segmentPath(seg)).then(
          (st) => st.mtimeMs,
          (err: NodeJS.ErrnoException) => {
            if (err.code === "ENOENT") return Number.NEGATIVE_INFINITY; // already gone: nothing to keep
            throw err;
          },
        );
        if (!(mtime < opts.modifiedBefore)) break;
      }
      doomed.push(seg);
    }
    if (doomed.length === 0) return { segmentsRemoved: 0, bytesRemoved: 0 };

    // Out of the layout first, synchronously (as in `rotate`): a page that starts now never sees them (a
    // cursor into them is refused), and one under way finds them gone at its next step and moves on.
    let bytes = 0;
    for (const seg of doomed) {
      bytes += this.closedSizes.get(seg) ?? 0;
      this.closedSizes.delete(seg);
    }
    this.segments.splice(0, doomed.length);
    // A page under way may have looked a segment up just before, and be about to open or read its file:
    // the files go once every such page is done (pages never wait on a prune, so this always ends).
    await Promise.allSettled([...this.pagesInFlight]);
    let removed = 0;
    try {
      // Oldest first: if this stops part-way (an error, a crash), what is on disk is still a suffix.
      for (const seg of doomed) {
        await unlink(this.segmentPath(seg)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw err;
        });
        removed++;
      }
    } catch (err) {
      const left = doomed.slice(removed).map((seg) => this.segmentName(seg));
      // Not a data problem: the files left are records the caller gave up, back in the log at the next open.
      throw new Error(
        `prune: could not delete ${left[0]} (${(err as Error).message}); ${left.length} pruned segment(s) ` +
          "stay on disk until the next open",
        { cause: err },
      );
    } finally {
      // The unlinks are directory changes: make them durable like the creations in `rotate`.
      if (removed > 0) await syncDir(join(this.root, DECISIONS_DIR));
    }
    return { segmentsRemoved: doomed.length, bytesRemoved: bytes };
  }

  private corrupt(pos: Position, what: string): StoreUnavailableError {
    return new StoreUnavailableError(`decision log ${this.segmentName(pos.seg)} at byte ${pos.off}: ${what}`);
  }

  private get activeSegment(): number {
    return this.segments[this.segments.length - 1] as number;
  }

  private segmentEnd(seg: number): number {
    return seg === this.activeSegment ? this.activeSize : (this.closedSizes.get(seg) ?? 0);
  }

  private segmentName(seg: number): string {
    return `${DECISIONS_DIR}/${segmentFile(seg)}`;
  }

  private segmentPath(seg: number): string {
    return join(this.root, DECISIONS_DIR, segmentFile(seg));
  }

  /** A cursor must name an existing segment and a record boundary in what has been written. */
  private async parseCursor(cursor: string): Promise<Position> {
    const pos = decodeCursor(cursor);
    if (!pos || !this.segments.includes(pos.seg) || pos.off > this.segmentEnd(pos.seg)) {
      throw new InvalidCursorError("not a cursor of this decision log");
    }
    if (pos.off > 0 && !this.issued.has(cursor)) {
      const fh = await open(this.segmentPath(pos.seg), "r");
      try {
        const before = await readRange(fh, pos.off - 1, pos.off);
        if (before[0] !== NEWLINE) throw new InvalidCursorError("not a cursor of this decision log");
      } finally {
        await fh.close();
      }
    }
    return pos;
  }
}

/**
 * Creates the next segment. An empty file of that name is one a rotation that failed on a full disk left
 * (it was never written): it is taken as is. One with data in it is never overwritten.
 */
async function openNewSegment(path: string): Promise<FileHandle> {
  try {
    return await open(path, "ax+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const fh = await open(path, "a+");
    if ((await fh.stat()).size === 0) return fh;
    await fh.close();
    throw err;
  }
}

/** The options' defaults, checked; throws RangeError before anything is opened. */
export function segmentLogSettings(options: SegmentLogOptions): { fsync: FsyncMode; segmentBytes: number } {
  const fsync = options.fsync ?? "never";
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) {
    throw new RangeError(`segmentBytes must be a positive integer, got ${segmentBytes}`);
  }
  return { fsync, segmentBytes };
}

/** Lists the segments, sizes the closed ones and opens the active one, repairing a torn tail. */
async function openSegments(root: string, logger: Logger): Promise<Opened> {
  const dir = join(root, DECISIONS_DIR);
  await mkdir(dir, { recursive: true });
  const segments = await listSegments(dir);
  if (segments.length === 0) segments.push(1);
  const active = segments[segments.length - 1] as number;
  const closedSizes = new Map<number, number>();
  for (const seg of segments.slice(0, -1))
    closedSizes.set(seg, (await stat(join(dir, segmentFile(seg)))).size);
  const path = join(dir, segmentFile(active));
  const fh = await open(path, "a+");
  try {
    const size = await repairTail(fh, path, "decision log", logger);
    await syncDir(root);
    await syncDir(dir);
    return { fh, size, segments, closedSizes };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** `write` may write less than asked (a full disk, a signal): loop until all of `data[0, length)` is in. */
function writeAllSync(fd: number, data: Buffer, length: number): void {
  for (let off = 0; off < length; ) off += writeSync(fd, data, off, length - off);
}
