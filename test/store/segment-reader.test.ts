/**
 * `SegmentReader`, the read-only reader of a decision log another process writes (embedded workers): it
 * reads what `SegmentLog.page` reads, with the same cursors, never past its bound; on a log nobody has
 * open it reads complete lines only, and stops at an unreadable one.
 */
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidCursorError } from "../../src/kernel/errors.js";
import { SegmentLog } from "../../src/store/file/segment-log.js";
import { SegmentReader } from "../../src/store/file/segment-reader.js";
import { decodeCursor, encodeCursor, listSegments } from "../../src/store/file/segments.js";
import type { DecisionLog } from "../../src/store/interface.js";
import { decisionRecord } from "../support/fixtures.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-segment-reader-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const fresh = () => join(dir, `log-${n++}`);

/** Every page of a log, from the start: the ids, the positions and each page's `next`. */
async function readAll(log: Pick<DecisionLog, "page">, limit: number) {
  const ids: string[] = [];
  const positions: string[] = [];
  const nexts: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await log.page({ ...(after === undefined ? {} : { after }), limit, positions: true });
    ids.push(...page.records.map((r) => r.decisionId));
    positions.push(...(page.positions ?? []));
    if (page.records.length === 0) return { ids, positions, nexts };
    nexts.push(page.next as string);
    after = page.next as string;
  }
}

describe("SegmentReader", () => {
  it("reads what the writer's own log reads, page for page, up to the end it acknowledged", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 0, maxLength: 8 }),
        fc.integer({ min: 1, max: 9 }),
        async (batches, limit) => {
          const root = fresh();
          // Small segments: the property covers rotation as well.
          const log = await SegmentLog.open(root, { segmentBytes: 1500 });
          try {
            for (const size of batches)
              await log.append(Array.from({ length: size }, () => decisionRecord()));
            const reader = new SegmentReader(root, { until: log.end() });
            expect(await readAll(reader, limit)).toEqual(await readAll(log, limit));
            // A log nobody writes: complete lines are the same records.
            expect((await readAll(new SegmentReader(root, "complete"), limit)).ids).toEqual(
              (await readAll(log, limit)).ids,
            );
          } finally {
            await log.close();
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("never reads past its bound, whatever is appended after it", async () => {
    const root = fresh();
    const log = await SegmentLog.open(root, { segmentBytes: 1000 });
    const first = Array.from({ length: 5 }, () => decisionRecord());
    await log.append(first);
    const reader = new SegmentReader(root, { until: log.end() });
    await log.append(Array.from({ length: 9 }, () => decisionRecord()));
    const all = await readAll(reader, 3);
    expect(all.ids).toEqual(first.map((r) => r.decisionId));
    // From the bound on, nothing more (and the same cursor back: a reporter polls with it).
    const last = all.positions[all.positions.length - 1] as string;
    expect(await reader.page({ after: last, limit: 10 })).toEqual({ records: [], next: last });
    await log.close();
  });

  it("on a log nobody has open, reads complete lines only and stops at an unreadable one", async () => {
    const root = fresh();
    const log = await SegmentLog.open(root);
    const records = Array.from({ length: 4 }, () => decisionRecord());
    await log.append(records);
    await log.close();
    const segment = join(root, "decisions", "000001.jsonl");
    // A write cut short by a kill: no newline yet.
    await appendFile(segment, '{"decisionId":"torn');
    expect((await readAll(new SegmentReader(root, "complete"), 10)).ids).toEqual(
      records.map((r) => r.decisionId),
    );
    // Damage that happens to end in a newline: the log ends before it, as the next open cuts it.
    await appendFile(segment, '"\nnot json\n');
    expect((await readAll(new SegmentReader(root, "complete"), 10)).ids).toEqual(
      records.map((r) => r.decisionId),
    );
  });

  it("refuses a cursor that is not a record boundary of the log, or lies past its bound", async () => {
    const root = fresh();
    const log = await SegmentLog.open(root);
    await log.append([decisionRecord(), decisionRecord()]);
    const end = log.end();
    await log.append([decisionRecord()]);
    const reader = new SegmentReader(root, { until: end });
    const pos = decodeCursor(end) as { seg: number; off: number };
    expect(await listSegments(join(root, "decisions"))).toEqual([1]);
    await expect(
      reader.page({ after: encodeCursor({ seg: 1, off: pos.off - 3 }), limit: 1 }),
    ).rejects.toThrow(InvalidCursorError);
    await expect(reader.page({ after: log.end(), limit: 1 })).rejects.toThrow(InvalidCursorError);
    await expect(reader.page({ after: encodeCursor({ seg: 7, off: 0 }), limit: 1 })).rejects.toThrow(
      InvalidCursorError,
    );
    await log.close();
  });
});
