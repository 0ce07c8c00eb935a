/**
 * What every runtime hands to the layers above it: the time, fresh ids, and readiness reports.
 * Types only: the engine and the services take these as arguments, so nothing below the runtime
 * reads a clock or a random source itself (I8).
 */

/** Epoch milliseconds. Tests fix it; the engine gets `now` as an argument. */
export type Clock = () => number;

/** A fresh unique id (a UUID on both runtimes). */
export type NewId = () => string;

/**
 * One component's state for /readyz. `ready: false` takes the instance out of rotation (503);
 * `degraded: true` keeps it serving (checks answer from the last ruleset and local geo) but says
 * something needs attention, such as Redis being unreachable.
 */
export interface Readiness {
  name: string;
  ready: boolean;
  degraded?: boolean;
  detail?: Record<string, unknown>;
}
