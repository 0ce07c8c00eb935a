/**
 * A worker's end of the embedded multi-worker protocol (platform/node/worker-messages.ts), over the IPC
 * channel node:cluster gives every worker: `WriterLink` in slot 0, `FollowerLink` in the others.
 */
import { isMessage, TAG, type ToPrimary, type ToWorker } from "../../platform/node/worker-messages.js";

function post(message: ToPrimary): void {
  process.send?.(message);
}

function listen(handler: (m: ToWorker) => void): () => void {
  const onMessage = (message: unknown) => {
    if (isMessage<ToWorker>(message)) handler(message);
  };
  process.on("message", onMessage);
  return () => process.off("message", onMessage);
}

export class WriterLink {
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();
  private readonly asked = new Map<number, (ends: Map<number, string>) => void>();
  private readonly stop: () => void;
  private wholeWanted: () => void = () => undefined;

  constructor() {
    this.stop = listen((m) => {
      if (m.k === "whole?") this.wholeWanted();
      else if (m.k === "distributed") {
        this.waiting.get(m.id)?.();
        this.waiting.delete(m.id);
      } else if (m.k === "ends") {
        this.asked.get(m.id)?.(new Map(m.ends));
        this.asked.delete(m.id);
      }
    });
  }

  /** Where the followers hand over every route but the checks. */
  announce(socket: string): void {
    post({ tag: TAG, k: "writer", socket });
  }

  /**
   * Sends a ruleset, whole or as a delta on the one sent before; resolves once every follower has
   * installed it (or is gone): see worker-hub.ts.
   */
  distribute(json: string, delta: boolean): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      post({ tag: TAG, k: "ruleset", id, json, delta });
    });
  }

  /** What to do when the primary asks for the ruleset in force whole (its copy missed a delta). */
  onWholeWanted(send: () => void): void {
    this.wholeWanted = send;
  }

  /** Each live follower's acknowledged decision-log end, by slot (those that answered in time). */
  followerEnds(): Promise<Map<number, string>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.asked.set(id, resolve);
      post({ tag: TAG, k: "ends?", id });
    });
  }

  close(): void {
    this.stop();
    // A writer stopping answers nothing more: release whoever waits.
    for (const resolve of this.waiting.values()) resolve();
    for (const resolve of this.asked.values()) resolve(new Map());
    this.waiting.clear();
    this.asked.clear();
  }
}

export class FollowerLink {
  private socket: string | undefined;
  private readonly stop: () => void;
  private first: Promise<void>;

  /**
   * `install` gets each ruleset the writer distributes, whole or as a delta on the one before
   * (synchronously: its acknowledgement goes out once it returns true; false, none); `end` says where
   * this worker's decision log ends.
   */
  constructor(install: (json: string, delta: boolean) => boolean, end: () => string) {
    let loaded: () => void = () => undefined;
    this.first = new Promise((resolve) => {
      loaded = resolve;
    });
    this.stop = listen((m) => {
      if (m.k === "ruleset") {
        if (!install(m.json, m.delta)) return;
        post({ tag: TAG, k: "installed", id: m.id });
        loaded();
      } else if (m.k === "writer") {
        this.socket = m.socket;
      } else if (m.k === "end?") {
        post({ tag: TAG, k: "end", id: m.id, end: end() });
      }
    });
    post({ tag: TAG, k: "hello" });
  }

  /** Resolves once a first ruleset is installed. */
  loaded(): Promise<void> {
    return this.first;
  }

  /** The writer's socket, once it has said where. */
  writerSocket(): string | undefined {
    return this.socket;
  }

  close(): void {
    this.stop();
  }
}
