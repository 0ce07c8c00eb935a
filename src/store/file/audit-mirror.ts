/**
 * `AuditMirror`: an instance's own copy of the order audit chain of a Redis deployment, on local disk
 * (`<dataDir>/audit-mirror/audit.jsonl`), so that a Redis that comes back emptied, or with another
 * history, is noticed and can be restored from here (`cordon restore`). One file: a header line naming
 * the history's epoch, then one audit entry per line, exactly as Redis holds them. Every entry is
 * verified against the one before it when it is appended and when the file is read back; a copy of the
 * file is a backup that `cordon restore` accepts too.
 */
import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../kernel/logger.js";
import { writeFileAtomic } from "../../platform/node/atomic-file.js";
import { type ChainHead, verifyNext, ZERO_HASH } from "../audit.js";
import { AuditChainError, type AuditEntry } from "../interface.js";

export const AUDIT_MIRROR_FILE = "audit.jsonl";
const FORMAT = "cordon-audit-mirror/1";

/** What a mirror file holds, verified: the epoch, the entries from seq 1, and the head they end at. */
export interface MirrorContents {
  epoch: string | undefined;
  entries: AuditEntry[];
  head: ChainHead;
  /** A last line without its newline: an append that never finished, left out. */
  torn?: string;
}

/**
 * Reads and verifies a mirror file (or a backup copy of one). A missing file is an empty mirror; a
 * header that is not one, or an entry that does not follow the one before it, throws AuditChainError
 * naming the first seq that does not verify.
 */
export async function readMirrorFile(path: string): Promise<MirrorContents> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      return { epoch: undefined, entries: [], head: start() };
    throw err;
  }
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  const torn = last === "" ? undefined : `an incomplete last line of ${last.length} characters`;
  if (lines.length === 0) return { epoch: undefined, entries: [], head: start(), ...(torn ? { torn } : {}) };
  const header = parse(lines[0] ?? "") as { format?: unknown; epoch?: unknown } | undefined;
  if (header?.format !== FORMAT || typeof header.epoch !== "string" || header.epoch === "") {
    throw new AuditChainError(`${path}: the first line is not a ${FORMAT} header`, 0);
  }
  const entries: AuditEntry[] = [];
  let head = start();
  for (const line of lines.slice(1)) {
    const entry = parse(line);
    const problem = entry === undefined ? "entry is not JSON" : verifyNext(head, entry);
    if (problem !== undefined)
      throw new AuditChainError(`${path}: seq ${head.seq + 1}: ${problem}`, head.seq + 1);
    const verified = entry as AuditEntry;
    entries.push(verified);
    head = { seq: verified.seq, hash: verified.hash };
  }
  return { epoch: header.epoch, entries, head, ...(torn ? { torn } : {}) };
}

export class AuditMirror {
  private current: ChainHead;
  private held: string | undefined;
  private trouble: string | undefined;

  private constructor(
    readonly dir: string,
    contents: MirrorContents | undefined,
    problem: string | undefined,
    private readonly logger: Logger,
  ) {
    this.current = contents?.head ?? start();
    this.held = contents?.epoch;
    this.trouble = problem;
  }

  /**
   * Reads the mirror in `dir`. Never throws for what the file holds: a mirror that does not verify is
   * kept as evidence, and reported by `problem` (writes through it are refused until it is looked at).
   * A torn last line (an append cut short by a crash) is cut off: Redis still holds that entry.
   */
  static async open(dir: string, logger: Logger): Promise<AuditMirror> {
    const path = join(dir, AUDIT_MIRROR_FILE);
    try {
      const contents = await readMirrorFile(path);
      if (contents.torn) {
        logger.warn("audit mirror: cutting off a torn last line", { file: path, torn: contents.torn });
        const lines = [header(contents.epoch ?? ""), ...contents.entries.map((e) => JSON.stringify(e))];
        if (contents.epoch !== undefined) await writeFileAtomic(path, `${lines.join("\n")}\n`);
      }
      return new AuditMirror(dir, contents, undefined, logger);
    } catch (err) {
      const problem = `the audit mirror ${path} does not verify: ${message(err)}`;
      logger.error("audit mirror unusable; order changes are refused until it is looked at", { problem });
      return new AuditMirror(dir, undefined, problem, logger);
    }
  }

  get path(): string {
    return join(this.dir, AUDIT_MIRROR_FILE);
  }

  /** The last entry mirrored (seq 0 and the zero hash for none). */
  get head(): ChainHead {
    return this.current;
  }

  /** The epoch of the history mirrored; undefined until one is. */
  get epoch(): string | undefined {
    return this.held;
  }

  /** Why this mirror cannot be trusted (it did not verify when read), if so. */
  get problem(): string | undefined {
    return this.trouble;
  }

  /** Whether a ruleset of `epoch` belongs to the history mirrored here (any does while none is). */
  trusts(epoch: string): boolean {
    return this.trouble === undefined && (this.held === undefined || this.held === epoch);
  }

  /** Begins mirroring the history of `epoch`: only while nothing is mirrored. */
  async adopt(epoch: string): Promise<void> {
    if (this.held === epoch) return;
    if (this.held !== undefined || this.current.seq > 0) {
      throw new AuditChainError(`the audit mirror holds epoch ${this.held}, not ${epoch}`, 0);
    }
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.path, `${header(epoch)}\n`);
    this.held = epoch;
    this.logger.info("audit mirror begun", { epoch, file: this.path });
  }

  /**
   * Appends entries that follow the head, each verified against the one before it first: nothing is
   * written unless all of them follow. Entries at or below the head are skipped (seen already).
   */
  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (this.held === undefined) throw new AuditChainError("the audit mirror has no epoch yet", 0);
    const fresh = entries.filter((e) => e.seq > this.current.seq);
    if (fresh.length === 0) return;
    let head = this.current;
    for (const entry of fresh) {
      const problem = verifyNext(head, entry);
      if (problem !== undefined)
        throw new AuditChainError(`audit mirror: seq ${head.seq + 1}: ${problem}`, head.seq + 1);
      head = { seq: entry.seq, hash: entry.hash };
    }
    const fh = await open(this.path, "a");
    try {
      await fh.writeFile(`${fresh.map((e) => JSON.stringify(e)).join("\n")}\n`, "utf8");
      await fh.datasync();
    } finally {
      await fh.close();
    }
    this.current = head;
  }
}

function header(epoch: string): string {
  return JSON.stringify({ format: FORMAT, epoch });
}

function start(): ChainHead {
  return { seq: 0, hash: ZERO_HASH };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
