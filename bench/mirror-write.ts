/**
 * Issue 14, goal 3 in Redis mode: what mirroring one order change to local disk costs the event loop of
 * every instance. Before, `DiskMirror.write` wrote the whole document (`rulesetJson`, then an atomic
 * write) for every version; now it appends the delta from the version before to the journal, and writes
 * the whole ruleset (a checkpoint, in slices) only now and then. Per round a new version with one order
 * withdrawn, mirrored both ways: the synchronous part of the write (`rulesetJson`; `write` up to its
 * first await), the longest the event loop was held meanwhile as a ticker on `setImmediate` sees it
 * (what a check waiting in the queue would wait: garbage collection included), and the wall time until
 * the write is durable. Then the longest hold, the wall time and the slices of one checkpoint.
 *
 * `node --expose-gc --max-old-space-size=12000 --import tsx bench/mirror-write.ts [--sizes=100000,1000000] [--rounds=3]`
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, type Order, type Ruleset, recompile, transition } from "../src/engine/index.js";
import { SILENT_LOGGER } from "../src/kernel/logger.js";
import { writeFileAtomic } from "../src/platform/node/atomic-file.js";
import { nodeSha256 } from "../src/platform/node/sha256-stream.js";
import { DiskMirror } from "../src/rulesets/disk-mirror.js";
import { rulesetJson } from "../src/rulesets/ruleset-json.js";
import { iso, NOON } from "../test/support/fixtures.js";
import { arg, exposedGc, held, median } from "./lib.js";
import { syntheticOrders } from "./synthetic-orders.js";

const SIZES = arg("sizes", "100000,1000000").split(",").map(Number);
const ROUNDS = Number(arg("rounds", "3"));
const NODE = { sha256: nodeSha256 };
const gc = exposedGc();

const dir = await mkdtemp(join(tmpdir(), "cordon-bench-mirror-"));
try {
  for (const size of SIZES) {
    const orders = syntheticOrders(size);
    let ruleset: Ruleset = compile(orders, { version: 1, compiledAt: iso(NOON) }, NODE);
    gc();
    let slices = 0;
    const mirror = new DiskMirror(join(dir, `${size}.mirror`), SILENT_LOGGER, {
      yieldToLoop: () => {
        slices++;
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
    });
    const checkpoint = await held(async () => {
      await mirror.write(ruleset);
      await mirror.flush();
    });
    const rows: Record<string, number>[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const target = orders[(round * 7919) % size] as Order;
      const changed = transition(target, { type: "withdraw" }, "responder-1", iso(NOON));
      ruleset = recompile(ruleset, [changed], { version: round + 1, compiledAt: iso(NOON) }, NODE);
      const version = ruleset;
      gc();
      let beforeSyncMs = 0;
      const before = await held(() => {
        const t = performance.now();
        const text = rulesetJson(version);
        beforeSyncMs = performance.now() - t;
        return writeFileAtomic(join(dir, `${size}.json`), text);
      });
      gc();
      let afterSyncMs = 0;
      const after = await held(async () => {
        const t = performance.now();
        const written = mirror.write(version);
        afterSyncMs = performance.now() - t;
        await written;
        await mirror.flush();
      });
      rows.push({
        beforeSyncMs,
        afterSyncMs,
        syncRatio: beforeSyncMs / afterSyncMs,
        beforeHoldMs: before.holdMs,
        beforeWallMs: before.wallMs,
        afterHoldMs: after.holdMs,
        afterWallMs: after.wallMs,
        holdRatio: before.holdMs / after.holdMs,
      });
      console.log(
        JSON.stringify({
          size,
          round,
          before: { ...before, syncMs: beforeSyncMs },
          after: { ...after, syncMs: afterSyncMs },
        }),
      );
    }
    const m = (key: string) => +median(rows.map((r) => r[key] as number)).toFixed(2);
    console.log(
      JSON.stringify({
        size,
        median: {
          beforeSyncMs: m("beforeSyncMs"),
          afterSyncMs: +median(rows.map((r) => r.afterSyncMs as number)).toFixed(3),
          syncRatio: m("syncRatio"),
          beforeHoldMs: m("beforeHoldMs"),
          beforeWallMs: m("beforeWallMs"),
          afterHoldMs: m("afterHoldMs"),
          afterWallMs: m("afterWallMs"),
          holdRatio: m("holdRatio"),
        },
        checkpoint: { holdMs: +checkpoint.holdMs.toFixed(2), wallMs: +checkpoint.wallMs.toFixed(0), slices },
      }),
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
