/**
 * Byte-level file helpers of the file stores: reading lines with their offsets, reading a range, writing
 * a whole buffer, making a directory's entries durable.
 */
import { Buffer } from "node:buffer";
import { readSync } from "node:fs";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";

export const NEWLINE = 0x0a;

/**
 * Lines of a file with their byte ranges, from byte `from` (a line start); `terminated` is false for a
 * last line without newline.
 */
export async function* readLines(
  path: string,
  from = 0,
): AsyncGenerator<{ text: string; start: number; end: number; terminated: boolean }> {
  for await (const line of readLineBytes(path, from)) {
    yield {
      text: line.bytes.toString("utf8"),
      start: line.start,
      end: line.end,
      terminated: line.terminated,
    };
  }
}

/**
 * `readLines` without decoding: each line's bytes (without its newline), a view of the read buffer that
 * stays valid. `blockBytes` is the size of one read; lines longer than it are joined across reads.
 */
export async function* readLineBytes(
  path: string,
  from = 0,
  blockBytes = 1 << 20,
): AsyncGenerator<{ bytes: Buffer; start: number; end: number; terminated: boolean }> {
  const fh = await open(path, "r");
  try {
    // A line cut by the end of a read is copied to the start of the next buffer, and read on after it.
    let carry = Buffer.alloc(0);
    let carryStart = from;
    let pos = from;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.max(blockBytes, 2 * carry.length));
      carry.copy(buf, 0);
      const { bytesRead } = await fh.read(buf, carry.length, buf.length - carry.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const data = buf.subarray(0, carry.length + bytesRead);
      let from = 0;
      for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, from)) {
        yield {
          bytes: data.subarray(from, nl),
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
      yield { bytes: carry, start: carryStart, end: carryStart + carry.length, terminated: false };
    }
  } finally {
    await fh.close();
  }
}

export async function readRange(fh: FileHandle, from: number, to: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.max(0, to - from));
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, from + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/** As `readRange`, synchronously, through a file descriptor (for a small read of what is in the page cache). */
export function readRangeSync(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(0, to - from));
  let n = 0;
  while (n < buf.length) {
    const bytesRead = readSync(fd, buf, n, buf.length - n, from + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/** `write` may write less than asked (a full disk, a signal): loop until all of it is in. */
export async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
}

/** New files' names live in their directories: a power loss can lose a file whose contents were synced. */
export async function syncDir(dir: string): Promise<void> {
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

/** The name of the file `probeWrite` writes and deletes again. */
export const PROBE_FILE = ".write-probe";

/**
 * Writes `bytes` bytes to a probe file in `dir`, fdatasyncs them and deletes the file again: proof that
 * the file system takes writes (a full disk throws ENOSPC). The file is deleted whatever happens.
 */
export async function probeWrite(dir: string, bytes = 4096): Promise<void> {
  const path = join(dir, PROBE_FILE);
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, "w");
    await writeAll(fh, Buffer.alloc(bytes, 0x20));
    await fh.datasync();
  } finally {
    await fh?.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
  }
}
