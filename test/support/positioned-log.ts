/**
 * Decision-log positions for tests that hand records to an AggregateStore directly: a record gets the
 * next position the first time its decisionId is seen, and that same position when it comes again (the
 * log read again from an earlier cursor). `page` serves the records back in that order, with their
 * positions, as the decision log does for `FileAggregateStore.counted`.
 */
import type { DecisionRecord } from "../../src/engine/index.js";
import { decodeCursor, encodeCursor } from "../../src/store/file/segments.js";

export class PositionedLog {
  readonly #byId = new Map<string, string>();
  readonly #records: { record: DecisionRecord; position: string; off: number }[] = [];

  /** The position of each record, in order (a new one for an id not seen before). */
  positionsOf(records: readonly DecisionRecord[]): string[] {
    return records.map((record) => {
      let position = this.#byId.get(record.decisionId);
      if (position === undefined) {
        const off = (this.#records.length + 1) * 100;
        position = encodeCursor({ seg: 1, off });
        this.#byId.set(record.decisionId, position);
        this.#records.push({ record, position, off });
      }
      return position;
    });
  }

  async page(opts: {
    after?: string;
    limit: number;
    positions?: boolean;
  }): Promise<{ records: DecisionRecord[]; next: string | null; positions?: string[] }> {
    const from = opts.after === undefined ? 0 : (decodeCursor(opts.after)?.off ?? 0);
    const found = this.#records.filter((r) => r.off > from).slice(0, opts.limit);
    return {
      records: found.map((r) => r.record),
      next: found.at(-1)?.position ?? opts.after ?? null,
      ...(opts.positions ? { positions: found.map((r) => r.position) } : {}),
    };
  }
}
