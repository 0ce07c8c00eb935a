/**
 * The compiled ruleset beside the journal, `<dir>/ruleset.snapshot`: the ruleset in force as of journal
 * entry V (its `version`), with that entry's position, so that a start loads it, compiles only the
 * entries after V and is ready without reading every order (the orders load afterwards).
 *
 * Encoded as platform/node/ruleset-file.ts encodes a ruleset (columns, tables, a SHA-256 trailer), with
 * the journal position of entry V in the header (`journal`). Written beside as `ruleset.snapshot.tmp`,
 * fdatasynced, renamed over the old one and the directory synced, in slices that let the event loop run
 * (as order-snapshot.ts does). Only a cache: one that does not verify is refused with
 * `RulesetSnapshotProblem`, and the caller compiles from the orders.
 */
import type { Buffer } from "node:buffer";
import { readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Order, Ruleset } from "../../engine/index.js";
import type { Logger } from "../../kernel/logger.js";
import {
  macrotask,
  parseRulesetFile,
  type RulesetFileHeader,
  type WriteRulesetFileOptions,
  writeRulesetFile,
} from "../../platform/node/ruleset-file.js";
import { syncDir } from "./file-io.js";
import { readJournalTail } from "./order-journal.js";

export const RULESET_SNAPSHOT_FILE = "ruleset.snapshot";
export const RULESET_SNAPSHOT_FORMAT = "cordon-ruleset-snapshot/1";

/** Where journal entry `seq` (whose hash is `hash`) ends in the journal: the snapshot's version. */
export interface JournalPosition {
  seq: number;
  hash: string;
  bytes: number;
}

interface Header extends RulesetFileHeader {
  journal: JournalPosition;
}

export class RulesetSnapshotProblem extends Error {}

export type WriteRulesetSnapshotOptions = WriteRulesetFileOptions;

/** Writes `ruleset` as the snapshot of `root`, standing for the journal entry at `journal` (its version). */
export async function writeRulesetSnapshot(
  root: string,
  ruleset: Ruleset,
  journal: JournalPosition,
  options: WriteRulesetSnapshotOptions = {},
): Promise<void> {
  if (journal.seq !== ruleset.version)
    throw new Error(`ruleset v${ruleset.version} written as of journal entry ${journal.seq}`);
  const position: JournalPosition = { seq: journal.seq, hash: journal.hash, bytes: journal.bytes };
  await writeRulesetFile(
    join(root, RULESET_SNAPSHOT_FILE),
    RULESET_SNAPSHOT_FORMAT,
    ruleset,
    { journal: position },
    options,
  );
  await syncDir(root);
}

export interface RulesetSnapshot {
  ruleset: Ruleset;
  /** The journal entry the ruleset stands for (`ruleset.version`) and where it ends. */
  journal: JournalPosition;
}

/**
 * The snapshot in `root`, verified on its own (format, checksum, the ruleset's checks and hash: see
 * `fromBucketDocuments`); undefined when there is none. Its journal position is the caller's to check
 * against the journal. Throws `RulesetSnapshotProblem` for one that is there but unusable. A leftover
 * temporary file (a crash during a write) is removed. Synchronous once read: meant for a start, before
 * anything is served.
 */
export async function readRulesetSnapshot(root: string): Promise<RulesetSnapshot | undefined> {
  const path = join(root, RULESET_SNAPSHOT_FILE);
  await unlink(`${path}.tmp`).catch(() => undefined);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RulesetSnapshotProblem((err as Error).message);
  }
  try {
    const { ruleset, header } = parseRulesetFile<Header>(
      bytes,
      RULESET_SNAPSHOT_FORMAT,
      (h) =>
        h.journal?.seq === h.version &&
        typeof h.journal.hash === "string" &&
        Number.isSafeInteger(h.journal.bytes),
    );
    return { ruleset, journal: { ...header.journal } };
  } catch (err) {
    throw new RulesetSnapshotProblem((err as Error).message);
  }
}

/** The ruleset of a start from the snapshot: the snapshot's, and the journal after it up to its head. */
export interface RulesetAtHead {
  /** The ruleset as of `from`, read from the snapshot. */
  base: Ruleset;
  from: JournalPosition;
  /** The journal's last entry: where the ruleset in force must be. */
  head: JournalPosition;
  /** The orders changed after `from`, each in its state at `head`. */
  changed: Order[];
}

/**
 * What a start needs to be ready without loading the orders: the snapshot's ruleset, and the orders the
 * journal changed after it (chain-verified from the snapshot's entry). Undefined when there is no
 * snapshot, or it cannot be used (logged: the caller compiles from the orders, as without one).
 */
export async function readRulesetAtHead(root: string, logger: Logger): Promise<RulesetAtHead | undefined> {
  try {
    const snapshot = await readRulesetSnapshot(root);
    if (snapshot === undefined) return undefined;
    const tail = await readJournalTail(root, snapshot.journal);
    return { base: snapshot.ruleset, from: snapshot.journal, head: tail.head, changed: tail.orders };
  } catch (err) {
    // A chain that does not verify is the store's to report (its open refuses it, as it always has).
    logger.warn("ruleset snapshot ignored, compiling from the orders", { reason: (err as Error).message });
    return undefined;
  }
}

export interface RulesetSnapshotWriterOptions extends WriteRulesetSnapshotOptions {
  /** Where journal entry `seq` ends (and its hash); undefined when it is not known any more. */
  positionOf: (seq: number) => JournalPosition | undefined;
  logger: Logger;
  /** The version of the snapshot on disk (0: none). */
  written?: number;
  /** Versions after the one written that make a new snapshot due at once (default 10 000). */
  everyVersions?: number;
  /** Time after the last write after which any newer version is written (default 5 minutes). */
  everyMs?: number;
}

/**
 * Writes the ruleset snapshot of `root` off the hot path: handed every ruleset compiled (`offer`, which
 * returns at once), it writes one at a time, in slices, the newest offered winning: the first one when
 * none is on disk, then once `everyVersions` versions came after the last one written, or `everyMs`
 * after it when anything changed. A failed write is logged and retried with the next offer (the snapshot
 * is a cache: the next start compiles more, nothing is lost).
 */
export class RulesetSnapshotWriter {
  private written: number;
  private writtenAt = performance.now();
  private latest: Ruleset | undefined;
  private writing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** After a failed write, none before this (`performance.now()` ms). */
  private retryAt = 0;
  private stopped = false;

  constructor(
    private readonly root: string,
    private readonly options: RulesetSnapshotWriterOptions,
  ) {
    this.written = options.written ?? 0;
  }

  /** A ruleset compiled: written now or later, as due. */
  readonly offer = (ruleset: Ruleset): void => {
    if (this.stopped) return;
    if (this.latest === undefined || ruleset.version >= this.latest.version) this.latest = ruleset;
    this.consider();
  };

  /** The write under way, if any (tests wait for it). */
  idle(): Promise<void> {
    return (this.writing ?? Promise.resolve()).then(() => (this.writing ? this.idle() : undefined));
  }

  /** Stops writing: a write under way stops at its next slice (its temporary file removed). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.writing;
  }

  private consider(): void {
    const next = this.latest;
    if (this.stopped || this.writing || next === undefined || next.version <= this.written) return;
    const everyMs = this.options.everyMs ?? 300_000;
    const now = performance.now();
    const due =
      now >= this.retryAt &&
      (this.written === 0 ||
        next.version - this.written >= (this.options.everyVersions ?? 10_000) ||
        now - this.writtenAt >= everyMs);
    if (!due) {
      this.timer ??= setTimeout(
        () => {
          this.timer = undefined;
          this.consider();
        },
        Math.max(0, this.retryAt - now, this.writtenAt + everyMs - now),
      );
      this.timer.unref?.();
      return;
    }
    const position = this.options.positionOf(next.version);
    if (position === undefined) return; // its entry is no longer known: the next version will be
    const yieldToLoop = this.options.yieldToLoop ?? macrotask;
    const slices = {
      ...this.options,
      yieldToLoop: async () => {
        if (this.stopped) throw new Error("stopped");
        await yieldToLoop();
      },
    };
    this.writing = writeRulesetSnapshot(this.root, next, position, slices)
      .then(
        () => {
          this.written = next.version;
          this.writtenAt = performance.now();
        },
        (err: unknown) => {
          if (this.stopped) return;
          this.retryAt = performance.now() + Math.min(everyMs, 60_000);
          this.options.logger.warn("ruleset snapshot not written", { error: (err as Error).message });
        },
      )
      .finally(() => {
        this.writing = undefined;
        this.consider();
      });
  }
}
