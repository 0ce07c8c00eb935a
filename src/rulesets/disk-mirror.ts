/**
 * `DiskMirror`: the ruleset in force, kept on local disk so that an instance that starts while Redis is
 * down enforces it (DESIGN.md: "each instance keeps the last one on local disk and enforces it through
 * outages"). A checkpoint (`path`, e.g. `<dataDir>/ruleset.mirror`: the whole ruleset at version B, in
 * the columns of platform/node/ruleset-file.ts) and a journal beside it (`<path>-deltas`: one line per
 * later version, the engine's delta from the version before), so that a change costs one short line
 * and never every order. The checkpoint is written in slices, off the path of the appends; disk-mirror.md
 * says when, and why a crash leaves a version that was written.
 */
import { Buffer } from "node:buffer";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { applyDelta, HASH_SCHEME, type Ruleset, RulesetDeltaShape } from "../engine/index.js";
import type { Logger } from "../kernel/logger.js";
import {
  readFileIfExists,
  removeAtomicLeftovers,
  syncDirectory,
  writeFileAtomic,
} from "../platform/node/atomic-file.js";
import {
  parseRulesetFile,
  type WriteRulesetFileOptions,
  writeRulesetFile,
} from "../platform/node/ruleset-file.js";
import { nodeSha256 } from "../platform/node/sha256-stream.js";
import type { RulesetMirror } from "./redis-sync.js";
import { parseRulesetDocument, rulesetDeltaJson, rulesetJson } from "./ruleset-json.js";

export const MIRROR_FORMAT = "cordon-ruleset-mirror/1";

export interface DiskMirrorOptions extends WriteRulesetFileOptions {
  /**
   * The whole JSON document earlier releases kept (default `<dir of path>/ruleset.json`): read at a start
   * when there is no checkpoint, removed once one is written. Also where a ruleset of the earlier hash
   * scheme is kept, which the columns cannot carry.
   */
  legacyPath?: string;
  /** Journal lines after which a new checkpoint is written (default 1000). */
  journalLines?: number;
  /** Journal bytes after which a new checkpoint is written (default 16 MiB). */
  journalBytes?: number;
}

const SHA256 = { sha256: nodeSha256 };

export class DiskMirror implements RulesetMirror {
  readonly journalPath: string;
  readonly legacyPath: string;
  /** The newest ruleset handed in whose version the files on disk lead to (or will, once written). */
  private head: Ruleset | undefined;
  /** Versions below this one are not written (a newer one was handed in, or loaded). */
  private newest = -1;
  /** Appends and journal rewrites, one at a time, in the order handed in. */
  private journalOps: Promise<unknown> = Promise.resolve();
  /** Checkpoint writes, one at a time; one superseded before it starts is skipped. */
  private checkpoints: Promise<unknown> = Promise.resolve();
  /** The newest checkpoint asked for and not yet written. */
  private wanted: Ruleset | undefined;
  /** Lines appended while `wanted` is set: those after its version start the journal that follows it. */
  private recent: { version: number; line: string }[] = [];
  private lines = 0;
  private bytes = 0;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
    private readonly options: DiskMirrorOptions = {},
  ) {
    this.journalPath = `${path}-deltas`;
    this.legacyPath = options.legacyPath ?? join(dirname(path), "ruleset.json");
    // The legacy file is removed after each checkpoint: one of the same name would be the checkpoint.
    if (resolve(this.legacyPath) === resolve(path))
      throw new Error(`the ruleset mirror ${path} is named as the legacy document; name it ruleset.mirror`);
  }

  async load(): Promise<Ruleset | undefined> {
    // A checkpoint cut short by a crash: the one before it stands.
    await unlink(`${this.path}.tmp`).catch(() => undefined);
    // Those of a journal rewrite or a legacy write (`writeFileAtomic`): one writer per directory (each
    // worker has its own), and a start loads before it writes, so none of them is a write under way.
    await removeAtomicLeftovers([this.journalPath, this.legacyPath]);
    const checkpoint = await this.readCheckpoint();
    if (checkpoint === undefined) {
      const legacy = await this.readLegacy();
      if (legacy) this.newest = legacy.version;
      return legacy;
    }
    const { ruleset, clean, lines, bytes } = await this.replay(checkpoint);
    // A journal that ends in a torn or refused line takes no appends: the next write is a checkpoint.
    this.head = clean ? ruleset : undefined;
    this.lines = lines;
    this.bytes = bytes;
    this.newest = ruleset.version;
    return ruleset;
  }

  write(ruleset: Ruleset): Promise<string | undefined> {
    if (ruleset.version < this.newest) return Promise.resolve(undefined);
    const head = this.head;
    if (
      head &&
      head.version === ruleset.version &&
      head.hash === ruleset.hash &&
      head.epoch === ruleset.epoch
    )
      return Promise.resolve(undefined);
    this.newest = ruleset.version;
    this.head = ruleset;
    // O(changed): the orders the recompile (or the delta applied here) touched.
    const line = head === undefined ? undefined : rulesetDeltaJson(ruleset, head);
    return line === undefined ? this.checkpoint(ruleset) : this.append(ruleset, `${line}\n`);
  }

  async flush(): Promise<void> {
    for (;;) {
      const journal = this.journalOps;
      const checkpoints = this.checkpoints;
      await Promise.all([journal, checkpoints]);
      if (journal === this.journalOps && checkpoints === this.checkpoints) return;
    }
  }

  private append(ruleset: Ruleset, line: string): Promise<string | undefined> {
    return this.journalOp(async () => {
      const bytes = Buffer.from(line, "utf8");
      try {
        const fh = await open(this.journalPath, "a");
        try {
          // `write` may write less than asked (a full disk, a signal).
          for (let off = 0; off < bytes.length; )
            off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
          await fh.datasync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        // A short write may leave part of a line: no line may follow it, a checkpoint starts anew.
        this.logger.error("could not append to the local ruleset journal", {
          path: this.journalPath,
          version: ruleset.version,
          error: message(err),
        });
        if (this.head) void this.checkpoint(this.head);
        return `append ${this.journalPath}: ${message(err)}`;
      }
      this.lines++;
      this.bytes += bytes.length;
      if (this.wanted) this.recent.push({ version: ruleset.version, line });
      const due =
        this.lines >= (this.options.journalLines ?? 1000) ||
        this.bytes >= (this.options.journalBytes ?? 16 * 1024 * 1024);
      if (due && this.wanted === undefined && this.head) void this.checkpoint(this.head);
      return undefined;
    });
  }

  /** Writes `ruleset` whole, after the checkpoints asked for before it (skipped when a newer one is asked). */
  private checkpoint(ruleset: Ruleset): Promise<string | undefined> {
    this.wanted = ruleset;
    const run = this.checkpoints.then(async () => {
      if (this.wanted !== ruleset) return undefined;
      try {
        await mkdir(dirname(this.path), { recursive: true });
        if (ruleset.hashScheme === HASH_SCHEME) await this.writeCheckpoint(ruleset);
        else await this.writeLegacy(ruleset);
        return undefined;
      } catch (err) {
        // The ruleset is in force regardless; only a restart during an outage would miss it.
        this.logger.error("could not write the local ruleset file", { path: this.path, error: message(err) });
        // Lines appended on it lead nowhere on disk: the next write is a checkpoint.
        if (this.wanted === ruleset) this.head = undefined;
        return `write ${this.path}: ${message(err)}`;
      } finally {
        if (this.wanted === ruleset) {
          this.wanted = undefined;
          this.recent = [];
        }
      }
    });
    this.checkpoints = run;
    return run;
  }

  private async writeCheckpoint(ruleset: Ruleset): Promise<void> {
    await writeRulesetFile(this.path, MIRROR_FORMAT, ruleset, {}, this.options);
    await syncDirectory(dirname(this.path));
    // The journal restarts after it with the lines appended meanwhile; older lines would be skipped on
    // a load anyway (a crash before this point leaves them).
    await this.journalOp(async () => {
      const kept = this.recent.filter((l) => l.version > ruleset.version);
      const text = kept.map((l) => l.line).join("");
      await writeFileAtomic(this.journalPath, text);
      this.recent = kept;
      this.lines = kept.length;
      this.bytes = Buffer.byteLength(text, "utf8");
    });
    await unlinkIfThere(this.legacyPath);
  }

  /**
   * A ruleset of the earlier hash scheme (read from a document of an earlier release) as that release
   * kept it: the whole document. The checkpoint and journal go, so a load reads this one.
   */
  private async writeLegacy(ruleset: Ruleset): Promise<void> {
    await writeFileAtomic(this.legacyPath, rulesetJson(ruleset));
    await this.journalOp(async () => {
      await unlinkIfThere(this.path);
      await unlinkIfThere(this.journalPath);
      this.lines = 0;
      this.bytes = 0;
    });
    if (this.wanted === ruleset) this.head = undefined;
  }

  /** Runs `op` after the journal operations before it; the chain goes on whatever it throws. */
  private journalOp<T>(op: () => Promise<T>): Promise<T> {
    const run = this.journalOps.then(op);
    this.journalOps = run.catch(() => undefined);
    return run;
  }

  private async readCheckpoint(): Promise<Ruleset | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        this.logger.error("local ruleset file unreadable; ignored", { path: this.path, error: message(err) });
      }
      return undefined;
    }
    try {
      return parseRulesetFile(bytes, MIRROR_FORMAT).ruleset;
    } catch (err) {
      // Left in place (evidence), and replaced by the next write.
      this.logger.error("local ruleset file corrupt or tampered; ignored", {
        path: this.path,
        error: message(err),
      });
      return undefined;
    }
  }

  /**
   * `checkpoint` brought forward by the journal's lines, each verified by `applyDelta` (its base's version
   * and hash, I1, the result's hash). Lines at or below the checkpoint's version are skipped (a crash
   * between a checkpoint and the journal's restart leaves them); a torn last line is left out; at the
   * first line that does not apply, the version reached stands.
   */
  private async replay(
    checkpoint: Ruleset,
  ): Promise<{ ruleset: Ruleset; clean: boolean; lines: number; bytes: number }> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.journalPath);
    } catch (err) {
      this.logger.warn("local ruleset journal unreadable; using its checkpoint", {
        path: this.journalPath,
        version: checkpoint.version,
        error: message(err),
      });
      return { ruleset: checkpoint, clean: false, lines: 0, bytes: 0 };
    }
    if (text === undefined) return { ruleset: checkpoint, clean: true, lines: 0, bytes: 0 };
    const lines = text.split("\n");
    // The text after the last newline: empty, or a line a crash cut short (never acknowledged).
    const torn = lines.pop() !== "";
    let ruleset = checkpoint;
    for (const [i, line] of lines.entries()) {
      try {
        const delta = RulesetDeltaShape.parse(JSON.parse(line));
        if (delta.version <= checkpoint.version) continue;
        ruleset = applyDelta(ruleset, delta, SHA256);
      } catch (err) {
        this.logger.warn("local ruleset journal line refused; using the version reached", {
          path: this.journalPath,
          line: i + 1,
          version: ruleset.version,
          error: message(err),
        });
        return { ruleset, clean: false, lines: lines.length, bytes: Buffer.byteLength(text, "utf8") };
      }
    }
    return { ruleset, clean: !torn, lines: lines.length, bytes: Buffer.byteLength(text, "utf8") };
  }

  private async readLegacy(): Promise<Ruleset | undefined> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.legacyPath);
    } catch (err) {
      this.logger.error("local ruleset file unreadable; ignored", {
        path: this.legacyPath,
        error: message(err),
      });
      return undefined;
    }
    if (text === undefined) return undefined;
    try {
      return parseRulesetDocument(text, SHA256);
    } catch (err) {
      // Left in place (evidence), and replaced by the next write.
      this.logger.error("local ruleset file corrupt or tampered; ignored", {
        path: this.legacyPath,
        error: message(err),
      });
      return undefined;
    }
  }
}

async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
