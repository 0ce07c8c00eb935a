/**
 * One process at a time on a directory: a lock file holding the holder's pid. The file is written aside
 * and hard-linked into place, so of two processes taking it at once exactly one wins (link fails with
 * EEXIST for the other), and the lock appears with its pid in it or not at all. A lock left by a process
 * that is gone (killed, crashed) is taken over: recovery is what opening after a crash is for.
 */
import { link, readFile, unlink, writeFile } from "node:fs/promises";

/** Takes the lock at `path`, or throws `busy(holderPid)` while a live process holds it. */
export async function acquirePidLock(path: string, busy: (holder: number) => Error): Promise<void> {
  const mine = `${path}.${process.pid}`;
  await writeFile(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(mine, path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = await holderOf(path);
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) throw busy(holder);
      // Stale (or our own from before): taken over, once. Two processes taking over the same stale lock at
      // the same instant could both pass; that needs a crash and a race at once.
      if (attempt > 0) throw busy(holder ?? 0);
      await unlink(path).catch(() => undefined);
    }
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

/** Releases the lock if this process holds it. */
export async function releasePidLock(path: string): Promise<void> {
  if ((await holderOf(path)) === process.pid) await unlink(path).catch(() => undefined);
}

/** The pid of the live process holding the lock at `path`, if any (a reader deciding whether a writer is there). */
export async function liveHolder(path: string): Promise<number | undefined> {
  const holder = await holderOf(path);
  return holder !== undefined && isAlive(holder) ? holder : undefined;
}

async function holderOf(path: string): Promise<number | undefined> {
  const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
  return Number.isSafeInteger(holder) ? holder : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
