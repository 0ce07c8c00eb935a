/**
 * The primary's relay of the embedded workers (platform/node/worker-hub.ts), with stand-in workers: the
 * writer hears "distributed" only once every follower registered when the ruleset came has installed
 * it, or has been killed for not doing so and has exited (I3 across workers).
 */

import type { Worker } from "node:cluster";
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { compile, recompile, transition } from "../../src/engine/index.js";
import { SILENT_LOGGER } from "../../src/kernel/logger.js";
import { WorkerHub } from "../../src/platform/node/worker-hub.js";
import { TAG } from "../../src/platform/node/worker-messages.js";
import { rulesetDeltaJson } from "../../src/rulesets/ruleset-json.js";
import { VerifiedLatestRuleset } from "../../src/runtime/node/latest-ruleset.js";
import { receivedRuleset, wholeRulesetText } from "../../src/runtime/node/ruleset-message.js";
import { iso, NOON } from "../support/fixtures.js";
import { approve, pending } from "../support/rulesets.js";

/** Three versions of one history: v1 whole; v2 and v3 each also as a delta on the one before. */
const a = approve(pending("o-a"));
const b = approve(pending("o-b", { target: { kind: "meeting", meetingIds: ["m-2"] } }));
const v1 = compile([a], { version: 1, compiledAt: iso(NOON) });
const v2 = recompile(v1, [b], { version: 2, compiledAt: iso(NOON) });
const v3 = recompile(v2, [transition(a, { type: "withdraw" }, "responder-1", iso(NOON))], {
  version: 3,
  compiledAt: iso(NOON),
});
const WHOLE_1 = wholeRulesetText(v1);
const DELTA_2 = rulesetDeltaJson(v2, v1) as string;
const DELTA_3 = rulesetDeltaJson(v3, v2) as string;

const hubOf = (timeoutMs: number) =>
  new WorkerHub(SILENT_LOGGER, new VerifiedLatestRuleset(SILENT_LOGGER), timeoutMs);

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
    const hub = hubOf(60_000);
    const [writer, a, b] = [standIn("writer", events), standIn("a", events), standIn("b", events)];
    hub.attach(writer, 0);
    hub.attach(a, 1);
    hub.attach(b, 2);
    a.say({ k: "hello" });
    b.say({ k: "hello" });
    writer.say({ k: "ruleset", id: 7, json: WHOLE_1, delta: false });
    const sent = to(events, "a").find((m) => m.k === "ruleset") as { id: number; json: string };
    expect(sent.json).toBe(WHOLE_1);
    a.say({ k: "installed", id: sent.id });
    expect(to(events, "writer")).toEqual([]);
    b.say({ k: "installed", id: sent.id });
    expect(to(events, "writer")).toEqual([{ tag: TAG, k: "distributed", id: 7 }]);
  });

  it("kills a follower that does not install it in time, and answers the writer only after its exit", async () => {
    const events: Event[] = [];
    const hub = hubOf(10);
    const [writer, a] = [standIn("writer", events), standIn("a", events)];
    hub.attach(writer, 0);
    hub.attach(a, 1);
    a.say({ k: "hello" });
    writer.say({ k: "ruleset", id: 1, json: WHOLE_1, delta: false });
    while (to(events, "writer").length === 0) await new Promise((r) => setTimeout(r, 5));
    const killed = events.findIndex((e) => e.who === "a" && e.killed === "SIGKILL");
    const answered = events.findIndex((e) => e.who === "writer" && e.message);
    expect(killed).toBeGreaterThanOrEqual(0);
    expect(answered).toBeGreaterThan(killed);
  });

  it("hands a follower that starts the last ruleset whole, deltas applied, without making the writer wait", () => {
    const events: Event[] = [];
    const hub = hubOf(60_000);
    const [writer, early, late] = [
      standIn("writer", events),
      standIn("early", events),
      standIn("late", events),
    ];
    hub.attach(writer, 0);
    hub.attach(early, 1);
    early.say({ k: "hello" });
    writer.say({ k: "writer", socket: "/tmp/w.sock" });
    writer.say({ k: "ruleset", id: 1, json: WHOLE_1, delta: false });
    writer.say({ k: "ruleset", id: 2, json: DELTA_2, delta: true });
    writer.say({ k: "ruleset", id: 3, json: DELTA_3, delta: true });
    // A follower that was there gets each delta as it came: a few orders, not the document.
    const deltas = to(events, "early").filter((m) => m.k === "ruleset" && m.delta === true);
    expect(deltas.map((m) => m.json)).toEqual([DELTA_2, DELTA_3]);
    for (const m of to(events, "early")) if (m.k === "ruleset") early.say({ k: "installed", id: m.id });
    expect(to(events, "writer").map((m) => m.id)).toEqual([1, 2, 3]);
    hub.attach(late, 2);
    late.say({ k: "hello" });
    const got = to(events, "late");
    expect(got.map((m) => [m.k, m.delta])).toEqual([
      ["writer", undefined],
      ["ruleset", false],
    ]);
    // The primary's copy, whole: the writer's v3, hash and all.
    const installed = receivedRuleset((got[1] as { json: string }).json, false, undefined);
    expect(installed.version).toBe(3);
    expect(installed.hash).toBe(v3.hash);
    expect(installed.orders).toEqual(v3.orders);
    expect(to(events, "writer")).toHaveLength(3);
  });

  it("asks the writer for the ruleset whole when a delta does not apply to its copy", () => {
    const events: Event[] = [];
    const hub = hubOf(60_000);
    const writer = standIn("writer", events);
    hub.attach(writer, 0);
    writer.say({ k: "ruleset", id: 1, json: WHOLE_1, delta: false });
    // v3's delta on v1: v2 never came.
    writer.say({ k: "ruleset", id: 2, json: DELTA_3, delta: true });
    expect(to(events, "writer")).toContainEqual({ tag: TAG, k: "whole?" });
    const late = standIn("late", events);
    hub.attach(late, 1);
    late.say({ k: "hello" });
    // Nothing to hand over until the whole ruleset comes.
    expect(to(events, "late").filter((m) => m.k === "ruleset")).toEqual([]);
  });

  it("collects each live follower's log end for the writer, by slot", () => {
    const events: Event[] = [];
    const hub = hubOf(60_000);
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
