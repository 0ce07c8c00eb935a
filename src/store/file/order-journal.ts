/**
 * `OrderJournal`: the embedded order store, `<dir>/orders.jsonl`. One AuditEntry per line, each carrying
 * the order's full new state, so a change and its audit entry are one write (I7). A change resolves after
 * its line is written and fdatasynced: it survives a power loss. Orders live wholly in memory (they are
 * few); the journal is the truth they are rebuilt from at open.
 *
 * Recovery. A torn last line is cut off with a warning (torn-tail.ts); anything else that does not verify
 * (a bad line before the end, a broken chain) makes `open` throw `AuditChainError`: stored data is never
 * dropped silently.
 *
 * Snapshots (order-snapshot.ts): every `snapshotEvery` entries the orders are written beside the journal
 * in the background, and `open` loads the last snapshot and replays only the entries after it; the
 * offline verifier still reads the whole chain.
 *
 * What is held: every order, its repeated parts shared with other orders (order-pool.ts), and the last
 * `AUDIT_KEPT` to 2 x `AUDIT_KEPT` audit entries (what the compiler reads after a change). Older entries
 * stay in the journal and are read from there when asked for (`readAudit`), from the nearest checkpoint
 * (a seq and the byte its successor starts at, one per `AUDIT_KEPT` entries) before them. So the heap
 * holds no second copy of an order per audit entry, however long the history.
 */
import { Buffer } from "node:buffer";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import type { Order } from "../../engine/index.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import { type ChainHead, changeEntry, deepFreeze, verifyNext, ZERO_HASH } from "../audit.js";
import { type ApplyChange, AuditChainError, type AuditEntry, type OrderStore } from "../interface.js";
import { DirLock } from "./dir-lock.js";
import { hashParsedEntry } from "./entry-hash.js";
import { readLines, syncDir, writeAll } from "./file-io.js";
import { OrderPool } from "./order-pool.js";
import { entryEndingAt, readSnapshot, SnapshotProblem, writeSnapshot } from "./order-snapshot.js";
import type { JournalPosition } from "./ruleset-snapshot.js";
import { cutTornTail, type TornTail } from "./torn-tail.js";
import { WriteGuard } from "./write-guard.js";

export const JOURNAL_FILE = "orders.jsonl";

export interface OrderJournalOptions {
  logger?: Logger;
  /** The directory's lock when the caller holds it (several stores on one directory); else taken here. */
  lock?: DirLock;
  /** Shared with the other stores of the directory (see write-guard.ts); else one of its own. */
  guard?: WriteGuard;
  /** Entries between two snapshots (default 10 000); 0: none. */
  snapshotEvery?: number;
  /** Audit entries held in memory, at least (default `AUDIT_KEPT`); tests make it small. */
  auditKept?: number;
  /**
   * Called between lines while the open reads the snapshot and the journal: a promise to await (the
   * event loop runs meanwhile) or undefined to go on. Given when the open runs in the background of a
   * server that answers checks meanwhile (`Pacer`); it may throw to stop the open.
   */
  pace?: Pace;
}

/** An open stopped by a close (see `Pacer`): nothing wrong with the journal. */
export class OpenStoppedError extends StoreUnavailableError {
  override readonly name = "OpenStoppedError";
  constructor() {
    super("the store was closed while it opened");
  }
}

/** See `OrderJournalOptions.pace`. */
export type Pace = () => Promise<void> | undefined;

/**
 * A `Pace` that lets the event loop run (a macrotask) once `sliceMs` passed since it last did, and
 * throws `OpenStoppedError` once `stop` was called (a close during the open).
 */
export class Pacer {
  private until = 0;
  private stopped = false;

  constructor(private readonly sliceMs = 8) {}

  readonly pace: Pace = () => {
    if (this.stopped) throw new OpenStoppedError();
    const now = performance.now();
    if (this.until === 0) this.until = now + this.sliceMs;
    if (now < this.until) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.until = performance.now() + this.sliceMs;
    });
  };

  stop(): void {
    this.stopped = true;
  }
}

const SNAPSHOT_EVERY = 10_000;
/**
 * Audit entries held in memory, at least (at most twice as many): more than a compile falls behind by
 * in practice, so the compiler's `readAudit` after a change does not touch the disk.
 */
export const AUDIT_KEPT = 10_000;

/** A journal position: entries up to `seq` end at byte `bytes`. */
interface Checkpoint {
  seq: number;
  bytes: number;
}

/**
 * The audit entries held in memory, the last ones of the journal: `entries[i]` has seq
 * `base.seq + 1 + i` and ends at byte `ends[i]`; the entries up to `base.seq` are the journal's first
 * `base.bytes` bytes, and `checkpoints` (ascending, the first one `{0, 0}`) are positions in them.
 */
class AuditWindow {
  readonly entries: AuditEntry[] = [];
  private ends: number[] = [];
  readonly checkpoints: Checkpoint[];

  constructor(
    public base: Checkpoint,
    private readonly kept: number,
  ) {
    this.checkpoints = base.seq === 0 ? [base] : [{ seq: 0, bytes: 0 }, base];
  }

  push(entry: AuditEntry, end: number): void {
    this.entries.push(entry);
    this.ends.push(end);
    if (this.entries.length >= 2 * this.kept) this.trim();
  }

  /** Lets go of all but the last `kept` entries; the new base becomes a checkpoint. */
  private trim(): void {
    const drop = this.entries.length - this.kept;
    const last = this.entries[drop - 1] as AuditEntry;
    this.base = { seq: last.seq, bytes: this.ends[drop - 1] as number };
    this.checkpoints.push(this.base);
    this.entries.splice(0, drop);
    this.ends = this.ends.slice(drop);
  }

  /** Where entry `seq` ends and its hash, while it is held (or is the base, given its hash). */
  position(seq: number, head: ChainHead, size: number): JournalPosition | undefined {
    if (seq === head.seq) return { seq, hash: head.hash, bytes: size };
    const i = seq - this.base.seq - 1;
    const entry = this.entries[i];
    return entry === undefined ? undefined : { seq, hash: entry.hash, bytes: this.ends[i] as number };
  }

  /** The last checkpoint at or before `seq`: where to start reading the journal for the entries after it. */
  checkpointBefore(seq: number): Checkpoint {
    let found = this.checkpoints[0] as Checkpoint;
    for (const c of this.checkpoints) if (c.seq <= seq) found = c;
    return found;
  }
}

interface Replayed {
  fh: FileHandle;
  size: number;
  orders: Map<string, Order>;
  audit: AuditWindow;
  head: ChainHead;
  /** The seq of the snapshot loaded, or 0. */
  snapshotSeq: number;
}

export class OrderJournal implements OrderStore {
  private readonly fh: FileHandle;
  private size: number;
  private readonly orders: Map<string, Order>;
  private readonly audit: AuditWindow;
  private chainHead: ChainHead;
  /** The seq of the last snapshot written or loaded, and the one being written. */
  private snapshotSeq: number;
  private snapshotting: Promise<void> | undefined;
  /** Tail of the promise chain that serialises `applyChange`. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed: Promise<void> | undefined;

  private constructor(
    replayed: Replayed,
    private readonly guard: WriteGuard,
    /** Set when this journal took the lock itself, so its close releases it. */
    private readonly ownLock: DirLock | undefined,
    private readonly root: string,
    private readonly logger: Logger,
    private readonly snapshotEvery: number,
  ) {
    this.fh = replayed.fh;
    this.size = replayed.size;
    this.orders = replayed.orders;
    this.audit = replayed.audit;
    this.chainHead = replayed.head;
    this.snapshotSeq = replayed.snapshotSeq;
  }

  static async open(dir: string, options: OrderJournalOptions = {}): Promise<OrderJournal> {
    return DirLock.with(dir, options.lock, async (lock, own) => {
      const logger = options.logger ?? SILENT_LOGGER;
      const replayed = await replay(
        lock.root,
        logger,
        Math.max(1, options.auditKept ?? AUDIT_KEPT),
        options.pace,
      );
      const journal = new OrderJournal(
        replayed,
        options.guard ?? new WriteGuard(),
        own,
        lock.root,
        logger,
        options.snapshotEvery ?? SNAPSHOT_EVERY,
      );
      journal.maybeSnapshot();
      return journal;
    });
  }

  /** Starts a snapshot in the background once `snapshotEvery` entries came after the last one. */
  private maybeSnapshot(): void {
    if (this.snapshotEvery <= 0 || this.snapshotting || this.closed) return;
    if (this.chainHead.seq - this.snapshotSeq < this.snapshotEvery) return;
    // Taken now, in one go: the orders are frozen, so this list is the state as of this head.
    const state = { head: { ...this.chainHead }, journalBytes: this.size, orders: [...this.orders.values()] };
    this.snapshotting = this.writeSnapshot(state).finally(() => {
      this.snapshotting = undefined;
    });
  }

  /** Writes a snapshot now (the background one does the same); resolves once it is durable. */
  async snapshot(): Promise<void> {
    await this.snapshotting;
    await this.writeSnapshot({
      head: { ...this.chainHead },
      journalBytes: this.size,
      orders: [...this.orders.values()],
    });
  }

  private async writeSnapshot(state: Parameters<typeof writeSnapshot>[1]): Promise<void> {
    if (state.head.seq === 0) return; // an empty journal: nothing to stand for
    try {
      await writeSnapshot(this.root, state);
      this.snapshotSeq = Math.max(this.snapshotSeq, state.head.seq);
    } catch (err) {
      // Only a cache of the journal: the next open replays more, nothing is lost.
      this.logger.warn("order journal: snapshot not written", { error: (err as Error).message });
    }
  }

  async listOrders(): Promise<Order[]> {
    return [...this.orders.values()];
  }

  async getOrder(id: string): Promise<Order | undefined> {
    return this.orders.get(id);
  }

  readonly applyChange: ApplyChange = (orderId, action, actor, at, change) => {
    if (this.closed) return Promise.reject(new StoreUnavailableError("the store is closed"));
    // Each change reads the state the previous one left: two concurrent approvals cannot both see
    // "pending". `change` runs inside the critical section, so its checks and the write are atomic.
    const run = async (): Promise<AuditEntry> => {
      this.guard.assertWritable();
      const next = change(this.orders.get(orderId));
      const entry = deepFreeze(changeEntry(this.chainHead, { orderId, action, actor, at, order: next }));
      const line = Buffer.from(`${JSON.stringify(entry)}\n`, "utf8");
      const before = this.size;
      try {
        await writeAll(this.fh, line);
        await this.fh.datasync();
      } catch (err) {
        throw await this.guard.fail(this.fh, before, err, JOURNAL_FILE);
      }
      this.size = before + line.length;
      this.orders.set(orderId, entry.order);
      this.audit.push(entry, this.size);
      this.chainHead = { seq: entry.seq, hash: entry.hash };
      this.maybeSnapshot();
      return entry;
    };
    const result = this.tail.then(run);
    this.tail = result.catch(() => undefined);
    return result;
  };

  async readAudit(opts: { orderId?: string; after?: number; limit?: number }): Promise<AuditEntry[]> {
    const { orderId, after = 0, limit = Number.POSITIVE_INFINITY } = opts;
    const out: AuditEntry[] = [];
    // Taken together before any await: a change appended meanwhile may move the window on.
    const { base, entries } = this.audit;
    const held = entries.slice();
    // Older entries are read from the journal (rare: a full audit listing, an order's page), from the
    // checkpoint before the first one asked for.
    if (Math.floor(after) < base.seq) {
      const from = this.audit.checkpointBefore(Math.floor(after));
      for await (const line of readLines(join(this.root, JOURNAL_FILE), from.bytes)) {
        if (line.start >= base.bytes || out.length >= limit) break;
        const entry = JSON.parse(line.text) as AuditEntry;
        if (entry.seq > after && (orderId === undefined || entry.orderId === orderId))
          out.push(deepFreeze(entry));
      }
    }
    // The rest are held in seq order without gaps: seq n sits at index n - base.seq - 1.
    for (let i = Math.max(0, Math.floor(after) - base.seq); i < held.length && out.length < limit; i++) {
      const entry = held[i] as AuditEntry;
      if (orderId === undefined || entry.orderId === orderId) out.push(entry);
    }
    return out;
  }

  async head(): Promise<{ seq: number; hash: string }> {
    return { ...this.chainHead };
  }

  /**
   * Where entry `seq` ends in the journal, with its hash: what a ruleset snapshot of version `seq` keeps.
   * Known for the entries held in memory (the last ones), else undefined.
   */
  positionOf(seq: number): JournalPosition | undefined {
    return this.audit.position(seq, this.chainHead, this.size);
  }

  /** Waits for pending changes and closes. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.tail;
      await this.snapshotting;
      try {
        await this.fh.close();
      } finally {
        await this.ownLock?.release();
      }
    })();
    return this.closed;
  }
}

export interface JournalReplay {
  head: ChainHead;
  /** Bytes up to the end of the last verified entry. */
  validBytes: number;
  /** A last line that is not a whole entry: a write that never returned, so never acknowledged. */
  torn?: TornTail;
}

/**
 * Reads a journal from the start, verifying the chain entry by entry and handing each entry over.
 * Throws `AuditChainError` (naming the first seq that does not verify) for anything but a torn last
 * line. Shared by the store and the offline verifier, so both judge a file the same way.
 */
export async function replayJournal(
  path: string,
  /** Each verified entry, with the byte its line ends at. */
  onEntry: (entry: AuditEntry, end: number) => void,
  /** Where to start: the end of a verified entry (a snapshot's) and that entry's head. */
  start: { offset: number; head: ChainHead } = { offset: 0, head: { seq: 0, hash: ZERO_HASH } },
  pace?: Pace,
): Promise<JournalReplay> {
  let head: ChainHead = start.head;
  let validBytes = start.offset;
  let torn: JournalReplay["torn"];
  for await (const line of readLines(path, start.offset)) {
    const paused = pace?.();
    if (paused) await paused;
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
    const problem = verifyNext(head, entry, hashParsedEntry);
    if (problem !== undefined)
      throw new AuditChainError(`${path} at byte ${line.start}: ${problem}`, head.seq + 1);
    const verified = entry as AuditEntry;
    onEntry(verified, line.end);
    head = { seq: verified.seq, hash: verified.hash };
    validBytes = line.end;
  }
  return torn ? { head, validBytes, torn } : { head, validBytes };
}

/** Opens (creating) the journal, replays it into memory and repairs a torn tail. */
async function replay(root: string, logger: Logger, auditKept: number, pace?: Pace): Promise<Replayed> {
  const path = join(root, JOURNAL_FILE);
  const fh = await open(path, "a+");
  try {
    const orders = new Map<string, Order>();
    let pool = new OrderPool();
    let base = { seq: 0, bytes: 0 };
    let start: Parameters<typeof replayJournal>[2];
    try {
      const snapshot = await readSnapshot(root, fh, (order) => pool.adopt(order), pace);
      if (snapshot) {
        // A million orders: paced too, or this loop alone holds the event loop for a second.
        for (let i = 0; i < snapshot.orders.length; i++) {
          const paused = i % 4096 === 0 ? pace?.() : undefined;
          if (paused) await paused;
          const order = snapshot.orders[i] as Order;
          orders.set(order.id, order);
        }
        base = { seq: snapshot.header.seq, bytes: snapshot.header.journalBytes };
        start = { offset: base.bytes, head: { seq: snapshot.header.seq, hash: snapshot.header.hash } };
      }
    } catch (err) {
      if (!(err instanceof SnapshotProblem)) throw err;
      pool = new OrderPool(); // nothing of an unusable snapshot is kept
      logger.warn("order journal: snapshot ignored, replaying the whole journal", { reason: err.message });
    }
    const audit = new AuditWindow(base, auditKept);
    const replayed = await replayJournal(
      path,
      (entry, end) => {
        // Verified against its hash already: sharing parts keeps its JSON (and so its hash) as it is.
        pool.adopt(entry.order);
        deepFreeze(entry);
        orders.set(entry.orderId, entry.order);
        audit.push(entry, end);
      },
      start,
      pace,
    );
    if (replayed.torn) await cutTornTail(fh, path, replayed.torn, "order journal", logger);
    // The journal's name lives in the directory: synced too, or a power loss can lose a new file.
    await syncDir(root);
    return { fh, size: replayed.validBytes, orders, audit, head: replayed.head, snapshotSeq: base.seq };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** What a journal holds after a given entry: the orders it changed (each its last state) and where it ends. */
export interface JournalTail {
  /** The last verified entry: the journal's head. */
  head: JournalPosition;
  /** Each order changed after the given entry, in its state at `head`. */
  orders: Order[];
}

/**
 * The entries of the journal in `root` after the one at `from`, chain-verified from it, without opening
 * the store (a start that has the ruleset as of `from` and needs only what came after). Throws
 * `SnapshotProblem` when the journal has no such entry at `from.bytes` (shorter, or another history),
 * `AuditChainError` for an entry after it that does not verify. A torn last line is left alone (it was
 * never acknowledged; the store's open cuts it).
 */
export async function readJournalTail(root: string, from: JournalPosition): Promise<JournalTail> {
  const path = join(root, JOURNAL_FILE);
  const fh = await open(path, "r");
  try {
    const entry =
      from.seq === 0 && from.bytes === 0 ? { seq: 0, hash: ZERO_HASH } : await entryEndingAt(fh, from.bytes);
    if (entry === undefined || entry.seq !== from.seq || entry.hash !== from.hash)
      throw new SnapshotProblem(
        `the journal has no entry ${from.seq} ending at byte ${from.bytes}: it is shorter or differs`,
      );
  } finally {
    await fh.close();
  }
  const changed = new Map<string, Order>();
  const replayed = await replayJournal(
    path,
    (entry) => {
      changed.set(entry.orderId, entry.order);
    },
    { offset: from.bytes, head: { seq: from.seq, hash: from.hash } },
  );
  return {
    head: { seq: replayed.head.seq, hash: replayed.head.hash, bytes: replayed.validBytes },
    orders: [...changed.values()],
  };
}
