/**
 * Redis stream ids (`ms-seq`) and the flat `[name, value, ...]` replies of stream commands, as the
 * decision stream's writer, reader and trimmer read them.
 */

/** One entry of an XRANGE reply. */
export type StreamEntry = [id: string, fields: string[]];

/** `ms-seq` as two bigints, or undefined when it is not a stream id. */
export function parseStreamId(id: string): [bigint, bigint] | undefined {
  const match = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/.exec(id);
  if (!match) return undefined;
  const ms = BigInt(match[1] as string);
  const seq = BigInt(match[2] as string);
  const max = 2n ** 64n - 1n;
  return ms > max || seq > max ? undefined : [ms, seq];
}

export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parseStreamId(a) ?? [0n, 0n];
  const [bm, bs] = parseStreamId(b) ?? [0n, 0n];
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** The smallest id greater than `id`. */
export function nextStreamId(id: string): string {
  const [ms, seq] = parseStreamId(id) ?? [0n, 0n];
  return seq === 2n ** 64n - 1n ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

/** A value from a flat `[name, value, name, value, ...]` Redis reply. */
export function field(reply: unknown, name: string): string | undefined {
  if (!Array.isArray(reply)) return undefined;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    if (reply[i] === name) {
      const value = reply[i + 1];
      return value === null || value === undefined ? undefined : String(value);
    }
  }
  return undefined;
}
