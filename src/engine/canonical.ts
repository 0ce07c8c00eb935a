/**
 * The canonical text of compiled orders, the input of the ruleset hash (see `hashOrders` in
 * `ruleset.ts`): for each order, the JSON array `[id, mode, authority, jurisdictions, from, until,
 * meetingIds, accountIds]`, then `action` and `exemptAccountIds` when they are not the defaults, the
 * entries joined by commas inside one array. It is byte for byte what `JSON.stringify` gives for those
 * arrays, written here as UTF-8 straight into a byte buffer: a compile hashes every order, and a million
 * orders then make no million strings.
 *
 * Two uses. `hashCanonical` streams one list of orders into a SHA-256, a buffer at a time. An
 * `EntryArena` keeps each order's entry, written as the compile meets the order (in the order the
 * orders lie in memory), and hashes a bucket's entries later in id order from it: walking a million
 * orders in id order reads them all over the heap (hashing the same million orders took 1.48 s in id
 * order against 0.41 s in memory order; the whole digest phase of a 1M compile went from 1.6 to 1.1 s).
 */
import { utf8ToBytes } from "@noble/hashes/utils.js";
import type { CompiledOrder, Sha256Stream } from "./ruleset.js";

/** Bytes gathered before they go to the hash. */
const STREAM_SIZE = 1 << 16;
/** Room any token of known length (a number, a comma, a bracket) fits in. */
const TOKEN = 64;

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NULL_TEXT = utf8ToBytes("null");
const EMPTY_LIST = utf8ToBytes("[]");

/**
 * Writes entries as UTF-8 into `bytes` at `at`. Before a token it makes room (`reserve`): a streaming
 * writer sends what it holds to its hash, an arena grows.
 */
class EntryWriter {
  at = 0;

  constructor(
    public bytes: Uint8Array,
    private readonly hash?: Sha256Stream,
  ) {}

  reserve(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    if (this.hash !== undefined) {
      this.flush();
      if (n <= this.bytes.length) return;
    }
    let size = this.bytes.length * 2;
    while (size < this.at + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
  }

  flush(): void {
    if (this.at > 0) this.hash?.update(this.bytes.subarray(0, this.at));
    this.at = 0;
  }

  byte(b: number): void {
    this.reserve(1);
    this.bytes[this.at++] = b;
  }

  put(src: Uint8Array): void {
    this.reserve(src.length);
    this.bytes.set(src, this.at);
    this.at += src.length;
  }

  entry(o: CompiledOrder): void {
    this.reserve(TOKEN);
    this.bytes[this.at++] = OPEN;
    this.quoted(o.id);
    this.put(middle(o));
    this.reserve(TOKEN);
    this.number(o.from);
    this.bytes[this.at++] = COMMA;
    if (o.until === null) this.put(NULL_TEXT);
    else this.number(o.until);
    this.byte(COMMA);
    this.list(o.meetingIds);
    this.byte(COMMA);
    this.list(o.accountIds);
    if (o.action !== "geoblock" || o.exemptAccountIds.length > 0) {
      this.byte(COMMA);
      this.quoted(o.action);
      this.byte(COMMA);
      this.list(o.exemptAccountIds);
    }
    this.byte(CLOSE);
  }

  /**
   * A string as `JSON.stringify` writes it. Plain printable ASCII (no quote or backslash: ids, codes)
   * is copied code by code; on the first other character the string is written again as
   * `JSON.stringify` gives it, in UTF-8.
   */
  quoted(s: string): void {
    this.reserve(s.length + 2);
    const bytes = this.bytes;
    const start = this.at;
    let at = start;
    bytes[at++] = QUOTE;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === 0x5c) {
        this.put(utf8ToBytes(JSON.stringify(s)));
        return;
      }
      bytes[at++] = c;
    }
    bytes[at++] = QUOTE;
    this.at = at;
  }

  /** A list of strings as `JSON.stringify` writes it. */
  list(items: readonly string[]): void {
    if (items.length === 0) {
      this.put(EMPTY_LIST);
      return;
    }
    this.byte(OPEN);
    for (let i = 0; i < items.length; i++) {
      if (i > 0) this.byte(COMMA);
      this.quoted(items[i] as string);
    }
    this.byte(CLOSE);
  }

  /**
   * A window bound as `JSON.stringify` writes it (room for it reserved). Windows are finite (compile
   * and the readers refuse others); a safe integer, as every epoch-ms bound is, is written digit by
   * digit, anything else as `String` gives it (JSON's number text for a finite number).
   */
  number(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.put(utf8ToBytes(Number.isFinite(n) ? String(n) : JSON.stringify(n)));
      return;
    }
    const bytes = this.bytes;
    if (n < 0) {
      bytes[this.at++] = MINUS;
      n = -n;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    const at = this.at;
    for (let i = at + digits - 1; i >= at; i--) {
      bytes[i] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    }
    this.at = at + digits;
  }
}

/** The SHA-256 (hex) of the canonical text of `orders`, in the order given. */
export function hashCanonical(orders: readonly CompiledOrder[], hash: Sha256Stream): string {
  const out = streamWriter(hash);
  out.byte(OPEN);
  for (let i = 0; i < orders.length; i++) {
    if (i > 0) out.byte(COMMA);
    out.entry(orders[i] as CompiledOrder);
  }
  out.byte(CLOSE);
  out.flush();
  return hash.hex();
}

/** A writer streaming into `hash`; its buffer is reused from one call to the next (a hash is synchronous). */
function streamWriter(hash: Sha256Stream): EntryWriter {
  return new EntryWriter(streamBuffer, hash);
}

const streamBuffer = new Uint8Array(STREAM_SIZE);

/** Bytes of entries an `EntryArena` holds at a time, and what it expects an entry to take. */
const ARENA_BYTES = 24 << 20;
const ENTRY_BYTES = 128;

/**
 * Entries of a compile's orders, written as the compile walks its orders in the order they lie in
 * memory and kept as bytes under each order's number (`add`), then hashed any number of them joined in
 * id order (`hash`: the digest `hashCanonical` gives over those orders). A window of buckets at a time
 * (`windows`, `clear`): at most about 24 MiB of text at once, since memory outside the heap that grows
 * by more than V8's allowance (64 MiB) starts a full collection, which beside a million orders' heap
 * costs more than all the hashing.
 */
export class EntryArena {
  /** How many windows the compile's orders should be hashed in, so that one fits the arena. */
  readonly windows: number;
  private readonly text: EntryWriter;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;

  /** `count` orders, numbered 0 to count - 1; `budget` bytes of text at a time (tests make it small). */
  constructor(count: number, budget = ARENA_BYTES) {
    this.windows = Math.max(1, Math.ceil((count * ENTRY_BYTES) / budget));
    this.text = new EntryWriter(new Uint8Array(Math.min(budget, Math.max(1024, count * ENTRY_BYTES))));
    this.starts = new Int32Array(count);
    this.ends = new Int32Array(count);
  }

  clear(): void {
    this.text.at = 0;
  }

  /** Writes `order`'s entry as the `k`th order's. */
  add(k: number, order: CompiledOrder): void {
    this.starts[k] = this.text.at;
    this.text.entry(order);
    this.ends[k] = this.text.at;
  }

  /**
   * The SHA-256 (hex) of the canonical text of the orders numbered `ks[from..to)`, in that order, each
   * written since the last `clear`.
   */
  hash(ks: Int32Array, from: number, to: number, hash: Sha256Stream): string {
    const out = streamWriter(hash);
    const src = this.text.bytes;
    out.byte(OPEN);
    for (let i = from; i < to; i++) {
      if (i > from) out.byte(COMMA);
      const k = ks[i] as number;
      const start = this.starts[k] as number;
      const end = this.ends[k] as number;
      out.reserve(end - start);
      const dst = out.bytes;
      let at = out.at;
      for (let j = start; j < end; j++) dst[at++] = src[j] as number;
      out.at = at;
    }
    out.byte(CLOSE);
    out.flush();
    return hash.hex();
  }
}

/**
 * The bytes an entry has between its id and its window (`,"mode","authority",[blocks],`), by block
 * list: the orders of a compile share a handful of lists (`SharedParts`), so at a million orders they
 * are made a few times instead of a million. Bounded: a reader that gives every order its own list only
 * churns it. A list that can still change is never remembered.
 */
const middles = new Map<
  readonly string[],
  { authority: string; enforce?: Uint8Array; shadow?: Uint8Array }
>();

function middle(o: CompiledOrder): Uint8Array {
  if (!Object.isFrozen(o.jurisdictions)) return middleBytes(o);
  let known = middles.get(o.jurisdictions);
  if (known === undefined || known.authority !== o.authority) {
    if (middles.size >= 1024) middles.clear();
    known = { authority: o.authority };
    middles.set(o.jurisdictions, known);
  }
  let bytes = known[o.mode];
  if (bytes === undefined) {
    bytes = middleBytes(o);
    known[o.mode] = bytes;
  }
  return bytes;
}

function middleBytes(o: CompiledOrder): Uint8Array {
  return utf8ToBytes(
    `,${JSON.stringify(o.mode)},${JSON.stringify(o.authority)},${JSON.stringify(o.jurisdictions)},`,
  );
}
