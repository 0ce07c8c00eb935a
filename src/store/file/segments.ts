/**
 * The decision log's layout on disk and its cursors: `<dir>/decisions/NNNNNN.jsonl`, numbered from 1 and
 * never renumbered, and a cursor that names a segment and a byte offset in it.
 */
import { Buffer } from "node:buffer";
import { readdir } from "node:fs/promises";

export const DECISIONS_DIR = "decisions";
const SEGMENT_NAME = /^(\d{6,})\.jsonl$/;

export interface Position {
  seg: number;
  off: number;
}

export function segmentFile(seg: number): string {
  return `${String(seg).padStart(6, "0")}.jsonl`;
}

/** The segment numbers found in `dir`, ascending; other files are ignored. */
export async function listSegments(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function encodeCursor(pos: Position): string {
  return Buffer.from(`${pos.seg}:${pos.off}`, "latin1").toString("base64url");
}

export function decodeCursor(cursor: string): Position | undefined {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined;
  const match = /^([1-9]\d{0,8}):(0|[1-9]\d{0,14})$/.exec(
    Buffer.from(cursor, "base64url").toString("latin1"),
  );
  if (!match) return undefined;
  const pos = { seg: Number(match[1]), off: Number(match[2]) };
  // One spelling per position: base64url decoding is lenient, and a cursor is compared as a string.
  return encodeCursor(pos) === cursor ? pos : undefined;
}
