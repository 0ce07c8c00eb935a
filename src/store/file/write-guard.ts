/**
 * The file stores' failure latch. After a failed write or fdatasync every later write is refused
 * (StoreUnavailableError) until the guard heals. The journal and the segments of one data directory share
 * one guard: they share the file system whose write failed.
 *
 * Healing. A full disk (ENOSPC, EDQUOT) heals by itself: `heal` first cuts every file a failed write may
 * have left longer back to its last acknowledged size (and fdatasyncs that), so nothing that was never
 * acknowledged stays and nothing acknowledged is touched; with a probe directory it then proves that a
 * small real write and its fdatasync go through before it clears the failure. Any other error (EIO, a
 * failed truncate that is not a space error) means the page cache may no longer match the disk: the latch
 * stays until the directory is reopened, which replays and repairs.
 */
import type { FileHandle } from "node:fs/promises";
import { StoreUnavailableError } from "../../kernel/errors.js";
import { probeWrite } from "./file-io.js";

/** Errors of a full file system: nothing is wrong with what is on disk, there is only no room for more. */
const SPACE_ERRORS = new Set(["ENOSPC", "EDQUOT"]);

export function isSpaceError(err: unknown): boolean {
  return SPACE_ERRORS.has((err as NodeJS.ErrnoException | undefined)?.code ?? "");
}

export class WriteGuard {
  private failure: Error | undefined;
  /** Files a failed write may have left longer than their last acknowledged size, with that size. */
  private readonly repairs = new Map<FileHandle, { size: number; file: string }>();
  private healing: Promise<boolean> | undefined;

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Failed, but only for want of space: `heal` can clear it. */
  get recoverable(): boolean {
    return this.failure !== undefined && isSpaceError(this.failure);
  }

  /** The failure's message, for readiness details. */
  get reason(): string | undefined {
    return this.failure?.message;
  }

  /** Records `err` as the failure and returns the error to hand to the callers. */
  trip(err: unknown): StoreUnavailableError {
    this.failure = err instanceof Error ? err : new Error(String(err));
    return this.unavailable();
  }

  /**
   * Records the failure and cuts `fh` back to `size` (its last acknowledged size); a cut that fails now
   * is retried by `heal` before any write goes on. Returns the error for the callers.
   */
  async fail(fh: FileHandle, size: number, err: unknown, file: string): Promise<StoreUnavailableError> {
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.repairs.set(fh, { size, file });
    await this.cut(fh, size).catch(() => undefined);
    return new StoreUnavailableError(`write to ${file} failed: ${this.failure.message}`, { cause: err });
  }

  /**
   * Clears a space failure once every file is cut back (see the module header) and, with `probeDir`, a
   * small probe file could be written and fdatasynced there. Resolves whether writes may go on; never
   * rejects. Concurrent calls share one attempt.
   */
  heal(probeDir?: string): Promise<boolean> {
    if (!this.failure) return Promise.resolve(true);
    if (!this.recoverable) return Promise.resolve(false);
    this.healing ??= this.tryHeal(probeDir).finally(() => {
      this.healing = undefined;
    });
    return this.healing;
  }

  assertWritable(): void {
    if (this.failure) throw this.unavailable();
  }

  unavailable(): StoreUnavailableError {
    const how = this.recoverable ? "writes resume once there is space again" : "reopen it to recover";
    return new StoreUnavailableError(
      `the store refuses writes after an earlier failure (${this.failure?.message}); ${how}`,
      { cause: this.failure },
    );
  }

  private async tryHeal(probeDir: string | undefined): Promise<boolean> {
    const failure = this.failure;
    try {
      for (const [fh, { size }] of [...this.repairs]) {
        await this.cut(fh, size);
        this.repairs.delete(fh);
      }
      if (probeDir !== undefined) await probeWrite(probeDir);
    } catch (err) {
      // Still no room: stay failed, try again later. Anything else: latched until a reopen.
      if (!isSpaceError(err) && this.failure === failure) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
      return false;
    }
    // A write that failed meanwhile keeps its own failure (and its repair) for the next attempt.
    if (this.failure === failure && this.repairs.size === 0) this.failure = undefined;
    return this.failure === undefined;
  }

  private async cut(fh: FileHandle, size: number): Promise<void> {
    await fh.truncate(size);
    await fh.datasync();
  }
}
