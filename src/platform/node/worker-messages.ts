/**
 * The messages of the embedded multi-worker mode (CORDON_WORKERS > 1 without Redis), between the
 * workers and the primary that relays them (worker-hub.ts). Slot 0 is the writer of the data directory;
 * the others ("followers") answer checks and hand everything else to it. See runtime/node/workers.md.
 */

/** Tag of every message of this protocol, so node:cluster's own messages are never taken for one. */
export const TAG = "cordon-workers";

export type ToPrimary =
  /** A follower: send me the ruleset in force (now and from now on) and the writer's address. */
  | { tag: typeof TAG; k: "hello" }
  /** The writer: where it takes the routes the followers hand over (a Unix socket). */
  | { tag: typeof TAG; k: "writer"; socket: string }
  /**
   * The writer: a ruleset to install everywhere before the order change behind it is answered, as its
   * whole document, or (`delta`) as the change from the ruleset it sent before (engine `RulesetDelta`).
   */
  | { tag: typeof TAG; k: "ruleset"; id: number; json: string; delta: boolean }
  /** A follower: installed distribution `id` (or a newer one). */
  | { tag: typeof TAG; k: "installed"; id: number }
  /** The writer: where does each follower's decision log end (what it has acknowledged)? */
  | { tag: typeof TAG; k: "ends?"; id: number }
  /** A follower's answer. */
  | { tag: typeof TAG; k: "end"; id: number; end: string };

export type ToWorker =
  | { tag: typeof TAG; k: "ruleset"; id: number; json: string; delta: boolean }
  /** To the writer: send the ruleset in force whole (the primary's copy could not take a delta). */
  | { tag: typeof TAG; k: "whole?" }
  | { tag: typeof TAG; k: "writer"; socket: string }
  /** To the writer: ruleset `id` (its own numbering) is installed in every follower alive. */
  | { tag: typeof TAG; k: "distributed"; id: number }
  | { tag: typeof TAG; k: "end?"; id: number }
  /** To the writer: the ends of the followers that answered, by slot. */
  | { tag: typeof TAG; k: "ends"; id: number; ends: [number, string][] };

export function isMessage<T extends { tag: string }>(value: unknown): value is T {
  return typeof value === "object" && value !== null && (value as { tag?: unknown }).tag === TAG;
}

/** The writer's slot. */
export const WRITER_SLOT = 0;
