/**
 * The file stores' failure latch. After a failed write or fdatasync the page cache can no longer be
 * trusted to match the disk, so every later write is refused (StoreUnavailableError) until the directory
 * is reopened, which replays and repairs. The journal and the segments of one data directory share one
 * guard: they share the file system whose sync failed.
 */
import type { FileHandle } from "node:fs/promises";
import { StoreUnavailableError } from "../../kernel/errors.js";

export class WriteGuard {
  private failure: Error | undefined;

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Records `err` as the failure and returns the error to hand to the callers. */
  trip(err: unknown): StoreUnavailableError {
    this.failure = err instanceof Error ? err : new Error(String(err));
    return this.unavailable();
  }

  /** Undoes a partial write if it can, then refuses further writes; returns the error for the callers. */
  async fail(fh: FileHandle, size: number, err: unknown, file: string): Promise<StoreUnavailableError> {
    this.failure = err instanceof Error ? err : new Error(String(err));
    // Best effort: a partial line left behind is repaired at the next open as a torn tail anyway.
    await fh.truncate(size).catch(() => undefined);
    return new StoreUnavailableError(`write to ${file} failed: ${this.failure.message}`, { cause: err });
  }

  assertWritable(): void {
    if (this.failure) throw this.unavailable();
  }

  unavailable(): StoreUnavailableError {
    return new StoreUnavailableError(
      `the store refuses writes after an earlier failure (${this.failure?.message}); reopen it to recover`,
      { cause: this.failure },
    );
  }
}
