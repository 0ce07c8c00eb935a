/**
 * Exact sets of a month bucket's distinct meetings and participants, compact in memory, for
 * `FileAggregateStore`. Participants are ip hashes, 64 lowercase hex characters (a 32-byte keyed hash):
 * such values are kept as their 32 bytes in one Buffer, found through an open-addressing table of
 * indexes, instead of a string each plus a Set entry (several times the size, and all of it on V8's
 * heap, which it sizes to a multiple of what is live). Any other value (meeting ids, hashes of another
 * form) is kept as the string. Nothing is truncated: two values are one member only if they are equal,
 * so a set's size is the exact distinct count. The bytes give back the same string (lowercase hex), so a
 * month read back merges with other months as before.
 *
 * Members are kept in the order they were first added, each kind apart, and the set knows which of them
 * are stored already (`saved`): the month's sets file (aggregate-store.ts) is appended with only the
 * ones added since (`unsaved`), never rewritten.
 */
import { Buffer } from "node:buffer";

/** Bytes of one hash member. */
export const HASH_BYTES = 32;
const HEX_HASH = /^[0-9a-f]{64}$/;

/** Whether a value is kept as 32 bytes: exactly 64 lowercase hex characters, which is what it reads back as. */
export function isHexHash(value: string): boolean {
  return value.length === HASH_BYTES * 2 && HEX_HASH.test(value);
}

/** An insertion-ordered set of 32-byte values: the values packed in one Buffer, a table of their indexes. */
export class Hash32Set {
  /** The members, HASH_BYTES each, in the order added; `count` of them are in use. */
  #entries = Buffer.allocUnsafe(HASH_BYTES * 8);
  #count = 0;
  /** Open addressing (linear probing), at most half full: a member's index + 1; 0 is an empty slot. */
  #table = new Int32Array(16);

  get size(): number {
    return this.#count;
  }

  /** Adds the 32 bytes at `src[off..off+32]`; false when they are a member already. */
  add(src: Uint8Array, off = 0): boolean {
    const value = src.subarray(off, off + HASH_BYTES);
    const mask = this.#table.length - 1;
    let slot = hashOf(src, off) & mask;
    for (;;) {
      const at = this.#table[slot] as number;
      if (at === 0) break;
      if (Buffer.compare(value, this.#member(at - 1)) === 0) return false;
      slot = (slot + 1) & mask;
    }
    if ((this.#count + 1) * HASH_BYTES > this.#entries.length) {
      const grown = Buffer.allocUnsafe(this.#entries.length * 2);
      this.#entries.copy(grown, 0, 0, this.#count * HASH_BYTES);
      this.#entries = grown;
    }
    this.#entries.set(value, this.#count * HASH_BYTES);
    this.#count++;
    this.#table[slot] = this.#count;
    if (this.#count * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    return true;
  }

  /** The members from index `from` on, packed (a view: copy it before adding more). */
  packed(from = 0): Buffer {
    return this.#entries.subarray(from * HASH_BYTES, this.#count * HASH_BYTES);
  }

  #member(i: number): Buffer {
    return this.#entries.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  #rehash(capacity: number): void {
    const table = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < this.#count; i++) {
      let slot = hashOf(this.#entries, i * HASH_BYTES) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = i + 1;
    }
    this.#table = table;
  }
}

/**
 * Mixes all 32 bytes (not just the first four): ip hashes are keyed hashes and so spread evenly, but a
 * set must stay fast whatever it is given.
 */
function hashOf(b: Uint8Array, off: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + HASH_BYTES; i += 4) {
    const word =
      (b[i] as number) |
      ((b[i + 1] as number) << 8) |
      ((b[i + 2] as number) << 16) |
      ((b[i + 3] as number) << 24);
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** One bucket's meetings or participants: hex hashes as bytes, other values as strings. */
export class MemberSet {
  readonly #hashes = new Hash32Set();
  readonly #strings = new Set<string>();
  /** The strings in the order added (the Set for membership): what is unsaved is a tail of it. */
  readonly #stringList: string[] = [];
  #savedHashes = 0;
  #savedStrings = 0;
  static readonly #scratch = Buffer.allocUnsafe(HASH_BYTES);

  get size(): number {
    return this.#hashes.size + this.#strings.size;
  }

  /** Adds a value; false when it is a member already. */
  add(value: string): boolean {
    if (isHexHash(value)) {
      MemberSet.#scratch.write(value, 0, "hex");
      return this.#hashes.add(MemberSet.#scratch);
    }
    return this.addString(value);
  }

  /** Adds a value that is not a hex hash, as a string (what a sets file's string entries hold). */
  addString(value: string): boolean {
    if (this.#strings.has(value)) return false;
    this.#strings.add(value);
    this.#stringList.push(value);
    return true;
  }

  /** Adds the packed 32-byte members of `bytes` (what a sets file's hash entries hold). */
  addPacked(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; off += HASH_BYTES) this.#hashes.add(bytes, off);
  }

  /** Every member as its string: the hashes (as lowercase hex) first, then the others. */
  values(): string[] {
    const out: string[] = [];
    const packed = this.#hashes.packed();
    for (let off = 0; off < packed.length; off += HASH_BYTES) {
      out.push(packed.toString("hex", off, off + HASH_BYTES));
    }
    for (const s of this.#stringList) out.push(s);
    return out;
  }

  /** The members added since `markSaved`: hashes packed (a copy), and strings. */
  unsaved(): { hashes: Buffer; strings: string[] } {
    return {
      hashes: Buffer.from(this.#hashes.packed(this.#savedHashes)),
      strings: this.#stringList.slice(this.#savedStrings),
    };
  }

  /** Every member is now stored: the next `unsaved` holds only what is added after this. */
  markSaved(): void {
    this.#savedHashes = this.#hashes.size;
    this.#savedStrings = this.#stringList.length;
  }

  get hasUnsaved(): boolean {
    return this.#hashes.size > this.#savedHashes || this.#stringList.length > this.#savedStrings;
  }
}
