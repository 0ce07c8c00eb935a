/**
 * `LineBuffer` (src/store/file/line-buffer.ts) writes a decision log line without JSON.stringify where it
 * can: on generated values, decision records and anything else a caller could hand the log, its bytes
 * are exactly `JSON.stringify(value)` and a newline, and what JSON.stringify refuses it refuses, keeping
 * nothing of that line.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineBuffer } from "../../src/store/file/line-buffer.js";

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
  fc.string({ unit: "binary", maxLength: 10 }),
  fc.constantFrom('"', "\\", "\u2028", "\ud800", "a\udc00b", "\u007f", "\u0000", "é", "😀", ""),
);
const number = fc.oneof(
  fc.integer(),
  fc.nat(),
  fc.double(),
  fc.constantFrom(-0, 0, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, -1e-7, Number.NaN, Number.POSITIVE_INFINITY),
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  text,
  number,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(text, { maxLength: 4 }),
  fc.array(fc.oneof(text, fc.constant(undefined), fc.constant(null), fc.integer()), { maxLength: 3 }),
  fc.dictionary(text, fc.oneof(text, fc.integer()), { maxKeys: 3 }),
  fc.date({ noInvalidDate: true }),
  fc.constant(() => 1),
  fc.constant(Symbol("s")),
);
const anyObject = fc.dictionary(fc.oneof(text, fc.constantFrom("0", "12", "__proto__", "toJSON")), value, {
  maxKeys: 8,
});

const decisionRecord = fc.record(
  {
    decisionId: fc.uuid(),
    at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    phase: fc.constantFrom("join", "in_meeting"),
    role: fc.constantFrom("participant", "host"),
    meetingId: fc.bigInt({ min: 10n ** 8n, max: 10n ** 11n - 1n }).map(String),
    accountId: fc.oneof(fc.stringMatching(/^[\w-]{1,20}$/), text),
    decision: fc.constantFrom("allow", "deny"),
    code: fc.constantFrom("NO_ORDER", "BLOCKED", "GEO_UNKNOWN"),
    orderIds: fc.array(
      fc.nat().map((n) => `ord_${n.toString(16)}`),
      { maxLength: 3 },
    ),
    jurisdiction: fc.option(fc.constantFrom("RU", "IN-MH")),
    country: fc.option(fc.constantFrom("RU", "IN", "NL")),
    subdivision: fc.option(fc.constantFrom("IN-MH")),
    ipPrefix: fc.option(fc.constantFrom("203.0.113.0/24", "2001:db8:1234::/48")),
    phoneCountryCode: fc.option(fc.constantFrom("+7", "+31")),
    ipHash: fc.option(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString("hex")),
    ),
    rulesetVersion: fc.nat(),
    geoSource: fc.constantFrom("mmdb", "phone", "cf"),
    geoDbVersion: fc.option(fc.constantFrom("2026-06-17")),
  },
  { requiredKeys: ["decisionId", "at", "meetingId", "decision", "code", "orderIds", "rulesetVersion"] },
);

/** What the log wrote before LineBuffer: each line JSON.stringify's, UTF-8, newline-terminated. */
function expected(values: readonly object[]): Buffer {
  return Buffer.from(values.map((v) => `${JSON.stringify(v)}\n`).join(""), "utf8");
}

function written(values: readonly object[], size?: number): Buffer {
  const lines = new LineBuffer(size);
  for (const v of values) lines.push(v);
  expect(lines.lines).toBe(values.length);
  return Buffer.from(lines.buf.subarray(0, lines.length));
}

describe("LineBuffer", () => {
  it("writes decision records byte for byte as JSON.stringify does", () => {
    fc.assert(
      fc.property(fc.array(decisionRecord, { minLength: 1, maxLength: 5 }), (records) => {
        expect(written(records, 16)).toEqual(expected(records));
      }),
      { numRuns: 300 },
    );
  });

  it("writes any object byte for byte as JSON.stringify does", () => {
    fc.assert(
      fc.property(fc.array(anyObject, { minLength: 1, maxLength: 3 }), (objects) => {
        expect(written(objects, 8)).toEqual(expected(objects));
      }),
      { numRuns: 5000 },
    );
  });

  it("writes an object with a toJSON, a getter or inherited keys as JSON.stringify does", () => {
    class Inherits {
      own = "x";
    }
    (Inherits.prototype as unknown as Record<string, unknown>).inherited = "y";
    const odd: object[] = [
      { toJSON: () => ({ swapped: true }) },
      {
        get lazy() {
          return "z";
        },
      },
      new Inherits(),
      Object.assign(Object.create({ up: 1 }), { down: 2 }),
      { at: new Date(0), nested: { a: [1, { b: null }] } },
    ];
    expect(written(odd)).toEqual(expected(odd));
  });

  it("refuses what JSON.stringify refuses, and keeps nothing of that line", () => {
    const lines = new LineBuffer(8);
    lines.push({ a: 1 });
    const cyclic: Record<string, unknown> = { b: "x" };
    cyclic.self = cyclic;
    expect(() => lines.push(cyclic)).toThrow(TypeError);
    expect(() => lines.push({ c: "y", n: 10n })).toThrow(TypeError);
    expect(() => lines.push({ toJSON: () => undefined })).toThrow(TypeError);
    lines.push({ d: 2 });
    expect(lines.lines).toBe(2);
    expect(lines.buf.toString("utf8", 0, lines.length)).toBe('{"a":1}\n{"d":2}\n');
  });
});
