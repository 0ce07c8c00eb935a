/**
 * Files that appear whole or not at all: write a temporary file beside the target, fdatasync it,
 * rename it over the target, and (unless the caller batches that) sync the directory so the rename
 * itself survives a crash. Used for checkpoints, month aggregates, secrets and report files; and
 * `readFileIfExists` to read them back.
 */
import { open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** Permission bits of a new file (secrets: 0o600). */
  mode?: number;
  /** Sync the directory after the rename (default true); false when the caller syncs it once for several files. */
  syncDirectory?: boolean;
}

export async function writeFileAtomic(
  path: string,
  text: string,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  // The pid keeps two processes writing the same target from sharing one temporary file.
  const tmp = temporaryOf(path, process.pid);
  const fh = await open(tmp, "w", opts.mode ?? 0o666);
  try {
    await fh.writeFile(text, "utf8");
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (opts.syncDirectory ?? true) await syncDirectory(dirname(path));
}

/** The temporary file `writeFileAtomic` writes `path` through, in process `pid`. */
function temporaryOf(path: string, pid: number): string {
  return `${path}.${pid}.tmp`;
}

/**
 * Removes the temporary files that `writeFileAtomic` left beside `paths` (a crash before the rename,
 * by any process): the files they were to replace stand. Only for a caller that knows no write of
 * those paths is under way (one writer, at its start).
 */
export async function removeAtomicLeftovers(paths: readonly string[]): Promise<void> {
  const listed = new Map<string, string[]>();
  for (const path of paths) {
    const dir = dirname(path);
    if (!listed.has(dir)) listed.set(dir, await readdir(dir).catch(() => [] as string[]));
    const prefix = `${basename(path)}.`;
    for (const name of listed.get(dir) ?? [])
      if (name.startsWith(prefix) && /^\d+\.tmp$/.test(name.slice(prefix.length)))
        await unlink(join(dir, name)).catch(() => undefined);
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, "r").catch(() => undefined);
  try {
    await fh?.sync();
  } catch {
    // Some file systems cannot sync a directory; the rename is then as durable as they make it.
  } finally {
    await fh?.close();
  }
}

/** A file's text, or undefined when there is no such file (any other failure throws). */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
