/**
 * Snapshots of the order journal, `<dir>/orders.snapshot`: every order's state as of one journal entry,
 * so that an open reads the snapshot and replays only the entries after it, not the whole history.
 *
 * Line-delimited JSON: a header (`seq` and `hash` of the entry it stands for, `journalBytes` where that
 * entry ends in the journal, the number of orders), one order per line, and a trailer with the SHA-256
 * of every byte before it. Written beside as `orders.snapshot.tmp`, fdatasynced, renamed over the old
 * one and the directory synced: a crash leaves the old snapshot or the new one, whole. A snapshot is only
 * a cache of the journal: one that does not verify, or does not match the journal's entry at its
 * `journalBytes`, is ignored with a warning and the journal is replayed in full.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Order } from "../../engine/index.js";
import type { ChainHead } from "../audit.js";
import { NEWLINE, readLines, readRange, syncDir, writeAll } from "./file-io.js";

export const SNAPSHOT_FILE = "orders.snapshot";
const FORMAT = "cordon-order-snapshot/1";
/** Orders per write: each write is an await, so a snapshot of a million orders never holds the loop long. */
const CHUNK = 2000;

export interface SnapshotHeader {
  format: typeof FORMAT;
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
): Promise<void> {
  const path = join(root, SNAPSHOT_FILE);
  const tmp = `${path}.tmp`;
  const digest = createHash("sha256");
  const fh = await open(tmp, "w");
  try {
    const header: SnapshotHeader = {
      format: FORMAT,
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
    for (let i = 0; i < state.orders.length; i += CHUNK) {
      let text = "";
      for (const order of state.orders.slice(i, i + CHUNK)) text += `${JSON.stringify(order)}\n`;
      await write(text);
    }
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
 * entry ending at `journalBytes` has its seq and hash); undefined when there is none. Throws
 * `SnapshotProblem` for one that is there but unusable. A leftover temporary file (a crash during a
 * write) is removed.
 */
export async function readSnapshot(root: string, journal: FileHandle): Promise<OrderSnapshot | undefined> {
  await unlink(join(root, `${SNAPSHOT_FILE}.tmp`)).catch(() => undefined);
  const path = join(root, SNAPSHOT_FILE);
  let lines: AsyncGenerator<{ text: string; terminated: boolean }>;
  try {
    lines = readLines(path);
    const first = await lines.next();
    if (first.done) throw new SnapshotProblem("empty");
    return await parse(first.value, lines, journal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    if (err instanceof SnapshotProblem) throw err;
    throw new SnapshotProblem((err as Error).message);
  }
}

export class SnapshotProblem extends Error {}

async function parse(
  first: { text: string; terminated: boolean },
  lines: AsyncGenerator<{ text: string; terminated: boolean }>,
  journal: FileHandle,
): Promise<OrderSnapshot> {
  const digest = createHash("sha256");
  const take = (line: { text: string; terminated: boolean }) => {
    if (!line.terminated) throw new SnapshotProblem("incomplete last line");
    digest.update(`${line.text}\n`, "utf8");
    return JSON.parse(line.text) as unknown;
  };
  const header = take(first) as SnapshotHeader;
  if (
    header?.format !== FORMAT ||
    !Number.isSafeInteger(header.seq) ||
    typeof header.hash !== "string" ||
    !Number.isSafeInteger(header.journalBytes) ||
    !Number.isSafeInteger(header.orders)
  )
    throw new SnapshotProblem("not a snapshot header");
  const orders: Order[] = [];
  let trailer: unknown;
  for await (const line of lines) {
    if (orders.length < header.orders) orders.push(take(line) as Order);
    else if (trailer === undefined) {
      if (!line.terminated) throw new SnapshotProblem("incomplete last line");
      trailer = JSON.parse(line.text);
    } else throw new SnapshotProblem("lines after the trailer");
  }
  if (orders.length !== header.orders || trailer === undefined) throw new SnapshotProblem("truncated");
  if ((trailer as { sha256?: unknown }).sha256 !== digest.digest("hex"))
    throw new SnapshotProblem("checksum does not match");
  const entry = await entryEndingAt(journal, header.journalBytes);
  if (entry === undefined || entry.seq !== header.seq || entry.hash !== header.hash)
    throw new SnapshotProblem(
      `does not match the journal at byte ${header.journalBytes} (seq ${header.seq}): the journal is shorter or differs`,
    );
  return { header, orders };
}

/** The journal entry whose line ends exactly at byte `end`, or undefined (none, or not an entry). */
async function entryEndingAt(
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
