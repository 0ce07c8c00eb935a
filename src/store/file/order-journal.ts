/**
 * `OrderJournal`: the embedded order store, `<dir>/orders.jsonl`. One AuditEntry per line, each carrying
 * the order's full new state, so a change and its audit entry are one write (I7). A change resolves after
 * its line is written and fdatasynced: it survives a power loss. Orders live wholly in memory (they are
 * few); the journal is the truth they are rebuilt from at open.
 *
 * Recovery. A torn last line is cut off with a warning (torn-tail.ts); anything else that does not verify
 * (a bad line before the end, a broken chain) makes `open` throw `AuditChainError`: stored data is never
 * dropped silently.
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
import { readLines, syncDir, writeAll } from "./file-io.js";
import { cutTornTail, type TornTail } from "./torn-tail.js";
import { WriteGuard } from "./write-guard.js";

export const JOURNAL_FILE = "orders.jsonl";

export interface OrderJournalOptions {
  logger?: Logger;
  /** The directory's lock when the caller holds it (several stores on one directory); else taken here. */
  lock?: DirLock;
  /** Shared with the other stores of the directory (see write-guard.ts); else one of its own. */
  guard?: WriteGuard;
}

interface Replayed {
  fh: FileHandle;
  size: number;
  orders: Map<string, Order>;
  audit: AuditEntry[];
  head: ChainHead;
}

export class OrderJournal implements OrderStore {
  private readonly fh: FileHandle;
  private size: number;
  private readonly orders: Map<string, Order>;
  private readonly audit: AuditEntry[];
  private chainHead: ChainHead;
  /** Tail of the promise chain that serialises `applyChange`. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed: Promise<void> | undefined;

  private constructor(
    replayed: Replayed,
    private readonly guard: WriteGuard,
    /** Set when this journal took the lock itself, so its close releases it. */
    private readonly ownLock: DirLock | undefined,
  ) {
    this.fh = replayed.fh;
    this.size = replayed.size;
    this.orders = replayed.orders;
    this.audit = replayed.audit;
    this.chainHead = replayed.head;
  }

  static async open(dir: string, options: OrderJournalOptions = {}): Promise<OrderJournal> {
    return DirLock.with(dir, options.lock, async (lock, own) => {
      const replayed = await replay(lock.root, options.logger ?? SILENT_LOGGER);
      return new OrderJournal(replayed, options.guard ?? new WriteGuard(), own);
    });
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
      this.audit.push(entry);
      this.chainHead = { seq: entry.seq, hash: entry.hash };
      return entry;
    };
    const result = this.tail.then(run);
    this.tail = result.catch(() => undefined);
    return result;
  };

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

  /** Waits for pending changes and closes. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.tail;
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

/** Opens (creating) the journal, replays it into memory and repairs a torn tail. */
async function replay(root: string, logger: Logger): Promise<Replayed> {
  const path = join(root, JOURNAL_FILE);
  const fh = await open(path, "a+");
  try {
    const orders = new Map<string, Order>();
    const audit: AuditEntry[] = [];
    const replayed = await replayJournal(path, (entry) => {
      deepFreeze(entry);
      orders.set(entry.orderId, entry.order);
      audit.push(entry);
    });
    if (replayed.torn) await cutTornTail(fh, path, replayed.torn, "order journal", logger);
    // The journal's name lives in the directory: synced too, or a power loss can lose a new file.
    await syncDir(root);
    return { fh, size: replayed.validBytes, orders, audit, head: replayed.head };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}
