/**
 * The embedded decision log as the auditors' `GET /v1/decisions` pages it when workers have logs of their
 * own (workers.md): the writer's log, then each worker's, under one cursor that says where each stands.
 * Appends go to the writer's log. With no worker log in the data directory, it is the writer's log as
 * it always was, cursors included.
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { InvalidCursorError } from "../../kernel/errors.js";
import { SegmentReader } from "../../store/file/segment-reader.js";
import type { DecisionLog } from "../../store/interface.js";
import { boundOf, type WorkerEnds, workerSlots } from "./worker-aggregates.js";

/** Cursors over several logs start with this; a plain one is the writer's log's own. */
const PREFIX = "w.";

interface Cursor {
  /** The writer's log's cursor; absent: from its start. */
  m?: string;
  /** Each worker log's cursor, by slot; absent: from its start. */
  w: Record<string, string>;
}

export class WorkerDecisions implements DecisionLog {
  constructor(
    private readonly main: DecisionLog,
    private readonly dataDir: string,
    private readonly ends: WorkerEnds,
  ) {}

  append(records: readonly DecisionRecord[]): Promise<void> {
    return this.main.append(records);
  }

  async page(opts: {
    after?: string;
    limit: number;
  }): Promise<{ records: DecisionRecord[]; next: string | null }> {
    const { after, limit } = opts;
    const slots = await workerSlots(this.dataDir);
    const plain = after === undefined || !after.startsWith(PREFIX);
    if (slots.length === 0 && plain) return this.main.page(opts);
    const at: Cursor = plain ? { ...(after === undefined ? {} : { m: after }), w: {} } : decode(after);
    const page = await this.main.page({ ...(at.m === undefined ? {} : { after: at.m }), limit });
    const records = [...page.records];
    const next: Cursor = { ...((page.next ?? at.m) ? { m: page.next ?? at.m } : {}), w: { ...at.w } };
    if (records.length < limit) {
      const ends = await this.ends();
      for (const slot of slots) {
        if (records.length >= limit) break;
        const dir = join(this.dataDir, `worker-${slot}`);
        const bound = await boundOf(dir, slot, ends);
        if (bound === undefined) continue; // a live worker that has not said: the next page reads it
        const from = at.w[slot];
        const more = await new SegmentReader(dir, bound).page({
          ...(from === undefined ? {} : { after: from }),
          limit: limit - records.length,
        });
        records.push(...more.records);
        if (more.next !== null) next.w[slot] = more.next;
      }
    }
    return { records, next: PREFIX + Buffer.from(JSON.stringify(next)).toString("base64url") };
  }
}

function decode(cursor: string): Cursor {
  try {
    const value = JSON.parse(
      Buffer.from(cursor.slice(PREFIX.length), "base64url").toString("utf8"),
    ) as Cursor;
    const strings = (o: unknown) =>
      typeof o === "object" && o !== null && Object.values(o).every((v) => typeof v === "string");
    if (
      typeof value === "object" &&
      value !== null &&
      (value.m === undefined || typeof value.m === "string") &&
      strings(value.w) &&
      Object.keys(value.w).every((k) => /^\d{1,2}$/.test(k))
    )
      return value;
  } catch {
    // refused below
  }
  throw new InvalidCursorError("not a cursor of this decision log");
}
