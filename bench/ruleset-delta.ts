/**
 * Issue 14, goal 3 with `CORDON_WORKERS` > 1 on the embedded store: what one order change costs the
 * writer, the primary and each follower to pass on. Before, the writer sent every version whole
 * (`rulesetJson`: the sorted list of every order, then its JSON) and each follower parsed and verified
 * it (`parseRulesetDocument`); now it sends a delta (`rulesetDeltaJson`) that each applies
 * (`applyRulesetDelta`). In one process, synthetic orders as `ruleset-scale-compile.ts` makes them; per
 * round a new version with one order withdrawn, both ways, the same version for both. Each side's time
 * is on a thread that answers checks (the writer's and the followers' event loops).
 *
 * `node --expose-gc --max-old-space-size=12000 --import tsx bench/ruleset-delta.ts [--sizes=100000,1000000] [--rounds=5]`
 */
import { compile, type Order, type Ruleset, recompile, transition } from "../src/engine/index.js";
import { nodeSha256 } from "../src/platform/node/sha256-stream.js";
import {
  applyRulesetDelta,
  parseRulesetDocument,
  rulesetDeltaJson,
  rulesetJson,
} from "../src/rulesets/ruleset-json.js";
import { receivedRuleset, wholeRulesetText } from "../src/runtime/node/ruleset-message.js";
import { iso, NOON } from "../test/support/fixtures.js";
import { arg, exposedGc, median } from "./lib.js";
import { syntheticOrders } from "./synthetic-orders.js";

const SIZES = arg("sizes", "100000,1000000").split(",").map(Number);
const ROUNDS = Number(arg("rounds", "5"));
const NODE = { sha256: nodeSha256 };
const gc = exposedGc();

function timed<T>(run: () => T): [T, number] {
  const t = performance.now();
  const value = run();
  return [value, performance.now() - t];
}

for (const size of SIZES) {
  const orders = syntheticOrders(size);
  let writer: Ruleset = compile(orders, { version: 1, compiledAt: iso(NOON) }, NODE);
  // The follower's copy: read from the whole document once, as a follower that starts does.
  let follower = parseRulesetDocument(rulesetJson(writer));
  const rows: Record<string, number>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const target = orders[(round * 7919) % size] as Order;
    const changed = transition(target, { type: "withdraw" }, "responder-1", iso(NOON));
    const previous = writer;
    writer = recompile(writer, [changed], { version: round + 1, compiledAt: iso(NOON) }, NODE);
    gc();
    const [delta, deltaMs] = timed(() => rulesetDeltaJson(writer, previous) as string);
    const [next, applyMs] = timed(() => applyRulesetDelta(follower, delta, NODE));
    if (next.hash !== writer.hash) throw new Error("the delta gave another hash");
    gc();
    const [whole, wholeMs] = timed(() => rulesetJson(writer));
    gc();
    const [parsed, parseMs] = timed(() => parseRulesetDocument(whole));
    if (parsed.hash !== writer.hash) throw new Error("the whole document gave another hash");
    // What a follower that starts reads now: the ruleset whole in columns, digests recomputed.
    gc();
    const [columns, columnsMs] = timed(() => wholeRulesetText(writer));
    gc();
    const [read, readMs] = timed(() => receivedRuleset(columns, false, undefined));
    if (read.hash !== writer.hash) throw new Error("the ruleset in columns gave another hash");
    follower = next;
    rows.push({
      wholeMs,
      deltaMs,
      parseMs,
      applyMs,
      columnsMs,
      readMs,
      wholeBytes: whole.length,
      columnsBytes: columns.length,
      deltaBytes: delta.length,
    });
    console.log(
      JSON.stringify({
        size,
        round,
        writer: { wholeMs: +wholeMs.toFixed(1), deltaMs: +deltaMs.toFixed(3) },
        follower: { parseMs: +parseMs.toFixed(1), applyMs: +applyMs.toFixed(3) },
        bytes: { whole: whole.length, delta: delta.length },
      }),
    );
  }
  const m = (key: string) => median(rows.map((r) => r[key] as number));
  console.log(
    JSON.stringify({
      size,
      median: {
        writerWholeMs: +m("wholeMs").toFixed(1),
        writerDeltaMs: +m("deltaMs").toFixed(3),
        followerParseMs: +m("parseMs").toFixed(1),
        followerApplyMs: +m("applyMs").toFixed(3),
        wholeBytes: m("wholeBytes"),
        deltaBytes: m("deltaBytes"),
        startingFollower: {
          jsonWriteMs: +m("wholeMs").toFixed(1),
          jsonReadMs: +m("parseMs").toFixed(1),
          columnsWriteMs: +m("columnsMs").toFixed(1),
          columnsReadMs: +m("readMs").toFixed(1),
          columnsBytes: m("columnsBytes"),
        },
      },
    }),
  );
}
