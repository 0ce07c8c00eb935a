/**
 * One size of `bench/ruleset-scale.ts`'s compile measurements, in a process of its own (run with
 * `node --expose-gc`): synthetic approved orders, then a full compile timed and the heap it keeps, then
 * one incremental recompile (one order changed), then `decide` on this ruleset against a 10-order one,
 * then the lines of its ruleset file (`rulesetFileLines`: what the snapshot, the mirror's checkpoint and
 * the Redis document write) made once. Prints one JSON line.
 */
import {
  type CheckFacts,
  type CompileOptions,
  compile,
  decide,
  type Order,
  recompile,
  transition,
} from "../src/engine/index.js";
import { rulesetFileLines } from "../src/platform/node/ruleset-file.js";
import { nodeSha256 } from "../src/platform/node/sha256-stream.js";
import { iso, NOON } from "../test/support/fixtures.js";
import { consume, exposedGc, median } from "./lib.js";
import { syntheticOrders } from "./synthetic-orders.js";

const size = Number(process.argv[2] ?? 10_000);
const gc = exposedGc();

/** What a Node server hands the engine: the native SHA-256 (same digest, see `Sha256Stream`). */
const NODE_SHA256: CompileOptions = { sha256: nodeSha256 };

const facts = (meetingId: string): CheckFacts => ({
  meetingId,
  location: { country: "IN", subdivisions: ["IN-MH"] },
  role: "participant",
});

function decideNs(ruleset: ReturnType<typeof compile>, meetings: string[]): number {
  const inputs = meetings.map(facts);
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const n = 200_000;
    const t = performance.now();
    for (let i = 0; i < n; i++) consume(decide(ruleset, inputs[i & 1023] as CheckFacts, NOON));
    rounds.push(((performance.now() - t) * 1e6) / n);
  }
  return median(rounds);
}

const orders = syntheticOrders(size);
gc();
gc();
const before = process.memoryUsage().heapUsed;
const t0 = performance.now();
const ruleset = compile(orders, { version: 1, compiledAt: iso(NOON) }, NODE_SHA256);
const compileMs = performance.now() - t0;
gc();
gc();
const heapPerOrder = (process.memoryUsage().heapUsed - before) / size;
const t1 = performance.now();
const noble = compile(orders, { version: 1, compiledAt: iso(NOON) });
const compileNobleMs = performance.now() - t1;
if (noble.hash !== ruleset.hash) throw new Error("the two SHA-256 give different hashes");
const changed = transition(orders[size >> 1] as Order, { type: "withdraw" }, "responder-1", iso(NOON));
const t2 = performance.now();
const next = recompile(ruleset, [changed], { version: 2, compiledAt: iso(NOON) }, NODE_SHA256);
const recompileMs = performance.now() - t2;
consume(next);

// decide: the same 1024 hits (an enforcing order's meeting, located inside) against 10 orders and this size.
const small = compile(orders.slice(0, 10), { version: 1, compiledAt: iso(NOON) });
const hot = (list: Order[]) =>
  Array.from({ length: 1024 }, (_, i) => {
    const o = list[(i * 7919) % list.length] as Order;
    return o.target.kind === "meeting" ? (o.target.meetingIds[0] as string) : "m-0";
  });
// The same working set for both (10 hot meetings), so the ratio is the cost of the size, not of a cache.
const smallMeetings = hot(orders.slice(0, 10));
const bigMeetings = hot(orders.slice(size >> 1, (size >> 1) + 10));
const ratios: number[] = [];
let decideSmall = 0;
let decideBig = 0;
for (let r = 0; r < 5; r++) {
  decideSmall = decideNs(small, smallMeetings);
  decideBig = decideNs(ruleset, bigMeetings);
  ratios.push(decideBig / decideSmall);
}
// The ruleset file's lines (`rulesetFileLines`), made and measured, not written anywhere.
const t3 = performance.now();
let fileBytes = 0;
for (const line of rulesetFileLines("cordon-ruleset-snapshot/1", ruleset, {})) fileBytes += line.length + 1;
const fileLinesMs = performance.now() - t3;
console.log(
  JSON.stringify({
    size,
    compileMs,
    compileNobleMs,
    heapPerOrder,
    recompileMs,
    decideSmallNs: decideSmall,
    decideBigNs: decideBig,
    decideRatio: median(ratios),
    fileLinesMs,
    fileBytes,
  }),
);
