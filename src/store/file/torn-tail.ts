/**
 * Torn-tail repair, shared by the order journal and the decision segments. A last line without its
 * newline, or one that is not JSON, is a write that never returned, so it was never acknowledged: it is
 * cut off with a warning. Anything else that does not read is the caller's to refuse.
 */
import type { FileHandle } from "node:fs/promises";
import type { Logger } from "../../kernel/logger.js";
import { NEWLINE, readRange } from "./file-io.js";

export interface TornTail {
  /** Where the torn line starts: the size the file is cut back to. */
  offset: number;
  reason: "incomplete line" | "unparsable line";
}

/** Cuts the file back to `torn.offset` and makes that durable; `what` names the file in the warning. */
export async function cutTornTail(
  fh: FileHandle,
  path: string,
  torn: TornTail,
  what: string,
  logger: Logger,
): Promise<void> {
  const { size } = await fh.stat();
  logger.warn(`${what}: truncating a torn last line (a write that was never acknowledged)`, {
    file: path,
    offset: torn.offset,
    bytes: size - torn.offset,
    reason: torn.reason,
  });
  await fh.truncate(torn.offset);
  await fh.datasync();
}

/**
 * Looks at the last line only, reading back from the end: for logs whose lines are not verified one by
 * one at open (the decision segments). Returns the size after the repair.
 */
export async function repairTail(
  fh: FileHandle,
  path: string,
  what: string,
  logger: Logger,
): Promise<number> {
  const { size } = await fh.stat();
  if (size === 0) return 0;
  const [last] = await readRange(fh, size - 1, size);
  let torn: TornTail | undefined;
  if (last !== NEWLINE) {
    torn = { offset: await lineStart(fh, size), reason: "incomplete line" };
  } else {
    const start = await lineStart(fh, size - 1);
    const text = (await readRange(fh, start, size - 1)).toString("utf8");
    if (!isJson(text)) torn = { offset: start, reason: "unparsable line" };
  }
  if (!torn) return size;
  await cutTornTail(fh, path, torn, what, logger);
  return torn.offset;
}

/** The offset just after the last newline before `end`, or 0. */
async function lineStart(fh: FileHandle, end: number): Promise<number> {
  const step = 64 << 10;
  for (let hi = end; hi > 0; ) {
    const lo = Math.max(0, hi - step);
    const buf = await readRange(fh, lo, hi);
    const i = buf.lastIndexOf(NEWLINE);
    if (i !== -1) return lo + i + 1;
    hi = lo;
  }
  return 0;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
