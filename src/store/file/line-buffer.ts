/**
 * `LineBuffer`: JSON lines encoded straight into a reusable buffer, for the decision log's group commit
 * (segment-log.ts). A line holds exactly the UTF-8 bytes of `JSON.stringify(value)` and a newline, but
 * the usual case, a flat record of ASCII strings, nulls, numbers, booleans and arrays of ASCII strings,
 * is written field by field with no string made at all: `JSON.stringify` builds its text in parts, and
 * encoding that text flattens it into one more copy, about a kilobyte of garbage a record at thousands
 * of checks a second. Anything else (a nested object, a `toJSON`, a string to escape, a bigint) is
 * written from `JSON.stringify` itself, so the bytes never differ (test/store/line-buffer.test.ts).
 */
import { Buffer } from "node:buffer";

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const NEWLINE = 0x0a;
const hasOwn = Object.prototype.hasOwnProperty;

/** Raised inside `write` when the fast path does not cover a value: the whole line is redone. */
const NOT_PLAIN = Symbol("not plain");

export class LineBuffer {
  buf: Buffer;
  /** Bytes written so far: the lines are `buf[0, length)`. */
  length = 0;
  /** Lines written so far. */
  lines = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Empties it for reuse. */
  reset(): void {
    this.length = 0;
    this.lines = 0;
  }

  /**
   * Appends `JSON.stringify(value)` and a newline. Throws what `JSON.stringify` throws (a cycle, a
   * bigint) or a TypeError where it would give no text (undefined); nothing of the line is kept then.
   */
  push(value: object): void {
    const start = this.length;
    try {
      this.writeObject(value);
    } catch (err) {
      this.length = start;
      if (err !== NOT_PLAIN) throw err;
      this.writeText(value);
    }
    this.ensure(1);
    this.buf[this.length++] = NEWLINE;
    this.lines++;
  }

  /** The line from `JSON.stringify` as a whole: whatever the fast path leaves out. */
  private writeText(value: object): void {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) throw new TypeError("not a JSON value");
    this.ensure(text.length * 3);
    this.length += this.buf.write(text, this.length, "utf8");
  }

  private writeObject(value: object): void {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw NOT_PLAIN;
    if (typeof (value as { toJSON?: unknown }).toJSON === "function") throw NOT_PLAIN;
    const o = value as Record<string, unknown>;
    this.byte(0x7b); // {
    let first = true;
    for (const key in o) {
      // `for...in` also walks inherited keys, which JSON.stringify leaves out: not this path's case.
      if (!hasOwn.call(o, key)) throw NOT_PLAIN;
      const field = o[key];
      // Left out by JSON.stringify, key and all.
      if (field === undefined) continue;
      if (!first) this.byte(COMMA);
      first = false;
      this.writeString(key);
      this.byte(COLON);
      this.writeValue(field);
    }
    this.byte(0x7d); // }
  }

  private writeValue(value: unknown): void {
    if (typeof value === "string") this.writeString(value);
    else if (typeof value === "number") this.writeNumber(value);
    else if (typeof value === "boolean") this.writeAscii(value ? "true" : "false");
    else if (value === null) this.writeAscii("null");
    else if (Array.isArray(value)) this.writeStrings(value);
    // An object (a toJSON, nested keys), a function or a symbol (left out, or null in an array), a
    // bigint (JSON.stringify throws).
    else throw NOT_PLAIN;
  }

  /** An array of strings only; anything else in it is the whole line's `JSON.stringify`'s. */
  private writeStrings(values: unknown[]): void {
    this.byte(0x5b); // [
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== "string") throw NOT_PLAIN;
      if (i > 0) this.byte(COMMA);
      this.writeString(v);
    }
    this.byte(0x5d); // ]
  }

  /** A string of printable ASCII without `"` or `\`, which JSON writes as it is; else NOT_PLAIN. */
  private writeString(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const buf = this.buf;
    let at = this.length;
    buf[at++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === 0x5c) throw NOT_PLAIN;
      buf[at++] = c;
    }
    buf[at++] = QUOTE;
    this.length = at;
  }

  private writeNumber(n: number): void {
    // Integers as digits without a string; anything else as JSON writes numbers (non-finite: null).
    if (Number.isSafeInteger(n) && n >= 0) {
      let digits = 1;
      for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
      this.ensure(digits);
      let at = this.length + digits;
      this.length = at;
      let rest = n;
      do {
        this.buf[--at] = 0x30 + (rest % 10);
        rest = Math.floor(rest / 10);
      } while (rest > 0);
      return;
    }
    this.writeAscii(Number.isFinite(n) ? String(n) : "null");
  }

  private writeAscii(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.length++] = s.charCodeAt(i);
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  /** Room for `bytes` more, growing the buffer (doubling) when needed. */
  private ensure(bytes: number): void {
    const need = this.length + bytes;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(size);
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }
}
