/**
 * An outbox line as the shipper reads it (shipper/lines.ts): the partition hashed off the id's bytes is
 * keys.ts `partitionOf` of the id, whatever the id and the line's shape; decisionId, `at` and the edge
 * flag read off the bytes are what parsing the line gives.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { edgeDecisionId } from "../../src/store/ingest-index.js";
import { partitionOf } from "../../src/store/redis/keys.js";
import { readLine } from "../../src/store/redis/shipper/lines.js";

const AT = "2026-12-07T13:30:00.000Z";

/** The line inside other bytes, as a page of the outbox holds it. */
function read(line: string, partitions = 16) {
  const buf = Buffer.from(`{"x":1}\n${line}\n{"y":2}`);
  const start = buf.indexOf("\n") + 1;
  return readLine(buf, start, start + Buffer.byteLength(line), partitions);
}

describe("an outbox line", () => {
  it("hashes the check's lines to partitionOf of their id without parsing them", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 1, max: 64 }), (id, partitions) => {
        const line = read(JSON.stringify({ decisionId: id, at: AT, phase: "join" }), partitions);
        expect(line.idEnd).toBeGreaterThan(0);
        expect(line.partition).toBe(partitionOf(id, partitions));
        expect(line.decisionId).toBe(id);
        expect(line.at).toBe(AT);
        expect(line.valid).toBe(true);
      }),
    );
  });

  it("parses a line of another shape or an id the bytes cannot give, to the same partition", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: "grapheme" }), fc.boolean(), (id, reordered) => {
        fc.pre(!id.includes("\n"));
        const record = reordered ? { at: AT, decisionId: id } : { decisionId: id, at: AT };
        const line = read(JSON.stringify(record));
        expect(line.partition).toBe(partitionOf(id, 16));
        expect(line.decisionId).toBe(id);
        expect(line.at).toBe(AT);
      }),
    );
    // An escape or a non-ASCII byte in the id: parsed, not hashed off the bytes.
    for (const id of ['a"b', "a\\b", "é-1", "雪"]) {
      const line = read(JSON.stringify({ decisionId: id, at: AT }));
      expect(line.idEnd).toBe(0);
      expect([line.decisionId, line.partition]).toEqual([id, partitionOf(id, 16)]);
    }
  });

  it("tells the edge's ids (version 8) from this service's", () => {
    const own = crypto.randomUUID();
    const edge = edgeDecisionId(crypto.randomUUID());
    expect(read(JSON.stringify({ decisionId: own, at: AT })).edge).toBe(false);
    expect(read(JSON.stringify({ decisionId: edge, at: AT })).edge).toBe(true);
    expect(read(JSON.stringify({ at: AT, decisionId: edge })).edge).toBe(true);
    // An "8" where a UUID has its version, but no UUID.
    expect(read(JSON.stringify({ decisionId: `${edge.slice(0, 35)}x`, at: AT })).edge).toBe(false);
  });

  it("is not valid without a decisionId, and goes to the first partition", () => {
    for (const text of [
      '{"decisionId":""}',
      '{"decisionId":"',
      "not json",
      '{"at":"x"}',
      '{"decisionId":7}',
    ]) {
      const line = read(text);
      expect([line.valid, line.partition, line.decisionId]).toEqual([false, 0, ""]);
    }
  });
});
