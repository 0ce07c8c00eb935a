/**
 * A compiled ruleset as a file of columns: the encoding of the embedded store's ruleset snapshot
 * (store/file/ruleset-snapshot.ts) and of the Redis mode's disk mirror (rulesets/disk-mirror.ts).
 *
 * Line-delimited: a header (`format`, the ruleset's meta, `excluded`, then the caller's own fields), one
 * line per non-empty bucket, its orders in columns (see `BucketLine`), a line of the tables the columns
 * point into (authorities and jurisdiction lists, repeated by nearly every order), and a trailer with the
 * SHA-256 of every byte before it. Columns parse several times faster than an object per order, and the
 * tables come last so the write is one pass. Written as `<path>.tmp`, fdatasynced and renamed over
 * `<path>`, in slices that let the event loop run; read back verified (checksum, then the ruleset's own
 * checks and hash: see `fromBucketDocuments`).
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import {
  type BucketDocument,
  bucketDocuments,
  type CompiledOrderDocument,
  type CompileOptions,
  fromBucketDocuments,
  type Ruleset,
} from "../../engine/index.js";

/** The header's fields every ruleset file has; the caller's own follow them. */
export interface RulesetFileHeader {
  format: string;
  version: number;
  epoch?: string;
  hash: string;
  compiledAt: string;
  excluded: { id: string; reason: string }[];
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
    throw new RulesetFileProblem(`bucket ${bucket}: a list column's length`);
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

/** A ruleset file that is there but cannot be used: damaged, cut short, foreign. */
export class RulesetFileProblem extends Error {}

export interface WriteRulesetFileOptions {
  /** How long one slice may hold the event loop, in ms (default 8). */
  sliceMs?: number;
  /** Lets the event loop run between slices (default: a macrotask). */
  yieldToLoop?: () => Promise<void>;
}

export const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Bytes gathered before a write. */
const WRITE_BYTES = 1 << 20;
const NEWLINE = 0x0a;

/**
 * Writes `ruleset` to `<path>.tmp` in slices, fdatasyncs it and renames it over `path`; on failure the
 * temporary file is removed and the file before it stays. The directory is the caller's to sync (it may
 * have more to do before that). `extra` is the caller's part of the header.
 */
export async function writeRulesetFile(
  path: string,
  format: string,
  ruleset: Ruleset,
  extra: Record<string, unknown>,
  options: WriteRulesetFileOptions = {},
): Promise<void> {
  const sliceMs = options.sliceMs ?? 8;
  const yieldToLoop = options.yieldToLoop ?? macrotask;
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
    let until = performance.now() + sliceMs;
    for (const line of rulesetFileLines(format, ruleset, extra)) {
      await put(line);
      if (performance.now() >= until) {
        await flush();
        await yieldToLoop();
        until = performance.now() + sliceMs;
      }
    }
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
}

/**
 * The lines of `ruleset`'s file, without their newlines and the trailer: the header, one per non-empty
 * bucket, the tables. Made one at a time as they are taken.
 */
export function* rulesetFileLines(
  format: string,
  ruleset: Ruleset,
  extra: Record<string, unknown>,
): Generator<string, void, void> {
  const header: RulesetFileHeader = {
    format,
    version: ruleset.version,
    ...(ruleset.epoch === undefined ? {} : { epoch: ruleset.epoch }),
    hash: ruleset.hash,
    compiledAt: ruleset.compiledAt,
    excluded: ruleset.excluded.map(({ id, reason }) => ({ id, reason })),
    ...extra,
  };
  yield JSON.stringify(header);
  const authorities = new Table<string>((a) => a);
  const jurisdictions = new Table<readonly string[]>((list) => list.join("\u0000"));
  let buckets = 0;
  let orders = 0;
  for (const doc of bucketDocuments(ruleset)) {
    buckets++;
    orders += doc.orders.length;
    yield JSON.stringify(bucketLine(doc, authorities, jurisdictions));
  }
  const tables: Tables = {
    buckets,
    orders,
    authorities: authorities.values,
    jurisdictions: jurisdictions.values.map((list) => [...list]),
  };
  yield JSON.stringify(tables);
}

/**
 * `ruleset`'s file in pieces of at least `bytes` (the last one shorter, with the trailer), made one at a
 * time as they are taken: for a writer that sends it elsewhere than a file (Redis) and lets the event
 * loop run between pieces.
 */
export function* rulesetFilePieces(
  format: string,
  ruleset: Ruleset,
  extra: Record<string, unknown>,
  bytes = 64 * 1024,
): Generator<Buffer, void, void> {
  const digest = createHash("sha256");
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for (const line of rulesetFileLines(format, ruleset, extra)) {
    const data = Buffer.from(`${line}\n`, "utf8");
    digest.update(data);
    pending.push(data);
    pendingBytes += data.length;
    if (pendingBytes >= bytes) {
      yield Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
  }
  pending.push(Buffer.from(`${JSON.stringify({ sha256: digest.digest("hex") })}\n`, "utf8"));
  yield Buffer.concat(pending);
}

/** `ruleset`'s file, whole, in one buffer. */
export function encodeRulesetFile(format: string, ruleset: Ruleset, extra: Record<string, unknown>): Buffer {
  return Buffer.concat([...rulesetFilePieces(format, ruleset, extra, Number.POSITIVE_INFINITY)]);
}

/** `write` may write less than asked (a full disk, a signal): loop until all of it is in. */
async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
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

/**
 * The ruleset in `bytes` (a whole file), verified: the checksum, the header's `format` and fields (the
 * caller's own by `headerOk`), the counts, then the ruleset's checks and hash. Throws
 * `RulesetFileProblem` on any doubt. Synchronous: a caller reads it at a start, before anything is served.
 */
export function parseRulesetFile<H extends RulesetFileHeader>(
  bytes: Buffer,
  format: string,
  headerOk: (header: H) => boolean = () => true,
  /** Recompute each bucket's digest with these (a file this process did not write: see `fromBucketDocuments`). */
  verify?: CompileOptions,
): { ruleset: Ruleset; header: H } {
  try {
    return parse(bytes, format, headerOk, verify);
  } catch (err) {
    if (err instanceof RulesetFileProblem) throw err;
    throw new RulesetFileProblem((err as Error).message);
  }
}

function parse<H extends RulesetFileHeader>(
  bytes: Buffer,
  format: string,
  headerOk: (header: H) => boolean,
  verify: CompileOptions | undefined,
): { ruleset: Ruleset; header: H } {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== NEWLINE)
    throw new RulesetFileProblem("truncated (no last newline)");
  const trailerStart = bytes.lastIndexOf(NEWLINE, bytes.length - 2) + 1;
  if (trailerStart === 0) throw new RulesetFileProblem("truncated (one line)");
  const trailer = JSON.parse(bytes.toString("utf8", trailerStart, bytes.length - 1)) as { sha256?: unknown };
  const body = bytes.subarray(0, trailerStart);
  if (trailer?.sha256 !== createHash("sha256").update(body).digest("hex"))
    throw new RulesetFileProblem("checksum does not match");
  // Line boundaries of the body: header, buckets, tables.
  const ends: number[] = [];
  for (let nl = body.indexOf(NEWLINE); nl !== -1; nl = body.indexOf(NEWLINE, nl + 1)) ends.push(nl);
  const line = (i: number) =>
    JSON.parse(body.toString("utf8", i === 0 ? 0 : (ends[i - 1] as number) + 1, ends[i]));
  const header = line(0) as H;
  if (
    header?.format !== format ||
    !Number.isSafeInteger(header.version) ||
    typeof header.hash !== "string" ||
    typeof header.compiledAt !== "string" ||
    !Array.isArray(header.excluded) ||
    !headerOk(header)
  )
    throw new RulesetFileProblem(`not a ${format} header`);
  const tables = line(ends.length - 1) as Tables;
  if (!Array.isArray(tables?.authorities) || !Array.isArray(tables.jurisdictions))
    throw new RulesetFileProblem("no tables");
  for (const blocks of tables.jurisdictions) if (Array.isArray(blocks)) Object.freeze(blocks);
  if (ends.length !== tables.buckets + 2) throw new RulesetFileProblem("the bucket count does not match");
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
    verify,
  );
  if (orders !== tables.orders) throw new RulesetFileProblem("the order count does not match");
  return { ruleset, header };
}

function bucketDocument(line: BucketLine, tables: Tables): BucketDocument {
  if (!Array.isArray(line) || line.length !== 12) throw new RulesetFileProblem("not a bucket line");
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
      throw new RulesetFileProblem(`bucket ${bucket}: a column's length`);
  const meetingIds = idLists(meetings, n, bucket);
  const accountIds = idLists(accounts, n, bucket);
  const exemptIds = idLists(exempt, n, bucket);
  if (
    typeof modes !== "string" ||
    modes.length !== n ||
    (actions !== 0 && (typeof actions !== "string" || actions.length !== n))
  )
    throw new RulesetFileProblem(`bucket ${bucket}: modes or actions`);
  const orders: CompiledOrderDocument[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const authority = tables.authorities[authorities[i] as number];
    const blocks = tables.jurisdictions[jurisdictions[i] as number];
    if (typeof authority !== "string" || !Array.isArray(blocks))
      throw new RulesetFileProblem(`bucket ${bucket}: a table index`);
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
