/**
 * The primary's relay of the embedded workers (platform/node/worker-hub.ts), with stand-in workers: the
 * writer hears "distributed" only once every follower registered when the ruleset came has installed
 * it, or has been killed for not doing so and has exited (I3 across workers).
 */

import type { Worker } from "node:cluster";
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { WorkerHub } from "../../src/platform/node/worker-hub.js";
import { TAG } from "../../src/platform/node/worker-messages.js";

/** What happened, in order, across all stand-ins. */
type Event = { who: string; message?: unknown; killed?: string };

function standIn(who: string, events: Event[]): Worker & { say(m: Record<string, unknown>): void } {
  const w = new EventEmitter() as unknown as Worker & { say(m: Record<string, unknown>): void };
  let connected = true;
  Object.assign(w, {
    send(message: unknown) {
      events.push({ who, message });
      return true;
    },
    isConnected: () => connected,
    process: {
      kill(signal: string) {
        events.push({ who, killed: signal });
        connected = false;
        setImmediate(() => w.emit("exit", null, signal));
      },
    },
    say(m: Record<string, unknown>) {
      w.emit("message", { tag: TAG, ...m });
    },
  });
  return w;
}

const to = (events: Event[], who: string) =>
  events.filter((e) => e.who === who && e.message).map((e) => e.message as Record<string, unknown>);

describe("WorkerHub", () => {
  it("tells the writer a ruleset is distributed only once every follower has installed it", () => {
    const events: Event[] = [];
    const hub = new WorkerHub(SILENT_LOGGER, 60_000);
    const [writer, a, b] = [standIn("writer", events), standIn("a", events), standIn("b", events)];
    hub.attach(writer, 0);
    hub.attach(a, 1);
    hub.attach(b, 2);
    a.say({ k: "hello" });
    b.say({ k: "hello" });
    writer.say({ k: "ruleset", id: 7, json: '{"v":1}' });
    const sent = to(events, "a").find((m) => m.k === "ruleset") as { id: number; json: string };
    expect(sent.json).toBe('{"v":1}');
    a.say({ k: "installed", id: sent.id });
    expect(to(events, "writer")).toEqual([]);
    b.say({ k: "installed", id: sent.id });
    expect(to(events, "writer")).toEqual([{ tag: TAG, k: "distributed", id: 7 }]);
  });

  it("kills a follower that does not install it in time, and answers the writer only after its exit", async () => {
    const events: Event[] = [];
    const hub = new WorkerHub(SILENT_LOGGER, 10);
    const [writer, a] = [standIn("writer", events), standIn("a", events)];
    hub.attach(writer, 0);
    hub.attach(a, 1);
    a.say({ k: "hello" });
    writer.say({ k: "ruleset", id: 1, json: "{}" });
    while (to(events, "writer").length === 0) await new Promise((r) => setTimeout(r, 5));
    const killed = events.findIndex((e) => e.who === "a" && e.killed === "SIGKILL");
    const answered = events.findIndex((e) => e.who === "writer" && e.message);
    expect(killed).toBeGreaterThanOrEqual(0);
    expect(answered).toBeGreaterThan(killed);
  });

  it("hands a follower that starts the last ruleset, without making the writer wait for it", () => {
    const events: Event[] = [];
    const hub = new WorkerHub(SILENT_LOGGER, 60_000);
    const [writer, late] = [standIn("writer", events), standIn("late", events)];
    hub.attach(writer, 0);
    writer.say({ k: "writer", socket: "/tmp/w.sock" });
    writer.say({ k: "ruleset", id: 3, json: '{"v":3}' });
    expect(to(events, "writer")).toEqual([{ tag: TAG, k: "distributed", id: 3 }]);
    hub.attach(late, 1);
    late.say({ k: "hello" });
    expect(to(events, "late").map((m) => [m.k, m.socket ?? m.json])).toEqual([
      ["writer", "/tmp/w.sock"],
      ["ruleset", '{"v":3}'],
    ]);
  });

  it("collects each live follower's log end for the writer, by slot", () => {
    const events: Event[] = [];
    const hub = new WorkerHub(SILENT_LOGGER, 60_000);
    const [writer, a, b] = [standIn("writer", events), standIn("a", events), standIn("b", events)];
    hub.attach(writer, 0);
    hub.attach(a, 1);
    hub.attach(b, 2);
    a.say({ k: "hello" });
    b.say({ k: "hello" });
    writer.say({ k: "ends?", id: 9 });
    const asked = to(events, "a").find((m) => m.k === "end?") as { id: number };
    a.say({ k: "end", id: asked.id, end: "MToxMA" });
    // A follower that exits before answering holds nobody up.
    b.emit("exit", null, "SIGKILL");
    expect(to(events, "writer")).toEqual([{ tag: TAG, k: "ends", id: 9, ends: [[1, "MToxMA"]] }]);
  });
});
