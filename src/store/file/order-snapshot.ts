/**
 * Snapshots of the order journal, `<dir>/orders.snapshot`: every order's state as of one journal entry,
 * so that an open reads the snapshot and replays only the entries after it, not the whole history.
 *
 * Line-delimited JSON: a header (`seq` and `hash` of the entry it stands for, `journalBytes` where that
 * entry ends in the journal, the number of orders), the orders, and a trailer with the SHA-256 of every
 * byte before it. Format 2 (written now) holds the orders in lines of about `LINE_CHARS` each, a JSON
 * array of orders per line: a million orders are some ten thousand parses and checksum updates of raw
 * bytes, not a million of each (and a line stays below the size where V8 allocates a string on its
 * own pages, several times slower). Format 1 (one order per line, the release before) is still read.
 *
 * Written beside as `orders.snapshot.tmp`, fdatasynced, renamed over the old one and the directory
 * synced: a crash leaves the old snapshot or the new one, whole. A snapshot is only a cache of the
 * journal: one that does not verify, or does not match the journal's entry at its `journalBytes`, is
 * ignored with a warning and the journal is replayed in full.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Order } from "../../engine/index.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { ChainHead } from "../audit.js";
import { NEWLINE, readLineBytes, readRange, syncDir, writeAll } from "./file-io.js";

export const SNAPSHOT_FILE = "orders.snapshot";
/** One order per line: written by the release before this one, still read. */
export const FORMAT_1 = "cordon-order-snapshot/1";
/** Lines of orders, each a JSON array of them. */
export const FORMAT_2 = "cordon-order-snapshot/2";
/** A line of orders ends once it is this long (or holds a single larger order). */
const LINE_CHARS = 60_000;
/** Orders serialised per write (one await each), so a snapshot never holds the event loop for long. */
const CHUNK = 1000;
/** Bytes per read: many lines. */
const READ_BLOCK = 8 << 20;

export interface SnapshotHeader {
  format: typeof FORMAT_1 | typeof FORMAT_2;
  seq: number;
  hash: string;
  journalBytes: number;
  orders: number;
}

export interface OrderSnapshot {
  header: SnapshotHeader;
  orders: Order[];
}

/** Writes the snapshot of `orders` as of the entry `head`, which ends at `journalBytes` of the journal. */
export async function writeSnapshot(
  root: string,
  state: { head: ChainHead; journalBytes: number; orders: readonly Order[] },
  /** Format 1 only to test that snapshots of the release before still load. */
  format: SnapshotHeader["format"] = FORMAT_2,
): Promise<void> {
  const path = join(root, SNAPSHOT_FILE);
  const tmp = `${path}.tmp`;
  const digest = createHash("sha256");
  const fh = await open(tmp, "w");
  try {
    const header: SnapshotHeader = {
      format,
      seq: state.head.seq,
      hash: state.head.hash,
      journalBytes: state.journalBytes,
      orders: state.orders.length,
    };
    const write = async (text: string) => {
      const bytes = Buffer.from(text, "utf8");
      digest.update(bytes);
      await writeAll(fh, bytes);
    };
    await write(`${JSON.stringify(header)}\n`);
    let line: string[] = [];
    let chars = 0;
    for (let i = 0; i < state.orders.length; i += CHUNK) {
      let text = "";
      for (const order of state.orders.slice(i, i + CHUNK)) {
        const json = JSON.stringify(order);
        if (format === FORMAT_1) {
          text += `${json}\n`;
          continue;
        }
        line.push(json);
        chars += json.length + 1;
        if (chars >= LINE_CHARS) {
          text += `[${line.join(",")}]\n`;
          line = [];
          chars = 0;
        }
      }
      await write(text);
    }
    if (line.length > 0) await write(`[${line.join(",")}]\n`);
    await writeAll(fh, Buffer.from(`${JSON.stringify({ sha256: digest.digest("hex") })}\n`, "utf8"));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(root);
}

/**
 * The snapshot in `root`, verified on its own (format, count, checksum) and against the journal (the
 * entry ending at `journalBytes` has its seq and hash); undefined when there is none. Each order read is
 * handed to `adopt` (which may share its parts with other orders, see order-pool.ts) before it is kept.
 * Throws `SnapshotProblem` for one that is there but unusable. A leftover temporary file (a crash during
 * a write) is removed.
 */
export async function readSnapshot(
  root: string,
  journal: FileHandle,
  adopt: (order: Order) => Order = (order) => order,
  /** Called between lines (see `OrderJournalOptions.pace`). */
  pace?: () => Promise<void> | undefined,
): Promise<OrderSnapshot | undefined> {
  await unlink(join(root, `${SNAPSHOT_FILE}.tmp`)).catch(() => undefined);
  const path = join(root, SNAPSHOT_FILE);
  const lines = readLineBytes(path, 0, READ_BLOCK);
  try {
    return await parse(lines, journal, adopt, pace);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    // A close during the open (see `Pacer`) stops the open; it says nothing about the snapshot.
    if (err instanceof SnapshotProblem || err instanceof StoreUnavailableError) throw err;
    throw new SnapshotProblem((err as Error).message);
  } finally {
    await lines.return(undefined); // closes the file when the parse stopped half-way
  }
}

export class SnapshotProblem extends Error {}

async function parse(
  lines: AsyncGenerator<{ bytes: Buffer; terminated: boolean }>,
  journal: FileHandle,
  adopt: (order: Order) => Order,
  pace: (() => Promise<void> | undefined) | undefined,
): Promise<OrderSnapshot> {
  const digest = createHash("sha256");
  const newline = Buffer.from([NEWLINE]);
  const take = (line: { bytes: Buffer; terminated: boolean }) => {
    if (!line.terminated) throw new SnapshotProblem("incomplete last line");
    digest.update(line.bytes);
    digest.update(newline);
    return JSON.parse(line.bytes.toString("utf8")) as unknown;
  };
  const first = await lines.next();
  if (first.done) throw new SnapshotProblem("empty");
  const header = take(first.value) as SnapshotHeader;
  if (
    (header?.format !== FORMAT_1 && header?.format !== FORMAT_2) ||
    !Number.isSafeInteger(header.seq) ||
    typeof header.hash !== "string" ||
    !Number.isSafeInteger(header.journalBytes) ||
    !Number.isSafeInteger(header.orders) ||
    header.orders < 0
  )
    throw new SnapshotProblem("not a snapshot header");
  const chunked = header.format === FORMAT_2;
  const orders: Order[] = [];
  let trailer: unknown;
  for await (const line of lines) {
    const paused = pace?.();
    if (paused) await paused;
    if (orders.length < header.orders) {
      const value = take(line);
      if (!chunked) orders.push(adopt(value as Order));
      else if (Array.isArray(value) && value.length > 0 && orders.length + value.length <= header.orders)
        for (const order of value) orders.push(adopt(order as Order));
      else throw new SnapshotProblem("a line of orders does not fit the count");
    } else if (trailer === undefined) {
      if (!line.terminated) throw new SnapshotProblem("incomplete last line");
      trailer = JSON.parse(line.bytes.toString("utf8"));
    } else throw new SnapshotProblem("lines after the trailer");
  }
  if (orders.length !== header.orders || trailer === undefined) throw new SnapshotProblem("truncated");
  if ((trailer as { sha256?: unknown })?.sha256 !== digest.digest("hex"))
    throw new SnapshotProblem("checksum does not match");
  const entry = await entryEndingAt(journal, header.journalBytes);
  if (entry === undefined || entry.seq !== header.seq || entry.hash !== header.hash)
    throw new SnapshotProblem(
      `does not match the journal at byte ${header.journalBytes} (seq ${header.seq}): the journal is shorter or differs`,
    );
  return { header, orders };
}

/** The journal entry whose line ends exactly at byte `end`, or undefined (none, or not an entry). */
export async function entryEndingAt(
  journal: FileHandle,
  end: number,
): Promise<{ seq: number; hash: string } | undefined> {
  const { size } = await journal.stat();
  if (end <= 0 || end > size) return undefined;
  for (let window = 1 << 16; ; window *= 4) {
    const from = Math.max(0, end - window);
    const bytes = await readRange(journal, from, end);
    if (bytes[bytes.length - 1] !== NEWLINE) return undefined;
    const start = bytes.lastIndexOf(NEWLINE, bytes.length - 2);
    if (start === -1 && from > 0) continue;
    try {
      const entry = JSON.parse(bytes.toString("utf8", start + 1, bytes.length - 1)) as {
        seq: number;
        hash: string;
      };
      return entry;
    } catch {
      return undefined;
    }
  }
}
