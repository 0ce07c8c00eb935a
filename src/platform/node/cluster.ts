/**
 * `CORDON_WORKERS=N`: N processes on one machine sharing the listening port (node:cluster hands out
 * connections). With Redis the workers share orders, rulesets and the decision stream, and each keeps its
 * local files (outbox, last ruleset) under `<data dir>/worker-<slot>`. On the embedded store slot 0 is the
 * data directory's one writer and the others answer checks on the rulesets it distributes through the
 * primary (worker-hub.ts), each with a decision log of its own in `<data dir>/worker-<slot>`.
 *
 * Slots are stable: a worker that dies is replaced by one with the same slot, so the replacement ships
 * what its predecessor left in the outbox (I5: nothing lost).
 */
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../../kernel/logger.js";
import type { WorkerHub } from "./worker-hub.js";

export const SLOT_ENV = "CORDON_WORKER_SLOT";
/** The exit code of a process stopped by its configuration (entry/node.ts): never restarted. */
export const CONFIG_EXIT_CODE = 2;

/** The slot of this worker process, or undefined in a single-process run or in the primary. */
export function workerSlot(): number | undefined {
  const value = process.env[SLOT_ENV];
  return cluster.isWorker && value !== undefined ? Number(value) : undefined;
}

export function isPrimaryOfMany(workers: number): boolean {
  return workers > 1 && cluster.isPrimary;
}

/**
 * Runs in the primary: forks the workers, replaces the ones that die, stops them all on a signal. With a
 * `hub` (the embedded store), it relays between the writer and the followers.
 */
export function supervise(workers: number, logger: Logger, hub?: WorkerHub): void {
  const bySlot = new Map<number, Worker>();
  let stopping = false;
  let exitCode = 0;
  const fork = (slot: number) => {
    const worker = cluster.fork({ [SLOT_ENV]: String(slot) });
    bySlot.set(slot, worker);
    hub?.attach(worker, slot);
    worker.on("exit", (code, signal) => {
      if (bySlot.get(slot) === worker) bySlot.delete(slot);
      if (stopping) {
        if (bySlot.size === 0) process.exit(exitCode);
        return;
      }
      if (code === CONFIG_EXIT_CODE) {
        // A setting it cannot start with (it printed which): a replacement would fail alike. Stop all.
        stopping = true;
        exitCode = CONFIG_EXIT_CODE;
        for (const other of bySlot.values()) other.process.kill("SIGTERM");
        if (bySlot.size === 0) process.exit(exitCode);
        return;
      }
      logger.error("worker exited; starting a replacement", { slot, code, signal });
      // A worker that cannot start at all would be respawned in a tight loop: pace it.
      setTimeout(() => fork(slot), 500);
    });
  };
  for (let slot = 0; slot < workers; slot++) fork(slot);
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping workers", { signal });
    for (const worker of bySlot.values()) worker.process.kill(signal);
    if (bySlot.size === 0) process.exit(0);
    // Workers flush their outboxes on SIGTERM; do not wait forever on a stuck one.
    setTimeout(() => process.exit(1), 15_000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
