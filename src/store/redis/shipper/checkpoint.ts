/**
 * The shipper's progress, `<dataDir>/stream-shipper.json`, replaced atomically after each acknowledged
 * batch:
 *   cursor       outbox cursor of the next record to ship
 *   lanes        per decision partition (keys.ts), in partition order:
 *     fence        a stream id below every entry this shipper may have added to the partition without
 *                  knowing (the id of its last acknowledged batch, or the stream's last id read before
 *                  its first send)
 *     lastAckedId  the id of the last acknowledged entry (data-loss.ts compares the stream with it)
 *     epoch        the token found in the partition's epoch key (data-loss.ts)
 *
 * A checkpoint of the single stream of earlier versions (version 1) is taken over: its cursor, and its
 * fence as `legacyFence`, so that records a previous run may have sent there without knowing are not
 * sent again to the partitions.
 */
import { join } from "node:path";
import type { Logger } from "../../../kernel/logger.js";
import { readFileIfExists, writeFileAtomic } from "../../../platform/node/atomic-file.js";
import { parseStreamId } from "../stream-ids.js";

export const CHECKPOINT_FILE = "stream-shipper.json";

export interface LaneCheckpoint {
  fence: string | null;
  lastAckedId: string | null;
  epoch: string | null;
}

export interface Checkpoint {
  version: 2;
  /** What the lanes are: the first partition's stream and the partition count (`<stream>/<N>`). */
  streams: string;
  cursor: string | null;
  lanes: LaneCheckpoint[];
  /** The legacy stream's fence from a version-1 checkpoint, until the first batch has been shipped. */
  legacyFence?: string | null;
}

export function checkpointPath(dataDir: string): string {
  return join(dataDir, CHECKPOINT_FILE);
}

export async function saveCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(checkpoint)}\n`);
}

function streamId(id: unknown): string | null {
  if (id === null || id === undefined) return null;
  if (typeof id !== "string" || parseStreamId(id) === undefined) throw new Error(`bad stream id ${id}`);
  return id;
}

/**
 * The checkpoint for these lanes (`streams`), a version-1 checkpoint of `legacyStream` taken over, or
 * undefined when there is none, it belongs to other streams, or it is unreadable.
 */
export async function loadCheckpoint(
  path: string,
  streams: { streams: string; lanes: number; legacyStream: string },
  logger: Logger,
): Promise<Checkpoint | undefined> {
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const cursor = typeof parsed.cursor === "string" ? parsed.cursor : null;
    if (parsed.version === 1) {
      if (parsed.stream !== streams.legacyStream) return elsewhere(parsed.stream);
      return {
        version: 2,
        streams: streams.streams,
        cursor,
        lanes: Array.from({ length: streams.lanes }, () => ({ fence: null, lastAckedId: null, epoch: null })),
        legacyFence: streamId(parsed.fence),
      };
    }
    if (parsed.version !== 2) throw new Error(`unknown version ${String(parsed.version)}`);
    if (parsed.streams !== streams.streams) return elsewhere(parsed.streams);
    const lanes = parsed.lanes;
    if (!Array.isArray(lanes) || lanes.length !== streams.lanes) throw new Error("lanes do not match");
    return {
      version: 2,
      streams: streams.streams,
      cursor,
      lanes: lanes.map((lane: Record<string, unknown>) => ({
        fence: streamId(lane.fence),
        lastAckedId: streamId(lane.lastAckedId),
        epoch: typeof lane.epoch === "string" ? lane.epoch : null,
      })),
      ...(parsed.legacyFence === undefined ? {} : { legacyFence: streamId(parsed.legacyFence) }),
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

  function elsewhere(was: unknown): undefined {
    logger.warn("decision stream: the checkpoint is for other streams; starting these afresh", {
      checkpoint: path,
      was,
      now: streams.streams,
    });
    return undefined;
  }
}
