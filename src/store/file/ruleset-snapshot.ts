/**
 * The compiled ruleset beside the journal, `<dir>/ruleset.snapshot`: the ruleset in force as of journal
 * entry V (its `version`), with that entry's position, so that a start loads it, compiles only the
 * entries after V and is ready without reading every order (the orders load afterwards).
 *
 * Line-delimited: a header (the ruleset's meta, `excluded`, the journal position of entry V), one line
 * per non-empty bucket, its orders in columns (see `BucketLine`), a line of the tables the columns point
 * into (authorities and jurisdiction lists, repeated by nearly every order), and a trailer with the
 * SHA-256 of every byte before it. Columns parse several times faster than an object per order, and the
 * tables come last so the write is one pass.
 *
 * Written beside as `ruleset.snapshot.tmp`, fdatasynced, renamed over the old one and the directory
 * synced, in slices that let the event loop run (as order-snapshot.ts does). Only a cache: one that does
 * not verify is refused with `RulesetSnapshotProblem`, and the caller compiles from the orders.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  type BucketDocument,
  bucketDocuments,
  type CompiledOrderDocument,
  fromBucketDocuments,
  type Order,
  type Ruleset,
} from "../../engine/index.js";
import type { Logger } from "../../kernel/logger.js";
import { NEWLINE, syncDir, writeAll } from "./file-io.js";
import { readJournalTail } from "./order-journal.js";

export const RULESET_SNAPSHOT_FILE = "ruleset.snapshot";
export const RULESET_SNAPSHOT_FORMAT = "cordon-ruleset-snapshot/1";

/** Where journal entry `seq` (whose hash is `hash`) ends in the journal: the snapshot's version. */
export interface JournalPosition {
  seq: number;
  hash: string;
  bytes: number;
}

interface Header {
  format: typeof RULESET_SNAPSHOT_FORMAT;
  version: number;
  epoch?: string;
  hash: string;
  compiledAt: string;
  excluded: { id: string; reason: string }[];
  journal: JournalPosition;
}

/**
 * One bucket: `[bucket, digest, ids, modes, actions, authorities, jurisdictions, from, until,
 * meetingIds, accountIds, exemptAccountIds]`, one entry per order in each column. `modes` is a string
 * of `e` (enforce) and `s` (shadow); `actions` of `g` and `p`, or 0 when every order is a geoblock;
 * `authorities` and `jurisdictions` index the tables; the lists of ids are `IdColumn`s.
 */
type BucketLine = [
  number,
  string,
  string[],
  string,
  string | 0,
  number[],
  number[],
  number[],
  (number | null)[],
  IdColumn,
  IdColumn,
  IdColumn,
];

/**
 * A list of ids per order: 0 when every list is empty, the ids themselves when every list has exactly
 * one (a meeting order names one meeting, as a rule: a flat array parses faster than one per order),
 * else one array per order.
 */
type IdColumn = 0 | string[] | string[][];

function idColumn(lists: readonly (readonly string[])[]): IdColumn {
  if (lists.every((l) => l.length === 0)) return 0;
  if (lists.every((l) => l.length === 1)) return lists.map((l) => l[0] as string);
  return lists as string[][];
}

const NO_IDS: readonly string[] = Object.freeze([]);

/** The lists of an `IdColumn` of `n` orders, checked to be one per order. */
function idLists(column: IdColumn, n: number, bucket: number): (i: number) => readonly string[] {
  if (column === 0) return () => NO_IDS;
  if (!Array.isArray(column) || column.length !== n)
    throw new RulesetSnapshotProblem(`bucket ${bucket}: a list column's length`);
  // Frozen here (the parsed arrays are this reader's own), so the ruleset takes them without a copy.
  if (n > 0 && typeof column[0] === "string") return (i) => Object.freeze([column[i] as string]);
  return (i) => Object.freeze(column[i] as string[]);
}

/** The last line before the trailer: the tables, and how many buckets and orders came before. */
interface Tables {
  buckets: number;
  orders: number;
  authorities: string[];
  jurisdictions: string[][];
}

export class RulesetSnapshotProblem extends Error {}

export interface WriteRulesetSnapshotOptions {
  /** How long one slice may hold the event loop, in ms (default 8). */
  sliceMs?: number;
  /** Lets the event loop run between slices (default: a macrotask). */
  yieldToLoop?: () => Promise<void>;
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Bytes gathered before a write. */
const WRITE_BYTES = 1 << 20;

/** Writes `ruleset` as the snapshot of `root`, standing for the journal entry at `journal` (its version). */
export async function writeRulesetSnapshot(
  root: string,
  ruleset: Ruleset,
  journal: JournalPosition,
  options: WriteRulesetSnapshotOptions = {},
): Promise<void> {
  if (journal.seq !== ruleset.version)
    throw new Error(`ruleset v${ruleset.version} written as of journal entry ${journal.seq}`);
  const sliceMs = options.sliceMs ?? 8;
  const yieldToLoop = options.yieldToLoop ?? macrotask;
  const path = join(root, RULESET_SNAPSHOT_FILE);
  const tmp = `${path}.tmp`;
  const digest = createHash("sha256");
  const fh = await open(tmp, "w");
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const bytes = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      digest.update(bytes);
      await writeAll(fh, bytes);
    };
    const put = async (text: string) => {
      const bytes = Buffer.from(`${text}\n`, "utf8");
      pending.push(bytes);
      pendingBytes += bytes.length;
      if (pendingBytes >= WRITE_BYTES) await flush();
    };
    const header: Header = {
      format: RULESET_SNAPSHOT_FORMAT,
      version: ruleset.version,
      ...(ruleset.epoch === undefined ? {} : { epoch: ruleset.epoch }),
      hash: ruleset.hash,
      compiledAt: ruleset.compiledAt,
      excluded: ruleset.excluded.map(({ id, reason }) => ({ id, reason })),
      journal: { seq: journal.seq, hash: journal.hash, bytes: journal.bytes },
    };
    await put(JSON.stringify(header));
    const authorities = new Table<string>((a) => a);
    const jurisdictions = new Table<readonly string[]>((list) => list.join("\u0000"));
    let until = performance.now() + sliceMs;
    let buckets = 0;
    let orders = 0;
    for (const doc of bucketDocuments(ruleset)) {
      buckets++;
      orders += doc.orders.length;
      await put(JSON.stringify(bucketLine(doc, authorities, jurisdictions)));
      if (performance.now() >= until) {
        await flush();
        await yieldToLoop();
        until = performance.now() + sliceMs;
      }
    }
    const tables: Tables = {
      buckets,
      orders,
      authorities: authorities.values,
      jurisdictions: jurisdictions.values.map((list) => [...list]),
    };
    await put(JSON.stringify(tables));
    await flush();
    await writeAll(fh, Buffer.from(`${JSON.stringify({ sha256: digest.digest("hex") })}\n`, "utf8"));
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await syncDir(root);
}

/** Values numbered in the order first seen; `key` says which are the same. */
class Table<T> {
  readonly values: T[] = [];
  private readonly index = new Map<unknown, number>();
  /** Compiled orders share their lists: most lookups hit by identity, before the key is made. */
  private readonly byIdentity = new Map<T, number>();

  constructor(private readonly key: (value: T) => string) {}

  at(value: T): number {
    const hit = this.byIdentity.get(value);
    if (hit !== undefined) return hit;
    const key = this.key(value);
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      this.index.set(key, i);
    }
    this.byIdentity.set(value, i);
    return i;
  }
}

function bucketLine(
  doc: BucketDocument,
  authorities: Table<string>,
  jurisdictions: Table<readonly string[]>,
): BucketLine {
  const { orders } = doc;
  let modes = "";
  let actions = "";
  let anyAction = false;
  for (const o of orders) {
    modes += o.mode === "shadow" ? "s" : "e";
    const prevent = o.action === "prevent_hosting";
    actions += prevent ? "p" : "g";
    anyAction ||= prevent;
  }
  return [
    doc.bucket,
    doc.digest,
    orders.map((o) => o.id),
    modes,
    anyAction ? actions : 0,
    orders.map((o) => authorities.at(o.authority)),
    orders.map((o) => jurisdictions.at(o.jurisdictions)),
    orders.map((o) => o.from),
    orders.map((o) => o.until),
    idColumn(orders.map((o) => o.meetingIds)),
    idColumn(orders.map((o) => o.accountIds)),
    idColumn(orders.map((o) => o.exemptAccountIds ?? NO_IDS)),
  ];
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
    return parse(bytes);
  } catch (err) {
    if (err instanceof RulesetSnapshotProblem) throw err;
    throw new RulesetSnapshotProblem((err as Error).message);
  }
}

function parse(bytes: Buffer): RulesetSnapshot {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== NEWLINE)
    throw new RulesetSnapshotProblem("truncated (no last newline)");
  const trailerStart = bytes.lastIndexOf(NEWLINE, bytes.length - 2) + 1;
  if (trailerStart === 0) throw new RulesetSnapshotProblem("truncated (one line)");
  const trailer = JSON.parse(bytes.toString("utf8", trailerStart, bytes.length - 1)) as { sha256?: unknown };
  const body = bytes.subarray(0, trailerStart);
  if (trailer?.sha256 !== createHash("sha256").update(body).digest("hex"))
    throw new RulesetSnapshotProblem("checksum does not match");
  // Line boundaries of the body: header, buckets, tables.
  const ends: number[] = [];
  for (let nl = body.indexOf(NEWLINE); nl !== -1; nl = body.indexOf(NEWLINE, nl + 1)) ends.push(nl);
  const line = (i: number) =>
    JSON.parse(body.toString("utf8", i === 0 ? 0 : (ends[i - 1] as number) + 1, ends[i]));
  const header = line(0) as Header;
  if (
    header?.format !== RULESET_SNAPSHOT_FORMAT ||
    !Number.isSafeInteger(header.version) ||
    typeof header.hash !== "string" ||
    typeof header.compiledAt !== "string" ||
    !Array.isArray(header.excluded) ||
    header.journal?.seq !== header.version ||
    typeof header.journal.hash !== "string" ||
    !Number.isSafeInteger(header.journal.bytes)
  )
    throw new RulesetSnapshotProblem("not a ruleset snapshot header");
  const tables = line(ends.length - 1) as Tables;
  if (!Array.isArray(tables?.authorities) || !Array.isArray(tables.jurisdictions))
    throw new RulesetSnapshotProblem("no tables");
  for (const blocks of tables.jurisdictions) if (Array.isArray(blocks)) Object.freeze(blocks);
  if (ends.length !== tables.buckets + 2) throw new RulesetSnapshotProblem("the bucket count does not match");
  let orders = 0;
  function* documents(): Generator<BucketDocument> {
    for (let i = 1; i <= tables.buckets; i++) {
      const doc = bucketDocument(line(i) as BucketLine, tables);
      orders += doc.orders.length;
      yield doc;
    }
  }
  const ruleset = fromBucketDocuments(
    {
      version: header.version,
      compiledAt: header.compiledAt,
      ...(header.epoch === undefined ? {} : { epoch: header.epoch }),
      hash: header.hash,
      excluded: header.excluded,
    },
    documents(),
  );
  if (orders !== tables.orders) throw new RulesetSnapshotProblem("the order count does not match");
  return { ruleset, journal: { ...header.journal } };
}

function bucketDocument(line: BucketLine, tables: Tables): BucketDocument {
  if (!Array.isArray(line) || line.length !== 12) throw new RulesetSnapshotProblem("not a bucket line");
  const [
    bucket,
    digest,
    ids,
    modes,
    actions,
    authorities,
    jurisdictions,
    from,
    until,
    meetings,
    accounts,
    exempt,
  ] = line;
  const n = ids.length;
  for (const column of [authorities, jurisdictions, from, until])
    if (!Array.isArray(column) || column.length !== n)
      throw new RulesetSnapshotProblem(`bucket ${bucket}: a column's length`);
  const meetingIds = idLists(meetings, n, bucket);
  const accountIds = idLists(accounts, n, bucket);
  const exemptIds = idLists(exempt, n, bucket);
  if (
    typeof modes !== "string" ||
    modes.length !== n ||
    (actions !== 0 && (typeof actions !== "string" || actions.length !== n))
  )
    throw new RulesetSnapshotProblem(`bucket ${bucket}: modes or actions`);
  const orders: CompiledOrderDocument[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const authority = tables.authorities[authorities[i] as number];
    const blocks = tables.jurisdictions[jurisdictions[i] as number];
    if (typeof authority !== "string" || !Array.isArray(blocks))
      throw new RulesetSnapshotProblem(`bucket ${bucket}: a table index`);
    const order: { -readonly [K in keyof CompiledOrderDocument]: CompiledOrderDocument[K] } = {
      id: ids[i] as string,
      mode: modes[i] === "s" ? "shadow" : "enforce",
      authority,
      jurisdictions: blocks,
      from: from[i] as number,
      until: until[i] as number | null,
      meetingIds: meetingIds(i),
      accountIds: accountIds(i),
    };
    // The defaults left out, as a document leaves them out.
    if (actions !== 0 && actions[i] === "p") order.action = "prevent_hosting";
    const exempted = exemptIds(i);
    if (exempted.length > 0) order.exemptAccountIds = exempted;
    orders[i] = order;
  }
  return { bucket, digest, orders };
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
