/**
 * The shipper's progress, `<dataDir>/stream-shipper.json`, replaced atomically after each acknowledged
 * batch:
 *   cursor       outbox cursor of the next record to ship
 *   fence        a stream id below every entry this shipper may have added without knowing (the id of
 *                the last acknowledged XADD, or the stream's last id read before the first XADD)
 *   lastAckedId  the id of the last acknowledged XADD (data-loss.ts compares the stream with it)
 *   epoch        the token found in the stream's epoch key (data-loss.ts)
 */
import { join } from "node:path";
import type { Logger } from "../../../kernel/logger.js";
import { readFileIfExists, writeFileAtomic } from "../../../platform/node/atomic-file.js";
import { parseStreamId } from "../stream-ids.js";

export const CHECKPOINT_FILE = "stream-shipper.json";

export interface Checkpoint {
  version: 1;
  stream: string;
  cursor: string | null;
  fence: string | null;
  lastAckedId: string | null;
  epoch: string | null;
}

export function checkpointPath(dataDir: string): string {
  return join(dataDir, CHECKPOINT_FILE);
}

export async function saveCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(checkpoint)}\n`);
}

/** The checkpoint for `stream`, or undefined when there is none, it is another stream's, or unreadable. */
export async function loadCheckpoint(
  path: string,
  stream: string,
  logger: Logger,
): Promise<Checkpoint | undefined> {
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<Checkpoint>;
    if (parsed.version !== 1) throw new Error(`unknown version ${parsed.version}`);
    if (parsed.stream !== stream) {
      logger.warn("decision stream: the checkpoint is for another stream; starting this one afresh", {
        checkpoint: path,
        was: parsed.stream,
        now: stream,
      });
      return undefined;
    }
    for (const id of [parsed.fence, parsed.lastAckedId]) {
      if (id !== null && (typeof id !== "string" || parseStreamId(id) === undefined))
        throw new Error(`bad stream id ${id}`);
    }
    return {
      version: 1,
      stream,
      cursor: typeof parsed.cursor === "string" ? parsed.cursor : null,
      fence: parsed.fence ?? null,
      lastAckedId: parsed.lastAckedId ?? null,
      epoch: typeof parsed.epoch === "string" ? parsed.epoch : null,
    };
  } catch (err) {
    // Written by rename, so never torn; unreadable means edited by hand. Treated as absent, which
    // re-ships the outbox with deduplication rather than stopping the service.
    logger.warn("decision stream: unreadable checkpoint; re-shipping the outbox", {
      checkpoint: path,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}
