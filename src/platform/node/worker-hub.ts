/**
 * In the primary of the embedded multi-worker mode: relays between the writer (slot 0) and the followers.
 * The writer sends each ruleset as the change from the one before (a delta: the orders that changed),
 * whole only at its start or when no delta can be made. The primary keeps a copy of the latest
 * (`LatestRuleset`, deltas applied to it), so a follower that starts (or replaces a dead one) installs
 * it whole before it answers a check; it tells the writer a ruleset is distributed only once every
 * follower registered when it came has installed it, has exited, or has been killed for not installing
 * it within `installTimeoutMs`: an order change is answered only then (I3 across workers).
 */
import type { Worker } from "node:cluster";
import type { Logger } from "../../kernel/logger.js";
import { isMessage, TAG, type ToPrimary, type ToWorker, WRITER_SLOT } from "./worker-messages.js";

/** Generous: installing a ruleset is a parse and a reference swap; only a stuck worker misses it. */
export const INSTALL_TIMEOUT_MS = 10_000;
/** How long the writer's question about log ends waits for the followers' answers. */
const ENDS_TIMEOUT_MS = 2000;

/** The primary's copy of the writer's latest ruleset, for the followers that start after it came. */
export interface LatestRuleset {
  /** Takes what the writer sent; false when a delta does not apply to the copy (then it holds none). */
  take(json: string, delta: boolean): boolean;
  /** The copy as a whole document, or undefined while it holds none. */
  document(): string | undefined;
}

interface Distribution {
  writer: Worker;
  writerId: number;
  waiting: Set<Worker>;
  timer: NodeJS.Timeout;
}

interface EndsQuestion {
  writer: Worker;
  writerId: number;
  waiting: Set<Worker>;
  ends: Map<number, string>;
  timer: NodeJS.Timeout;
}

export class WorkerHub {
  private writer: Worker | undefined;
  private writerSocket: string | undefined;
  /** Followers that said hello, with their slots: they get every ruleset from then on. */
  private readonly followers = new Map<Worker, number>();
  /** The number of the distribution `latest` holds. */
  private latestId: number | undefined;
  private nextId = 1;
  private readonly distributions = new Map<number, Distribution>();
  private readonly questions = new Map<number, EndsQuestion>();

  constructor(
    private readonly logger: Logger,
    private readonly latest: LatestRuleset,
    private readonly installTimeoutMs = INSTALL_TIMEOUT_MS,
  ) {}

  /** Called by the supervisor for each worker it forks. */
  attach(worker: Worker, slot: number): void {
    if (slot === WRITER_SLOT) this.writer = worker;
    worker.on("message", (message: unknown) => {
      if (isMessage<ToPrimary>(message)) this.receive(worker, slot, message);
    });
    worker.on("exit", () => this.detach(worker));
  }

  private receive(worker: Worker, slot: number, m: ToPrimary): void {
    switch (m.k) {
      case "hello":
        this.followers.set(worker, slot);
        if (this.writerSocket !== undefined)
          send(worker, { tag: TAG, k: "writer", socket: this.writerSocket });
        this.sendLatest(worker);
        return;
      case "writer":
        if (worker !== this.writer) return;
        this.writerSocket = m.socket;
        for (const follower of this.followers.keys())
          send(follower, { tag: TAG, k: "writer", socket: m.socket });
        return;
      case "ruleset":
        if (worker === this.writer) this.distribute(worker, m.id, m.json, m.delta);
        return;
      case "installed":
        for (const [id, d] of this.distributions) if (id <= m.id) this.settle(id, d, worker);
        return;
      case "ends?":
        if (worker === this.writer) this.ask(worker, m.id);
        return;
      case "end": {
        const q = this.questions.get(m.id);
        if (!q?.waiting.delete(worker)) return;
        q.ends.set(slot, m.end);
        if (q.waiting.size === 0) this.answer(m.id, q);
        return;
      }
    }
  }

  /** The latest ruleset, whole, to a follower that starts (none yet: it gets the first one sent). */
  private sendLatest(follower: Worker): void {
    const json = this.latestId === undefined ? undefined : this.latest.document();
    if (json !== undefined)
      send(follower, { tag: TAG, k: "ruleset", id: this.latestId as number, json, delta: false });
  }

  private distribute(writer: Worker, writerId: number, json: string, delta: boolean): void {
    const id = this.nextId++;
    this.latestId = id;
    if (!this.latest.take(json, delta) && delta) {
      // A bug somewhere: the followers will refuse it too (and be replaced); the whole ruleset mends all.
      this.logger.error(
        "a ruleset delta does not apply to the primary's copy; asking the writer for the whole",
      );
      send(writer, { tag: TAG, k: "whole?" });
    }
    const waiting = new Set(this.followers.keys());
    const timer = setTimeout(() => {
      for (const late of waiting) {
        // A follower that cannot install the ruleset must not answer checks on an older one: replaced.
        this.logger.error("worker did not install a new ruleset in time; replacing it", {
          slot: this.followers.get(late),
          timeoutMs: this.installTimeoutMs,
        });
        late.process.kill("SIGKILL");
      }
    }, this.installTimeoutMs);
    const d: Distribution = { writer, writerId, waiting, timer };
    this.distributions.set(id, d);
    for (const follower of waiting) send(follower, { tag: TAG, k: "ruleset", id, json, delta });
    if (waiting.size === 0) this.settle(id, d, undefined);
  }

  private settle(id: number, d: Distribution, installed: Worker | undefined): void {
    if (installed) d.waiting.delete(installed);
    if (d.waiting.size > 0) return;
    clearTimeout(d.timer);
    this.distributions.delete(id);
    send(d.writer, { tag: TAG, k: "distributed", id: d.writerId });
  }

  private ask(writer: Worker, writerId: number): void {
    const id = this.nextId++;
    const waiting = new Set(this.followers.keys());
    const q: EndsQuestion = {
      writer,
      writerId,
      waiting,
      ends: new Map(),
      timer: setTimeout(() => this.answer(id, q), ENDS_TIMEOUT_MS),
    };
    this.questions.set(id, q);
    for (const follower of waiting) send(follower, { tag: TAG, k: "end?", id });
    if (waiting.size === 0) this.answer(id, q);
  }

  private answer(id: number, q: EndsQuestion): void {
    if (!this.questions.delete(id)) return;
    clearTimeout(q.timer);
    send(q.writer, { tag: TAG, k: "ends", id: q.writerId, ends: [...q.ends] });
  }

  private detach(worker: Worker): void {
    this.followers.delete(worker);
    if (worker === this.writer) {
      this.writer = undefined;
      // Nobody waits for these any more; the next writer compiles and distributes at its start.
      for (const [id, d] of this.distributions) if (d.writer === worker) this.drop(id, d);
      for (const [id, q] of this.questions)
        if (q.writer === worker) this.questions.delete(id) && clearTimeout(q.timer);
      return;
    }
    // An exited follower answers no check any more: it no longer holds a distribution back.
    for (const [id, d] of this.distributions) this.settle(id, d, worker);
    for (const [id, q] of this.questions)
      if (q.waiting.delete(worker) && q.waiting.size === 0) this.answer(id, q);
  }

  private drop(id: number, d: Distribution): void {
    clearTimeout(d.timer);
    this.distributions.delete(id);
  }
}

function send(worker: Worker, message: ToWorker): void {
  // A worker that is exiting may have closed its channel: its exit settles what it was part of.
  if (worker.isConnected()) worker.send(message);
}
