/**
 * `FileStore`: the embedded store in `CORDON_DATA_DIR`, no services needed. It owns this layout:
 *
 *   <dir>/LOCK                     pid of the process that has the directory open
 *   <dir>/orders.jsonl             the order journal: one AuditEntry per line, each carrying the order's
 *                                  full new state, so a change and its audit entry are one write (I7)
 *   <dir>/decisions/000001.jsonl   the decision log (I5): one DecisionRecord per line, in segments of at
 *                                  most `segmentBytes` (a bigger single batch gets a segment of its own)
 *
 * Durability. An order change resolves after its line is written and fdatasynced: it survives a power
 * loss. Decision records resolve after the write that carries them returns, so the data is in the kernel
 * and a kill -9 of the process cannot lose it; with `fsync: "batch" | "always"` each write is also
 * fdatasynced before anyone waiting on it resolves. Appends are group-committed: everything appended
 * while a write is in flight (or in the same tick) goes out in the next single write, in call order.
 *
 * Recovery. At open, a torn last line (no trailing newline, or not JSON) is an unacknowledged write: it
 * is truncated with a warning. Anything else that does not verify (a bad line before the end, a broken
 * chain) makes `open` throw `AuditChainError`: stored data is never dropped silently. After a failed write
 * or fdatasync the store refuses further writes (StoreUnavailableError): after a failed fsync the page
 * cache can no longer be trusted to match the disk, and reopening (which replays and repairs) is the
 * one safe way back.
 *
 * One process per directory: two writers would fork the chain and interleave segments, so a second open
 * (in this process, or in another live one) fails.
 *
 * Retention. The store never deletes decision records on its own: in embedded mode the decision log IS
 * the record the report is built from. `prune(cursor)` deletes whole closed segments before the cursor's
 * segment, for a caller that knows they are kept elsewhere (the Redis mode's `StreamShipper`, once they
 * are in the stream). What is left is always a suffix of the log: paging from the start begins at the
 * oldest segment kept, and a cursor into a deleted segment is refused with InvalidCursorError.
 */

import { Buffer } from "node:buffer";
import { type FileHandle, mkdir, open, readdir, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { DecisionRecord, Order } from "../../engine/index.js";
import { InvalidCursorError, StoreUnavailableError } from "../../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import { acquirePidLock, releasePidLock } from "../../platform/node/pid-lock.js";
import { type ChainHead, changeEntry, deepFreeze, verifyNext, ZERO_HASH } from "../audit.js";
import { type AuditAction, AuditChainError, type AuditEntry, type Store } from "../interface.js";

export type FsyncMode = "always" | "batch" | "never";

export interface FileStoreOptions {
  /**
   * Decision log only; orders are always fdatasynced. `never` (default): kill -9 safe, not power-loss
   * safe. `batch`: one fdatasync per group-committed write. `always`: one write and one fdatasync per
   * `append` call, no batching across calls (same durability as `batch`, at a lower rate).
   */
  fsync?: FsyncMode;
  /** Rotate the decision segment before a write would take it past this size. Default 64 MiB. */
  segmentBytes?: number;
  logger?: Logger;
}

export interface FileStoreStats {
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

export const JOURNAL_FILE = "orders.jsonl";
const DECISIONS_DIR = "decisions";
const LOCK_FILE = "LOCK";
const SEGMENT_NAME = /^(\d{6,})\.jsonl$/;
const NEWLINE = 0x0a;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/** Data directories open in this process (resolved paths). */
const openDirs = new Set<string>();

interface PendingAppend {
  data: string;
  count: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Position {
  seg: number;
  off: number;
}

interface Opened {
  root: string;
  opts: Required<FileStoreOptions>;
  journal: { fh: FileHandle; size: number; orders: Map<string, Order>; audit: AuditEntry[]; head: ChainHead };
  decisions: { fh: FileHandle; size: number; segments: number[]; closedSizes: Map<number, number> };
}

export class FileStore implements Store {
  private readonly root: string;
  private readonly fsync: FsyncMode;
  private readonly segmentBytes: number;

  // Orders live wholly in memory (they are few); the journal is the truth they are rebuilt from.
  private readonly orders: Map<string, Order>;
  private readonly audit: AuditEntry[];
  private chainHead: ChainHead;
  private readonly journalFh: FileHandle;
  private journalSize: number;
  /** Tail of the promise chain that serialises `applyChange`. */
  private orderTail: Promise<unknown> = Promise.resolve();

  // Decision log. `activeSize` counts only bytes whose write has returned: readers never go past it,
  // so they never see half a batch.
  private activeFh: FileHandle;
  private activeSize: number;
  private readonly segments: number[];
  private readonly closedSizes: Map<number, number>;
  private queue: PendingAppend[] = [];
  private draining: Promise<void> | undefined;
  private readonly counters: FileStoreStats = { decisionWrites: 0, decisionRecords: 0 };
  /** Tail of the promise chain that serialises `prune`. */
  private pruneTail: Promise<unknown> = Promise.resolve();
  /** Pages under way: a prune unlinks nothing until those that began before it changed the layout end. */
  private readonly pagesInFlight = new Set<Promise<unknown>>();

  private closed: Promise<void> | undefined;
  /** Set when a write or sync failed: memory and disk may disagree, so nothing more is written. */
  private failure: Error | undefined;

  private constructor(o: Opened) {
    this.root = o.root;
    this.fsync = o.opts.fsync;
    this.segmentBytes = o.opts.segmentBytes;
    this.orders = o.journal.orders;
    this.audit = o.journal.audit;
    this.chainHead = o.journal.head;
    this.journalFh = o.journal.fh;
    this.journalSize = o.journal.size;
    this.activeFh = o.decisions.fh;
    this.activeSize = o.decisions.size;
    this.segments = o.decisions.segments;
    this.closedSizes = o.decisions.closedSizes;
  }

  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const opts: Required<FileStoreOptions> = {
      fsync: options.fsync ?? "never",
      segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      logger: options.logger ?? SILENT_LOGGER,
    };
    if (!Number.isSafeInteger(opts.segmentBytes) || opts.segmentBytes < 1) {
      throw new RangeError(`segmentBytes must be a positive integer, got ${opts.segmentBytes}`);
    }
    const root = resolve(dir);
    // Claimed before the first await, so two concurrent opens in one process cannot both pass.
    if (openDirs.has(root)) throw new StoreUnavailableError(`${root} is already open in this process`);
    openDirs.add(root);
    const handles: FileHandle[] = [];
    let locked = false;
    try {
      await mkdir(join(root, DECISIONS_DIR), { recursive: true });
      await acquireLock(root);
      locked = true;
      const journal = await openJournal(root, opts.logger, handles);
      const decisions = await openDecisions(root, opts.logger, handles);
      // New files' names live in their directories: sync those too, or a power loss can lose a file
      // whose contents were synced.
      await syncDir(root);
      await syncDir(join(root, DECISIONS_DIR));
      return new FileStore({ root, opts, journal, decisions });
    } catch (err) {
      await Promise.allSettled(handles.map((fh) => fh.close()));
      if (locked) await releaseLock(root);
      openDirs.delete(root);
      throw err;
    }
  }

  // ---- orders and audit (I7) ----

  async listOrders(): Promise<Order[]> {
    return [...this.orders.values()];
  }

  async getOrder(id: string): Promise<Order | undefined> {
    return this.orders.get(id);
  }

  applyChange(
    orderId: string,
    action: AuditAction,
    actor: string,
    at: string,
    change: (current: Order | undefined) => Order,
  ): Promise<AuditEntry> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the store is closed"));
    // Each change reads the state the previous one left: two concurrent approvals cannot both see
    // "pending". `change` runs inside the critical section, so its checks and the write are atomic.
    const run = async (): Promise<AuditEntry> => {
      this.assertWritable();
      const next = change(this.orders.get(orderId));
      const entry = deepFreeze(changeEntry(this.chainHead, { orderId, action, actor, at, order: next }));
      const line = Buffer.from(`${JSON.stringify(entry)}\n`, "utf8");
      const before = this.journalSize;
      try {
        await writeAll(this.journalFh, line);
        await this.journalFh.datasync();
      } catch (err) {
        throw await this.fail(this.journalFh, before, err, JOURNAL_FILE);
      }
      this.journalSize = before + line.length;
      this.orders.set(orderId, entry.order);
      this.audit.push(entry);
      this.chainHead = { seq: entry.seq, hash: entry.hash };
      return entry;
    };
    const result = this.orderTail.then(run);
    this.orderTail = result.catch(() => undefined);
    return result;
  }

  async readAudit(opts: { orderId?: string; after?: number; limit?: number }): Promise<AuditEntry[]> {
    const { orderId, after = 0, limit = Number.POSITIVE_INFINITY } = opts;
    const out: AuditEntry[] = [];
    // Entries are held in seq order without gaps: seq n sits at index n - 1.
    for (let i = Math.max(0, Math.floor(after)); i < this.audit.length && out.length < limit; i++) {
      const entry = this.audit[i] as AuditEntry;
      if (orderId === undefined || entry.orderId === orderId) out.push(entry);
    }
    return out;
  }

  async head(): Promise<{ seq: number; hash: string }> {
    return { ...this.chainHead };
  }

  // ---- decision log (I5) ----

  append(records: readonly DecisionRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the store is closed"));
    if (this.failure) return Promise.reject(this.unavailable());
    if (records.length === 0) return Promise.resolve();
    // Serialised now, so the caller may reuse its objects as soon as append returns.
    let data = "";
    try {
      for (const record of records) data += `${JSON.stringify(record)}\n`;
    } catch (err) {
      return Promise.reject(err); // a record JSON cannot hold (a cycle, a bigint): refused, not thrown
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, count: records.length, resolve, reject });
      // Started in a microtask, so every append of this tick joins the first write.
      this.draining ??= Promise.resolve().then(() => this.drain());
    });
  }

  page(opts: { after?: string; limit: number }): Promise<{ records: DecisionRecord[]; next: string | null }> {
    const read = this.readPage(opts);
    this.pagesInFlight.add(read);
    const done = () => this.pagesInFlight.delete(read);
    read.then(done, done);
    return read;
  }

  private async readPage(opts: {
    after?: string;
    limit: number;
  }): Promise<{ records: DecisionRecord[]; next: string | null }> {
    const { after, limit } = opts;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    if (this.closed) throw new StoreUnavailableError("the store is closed");
    let pos: Position =
      after === undefined ? { seg: this.segments[0] ?? 1, off: 0 } : await this.parseCursor(after);
    const startSeg = pos.seg;
    const records: DecisionRecord[] = [];
    let reader: { seg: number; fh: FileHandle } | undefined;
    let chunk = Math.min(4 << 20, Math.max(64 << 10, limit * 512));
    try {
      while (records.length < limit) {
        // A segment pruned meanwhile has no end any more (0): the page moves on to the next one kept. Its
        // file is still there (see pruneNow), so a segment looked up before the prune can still be opened.
        const end = this.segmentEnd(pos.seg);
        if (pos.off >= end) {
          const next = this.segments.find((s) => s > pos.seg);
          if (next === undefined) break;
          pos = { seg: next, off: 0 };
          continue;
        }
        if (reader?.seg !== pos.seg) {
          await reader?.fh.close();
          reader = undefined;
          reader = { seg: pos.seg, fh: await open(this.segmentPath(pos.seg), "r") };
        }
        const want = Math.min(end - pos.off, chunk);
        const buf = await readRange(reader.fh, pos.off, pos.off + want);
        if (buf.length < want) throw this.corrupt(pos, "segment is shorter than written");
        const lastNewline = buf.lastIndexOf(NEWLINE);
        if (lastNewline === -1) {
          if (want === end - pos.off) throw this.corrupt(pos, "segment ends inside a record");
          chunk *= 2; // one record longer than the chunk
          continue;
        }
        let from = 0;
        while (from <= lastNewline && records.length < limit) {
          const nl = buf.indexOf(NEWLINE, from);
          try {
            records.push(JSON.parse(buf.toString("utf8", from, nl)) as DecisionRecord);
          } catch {
            throw this.corrupt({ seg: pos.seg, off: pos.off + from }, "unreadable record");
          }
          from = nl + 1;
        }
        pos = { seg: pos.seg, off: pos.off + from };
      }
    } finally {
      await reader?.fh.close();
    }
    // Never null: at the end the cursor still marks where the next record will be, so a reporter polls.
    // The same string back when nothing was found, unless its segment was pruned under this page.
    const same = records.length === 0 && after !== undefined && this.segments.includes(startSeg);
    return { records, next: same ? after : encodeCursor(pos) };
  }

  /**
   * Deletes the decision segments that lie wholly before `beforeCursor`'s segment (never that segment,
   * never the active one), oldest first; with `modifiedBefore`, only those last written before it (see
   * PruneOptions). Cursors into deleted segments are refused afterwards (InvalidCursorError); paging from
   * the start begins at the oldest segment kept. Safe with concurrent appends (they only touch the active
   * segment) and pages (one under way skips what was deleted, moving on to the oldest segment kept; the
   * files go only once such pages are done, so none fails on a missing file). Prunes run one at a time.
   * Never called by the store itself: see the module header.
   */
  prune(beforeCursor: string, opts: PruneOptions = {}): Promise<PruneResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the store is closed"));
    const result = this.pruneTail.then(() => this.pruneNow(beforeCursor, opts));
    this.pruneTail = result.catch(() => undefined);
    return result;
  }

  /** Group-commit counters, for tests and metrics. */
  stats(): FileStoreStats {
    return { ...this.counters };
  }

  /** Flushes pending appends, waits for pending order changes, syncs and closes. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    await this.orderTail;
    await this.draining;
    await this.pruneTail;
    try {
      // A clean stop leaves the decision log durable whatever the fsync mode.
      if (!this.failure) await this.activeFh.datasync();
    } finally {
      await Promise.allSettled([this.journalFh.close(), this.activeFh.close()]);
      await releaseLock(this.root);
      openDirs.delete(this.root);
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      // `always`: each append alone, so each gets its own fdatasync; otherwise everything waiting.
      const batch = this.fsync === "always" ? this.queue.splice(0, 1) : this.queue.splice(0);
      try {
        await this.writeDecisions(batch);
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    // No await between the empty check and this: an append cannot slip in unseen.
    this.draining = undefined;
  }

  private async writeDecisions(batch: PendingAppend[]): Promise<void> {
    this.assertWritable();
    let text = "";
    let count = 0;
    for (const p of batch) {
      text += p.data;
      count += p.count;
    }
    const data = Buffer.from(text, "utf8");
    if (this.activeSize > 0 && this.activeSize + data.length > this.segmentBytes) await this.rotate();
    const before = this.activeSize;
    try {
      await writeAll(this.activeFh, data);
      if (this.fsync !== "never") await this.activeFh.datasync();
    } catch (err) {
      throw await this.fail(this.activeFh, before, err, this.segmentName(this.activeSegment));
    }
    this.activeSize = before + data.length;
    this.counters.decisionWrites += 1;
    this.counters.decisionRecords += count;
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
      fh = await open(this.segmentPath(seg), "ax+");
      await syncDir(join(this.root, DECISIONS_DIR));
    } catch (err) {
      await fh?.close().catch(() => undefined);
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw this.unavailable();
    }
    // Switched synchronously: a concurrent `page` sees either the old or the new layout, never a mix.
    this.closedSizes.set(oldSeg, this.activeSize);
    this.segments.push(seg);
    this.activeFh = fh;
    this.activeSize = 0;
    await oldFh.close().catch(() => undefined);
  }

  private async pruneNow(beforeCursor: string, opts: PruneOptions): Promise<PruneResult> {
    this.assertWritable();
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

  /** Undoes a partial write if it can, then refuses further writes; returns the error for the callers. */
  private async fail(
    fh: FileHandle,
    size: number,
    err: unknown,
    file: string,
  ): Promise<StoreUnavailableError> {
    this.failure = err instanceof Error ? err : new Error(String(err));
    // Best effort: a partial line left behind is repaired at the next open as a torn tail anyway.
    await fh.truncate(size).catch(() => undefined);
    return new StoreUnavailableError(`write to ${file} failed: ${this.failure.message}`, { cause: err });
  }

  private assertWritable(): void {
    if (this.failure) throw this.unavailable();
  }

  private unavailable(): StoreUnavailableError {
    return new StoreUnavailableError(
      `the store refuses writes after an earlier failure (${this.failure?.message}); reopen it to recover`,
      { cause: this.failure },
    );
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
    if (pos.off > 0) {
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

// ---- the journal ----

export interface JournalReplay {
  head: ChainHead;
  /** Bytes up to the end of the last verified entry. */
  validBytes: number;
  /** A last line that is not a whole entry: a write that never returned, so never acknowledged. */
  torn?: { offset: number; reason: string };
}

/**
 * Reads a journal from the start, verifying the chain entry by entry and handing each entry over.
 * Throws `AuditChainError` (naming the first seq that does not verify) for anything but a torn last
 * line. Shared by the store and the offline verifier, so both judge a file the same way.
 */
export async function replayJournal(
  path: string,
  onEntry: (entry: AuditEntry) => void,
): Promise<JournalReplay> {
  let head: ChainHead = { seq: 0, hash: ZERO_HASH };
  let validBytes = 0;
  let torn: JournalReplay["torn"];
  for await (const line of readLines(path)) {
    if (torn) {
      throw new AuditChainError(
        `${path}: ${torn.reason} at byte ${torn.offset}, before the end`,
        head.seq + 1,
      );
    }
    if (!line.terminated) {
      torn = { offset: line.start, reason: "incomplete line" };
      continue;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(line.text);
    } catch {
      torn = { offset: line.start, reason: "unparsable line" };
      continue;
    }
    const problem = verifyNext(head, entry);
    if (problem !== undefined)
      throw new AuditChainError(`${path} at byte ${line.start}: ${problem}`, head.seq + 1);
    const verified = entry as AuditEntry;
    onEntry(verified);
    head = { seq: verified.seq, hash: verified.hash };
    validBytes = line.end;
  }
  return torn ? { head, validBytes, torn } : { head, validBytes };
}

async function openJournal(root: string, logger: Logger, handles: FileHandle[]): Promise<Opened["journal"]> {
  const path = join(root, JOURNAL_FILE);
  const fh = await open(path, "a+");
  handles.push(fh);
  const orders = new Map<string, Order>();
  const audit: AuditEntry[] = [];
  const replay = await replayJournal(path, (entry) => {
    deepFreeze(entry);
    orders.set(entry.orderId, entry.order);
    audit.push(entry);
  });
  if (replay.torn) {
    const { size } = await fh.stat();
    logger.warn("order journal: truncating a torn last line (a write that was never acknowledged)", {
      file: path,
      offset: replay.torn.offset,
      bytes: size - replay.validBytes,
      reason: replay.torn.reason,
    });
    await fh.truncate(replay.validBytes);
    await fh.datasync();
  }
  return { fh, size: replay.validBytes, orders, audit, head: replay.head };
}

// ---- decision segments ----

async function openDecisions(
  root: string,
  logger: Logger,
  handles: FileHandle[],
): Promise<Opened["decisions"]> {
  const dir = join(root, DECISIONS_DIR);
  const segments = (await readdir(dir))
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  if (segments.length === 0) segments.push(1);
  const active = segments[segments.length - 1] as number;
  const closedSizes = new Map<number, number>();
  for (const seg of segments.slice(0, -1))
    closedSizes.set(seg, (await stat(join(dir, segmentFile(seg)))).size);
  const path = join(dir, segmentFile(active));
  const fh = await open(path, "a+");
  handles.push(fh);
  const size = await repairTail(fh, path, logger);
  return { fh, size, segments, closedSizes };
}

/** Truncates a torn last line (see the module header); returns the size after. */
async function repairTail(fh: FileHandle, path: string, logger: Logger): Promise<number> {
  const { size } = await fh.stat();
  if (size === 0) return 0;
  const [last] = await readRange(fh, size - 1, size);
  let cut: { at: number; reason: string } | undefined;
  if (last !== NEWLINE) {
    cut = { at: await lineStart(fh, size), reason: "incomplete line" };
  } else {
    const start = await lineStart(fh, size - 1);
    const text = (await readRange(fh, start, size - 1)).toString("utf8");
    if (!isJson(text)) cut = { at: start, reason: "unparsable line" };
  }
  if (!cut) return size;
  logger.warn("decision log: truncating a torn last line (a write that was never acknowledged)", {
    file: path,
    offset: cut.at,
    bytes: size - cut.at,
    reason: cut.reason,
  });
  await fh.truncate(cut.at);
  await fh.datasync();
  return cut.at;
}

/** The offset just after the last newline before `end`, or 0. */
async function lineStart(fh: FileHandle, end: number): Promise<number> {
  const step = 64 << 10;
  for (let hi = end; hi > 0; ) {
    const lo = Math.max(0, hi - step);
    const buf = await readRange(fh, lo, hi);
    const i = buf.lastIndexOf(NEWLINE);
    if (i !== -1) return lo + i + 1;
    hi = lo;
  }
  return 0;
}

// ---- cursors ----

function segmentFile(seg: number): string {
  return `${String(seg).padStart(6, "0")}.jsonl`;
}

function encodeCursor(pos: Position): string {
  return Buffer.from(`${pos.seg}:${pos.off}`, "latin1").toString("base64url");
}

function decodeCursor(cursor: string): Position | undefined {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined;
  const match = /^([1-9]\d{0,8}):(0|[1-9]\d{0,14})$/.exec(
    Buffer.from(cursor, "base64url").toString("latin1"),
  );
  if (!match) return undefined;
  const pos = { seg: Number(match[1]), off: Number(match[2]) };
  // One spelling per position: base64url decoding is lenient, and a cursor is compared as a string.
  return encodeCursor(pos) === cursor ? pos : undefined;
}

// ---- file helpers ----

/** Lines of a file with their byte ranges; `terminated` is false for a last line without newline. */
export async function* readLines(
  path: string,
): AsyncGenerator<{ text: string; start: number; end: number; terminated: boolean }> {
  const fh = await open(path, "r");
  try {
    let carry = Buffer.alloc(0);
    let carryStart = 0;
    let pos = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const data =
        carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let from = 0;
      for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, from)) {
        yield {
          text: data.toString("utf8", from, nl),
          start: carryStart + from,
          end: carryStart + nl + 1,
          terminated: true,
        };
        from = nl + 1;
      }
      carry = data.subarray(from);
      carryStart += from;
    }
    if (carry.length > 0) {
      yield {
        text: carry.toString("utf8"),
        start: carryStart,
        end: carryStart + carry.length,
        terminated: false,
      };
    }
  } finally {
    await fh.close();
  }
}

async function readRange(fh: FileHandle, from: number, to: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.max(0, to - from));
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, from + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/** `write` may write less than asked (a full disk, a signal): loop until all of it is in. */
async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (err) {
    // Some platforms and file systems cannot open or sync a directory; there is nothing more to do there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EINVAL" && code !== "EPERM" && code !== "EBADF") throw err;
  } finally {
    await fh?.close();
  }
}

const acquireLock = (root: string) =>
  acquirePidLock(
    join(root, LOCK_FILE),
    (holder) =>
      new StoreUnavailableError(`${root} is in use by process ${holder}: one process per data directory`),
  );
const releaseLock = (root: string) => releasePidLock(join(root, LOCK_FILE));

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
