/**
 * One process per data directory, and one opening of it per process: two writers would fork the audit
 * chain and interleave decision segments. `<dir>/LOCK` holds the pid of the process that has the
 * directory open (see platform/node/pid-lock.ts); the order journal and the decision segments of one
 * directory share that one lock.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { StoreUnavailableError } from "../../kernel/errors.js";
import { acquirePidLock, releasePidLock } from "../../platform/node/pid-lock.js";

const LOCK_FILE = "LOCK";

/** Data directories open in this process (resolved paths). */
const openDirs = new Set<string>();

export class DirLock {
  private released: Promise<void> | undefined;

  private constructor(readonly root: string) {}

  /** Creates the directory if need be and takes its lock, or throws StoreUnavailableError. */
  static async acquire(dir: string): Promise<DirLock> {
    const root = resolve(dir);
    // Claimed before the first await, so two concurrent opens in one process cannot both pass.
    if (openDirs.has(root)) throw new StoreUnavailableError(`${root} is already open in this process`);
    openDirs.add(root);
    try {
      await mkdir(root, { recursive: true });
      await acquirePidLock(
        join(root, LOCK_FILE),
        (holder) =>
          new StoreUnavailableError(`${root} is in use by process ${holder}: one process per data directory`),
      );
    } catch (err) {
      openDirs.delete(root);
      throw err;
    }
    return new DirLock(root);
  }

  /**
   * Opens something under `lock` when the caller holds the directory's lock (several stores on one
   * directory), else under a lock taken for it: `own` is then that lock, for its close to release, and
   * it is released here if opening fails.
   */
  static async with<T>(
    dir: string,
    lock: DirLock | undefined,
    open: (lock: DirLock, own: DirLock | undefined) => Promise<T>,
  ): Promise<T> {
    if (lock) return open(lock, undefined);
    const own = await DirLock.acquire(dir);
    try {
      return await open(own, own);
    } catch (err) {
      await own.release();
      throw err;
    }
  }

  /** Idempotent. */
  release(): Promise<void> {
    this.released ??= releasePidLock(join(this.root, LOCK_FILE)).finally(() => openDirs.delete(this.root));
    return this.released;
  }
}
