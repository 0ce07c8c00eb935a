/**
 * Issue 14, goal 3 in Redis mode: what one order change costs the instance that publishes it. Before,
 * every publish stored the whole document (`rulesetJson`: every order's JSON, on the event loop, then a
 * SET of it); now a change of a few orders stores its delta alone (`RulesetSync.publish`), and a whole
 * document is stored now and then, made and sent in pieces between which checks go on
 * (`RedisRulesetChannel.storeDocument`). In one process against a real redis-server, synthetic orders
 * as `ruleset-scale-compile.ts` makes them; per round a new version with one order withdrawn, published
 * the new way, and the old way's work (its JSON and SET) timed on the same version. Then one document
 * upload, with the longest hold of the event loop during it, and what an instance that starts reads:
 * the JSON document parsed before, the document in columns read and verified now.
 *
 * `node --expose-gc --max-old-space-size=12000 --import tsx bench/redis-ruleset-publish.ts [--sizes=100000,1000000] [--rounds=5]`
 */
import { compile, type Order, type Ruleset, recompile, transition } from "../src/engine/index.js";
import { SILENT_LOGGER } from "../src/kernel/logger.js";
import { createRedis } from "../src/platform/node/redis.js";
import { nodeSha256 } from "../src/platform/node/sha256-stream.js";
import { RulesetCompiler } from "../src/rulesets/compiler.js";
import { RulesetHolder } from "../src/rulesets/holder.js";
import { RedisRulesetChannel } from "../src/rulesets/redis-channel.js";
import { RulesetSync } from "../src/rulesets/redis-sync.js";
import { parseRulesetDocument, rulesetJson } from "../src/rulesets/ruleset-json.js";
import { redisKeys } from "../src/store/redis/keys.js";
import { iso, NOON } from "../test/support/fixtures.js";
import { startRedis } from "../test/support/redis.js";
import { arg, exposedGc, held, median } from "./lib.js";
import { syntheticOrders } from "./synthetic-orders.js";

const SIZES = arg("sizes", "100000,1000000").split(",").map(Number);
const ROUNDS = Number(arg("rounds", "5"));
const NODE = { sha256: nodeSha256 };
const gc = exposedGc();

const server = await startRedis();
const redis = createRedis(server.url, { name: "bench", commandTimeoutMs: 600_000 });
const subscriber = createRedis(server.url, { name: "bench-sub", commandTimeoutMs: 600_000 });
try {
  for (const size of SIZES) {
    const keys = redisKeys(`bench${size}`);
    const channel = new RedisRulesetChannel(redis, subscriber, keys);
    const holder = new RulesetHolder(() => NOON);
    const empty = {
      epoch: async () => undefined,
      head: async () => ({ seq: 0, hash: "" }),
      listOrders: async () => [],
    };
    const sync = await RulesetSync.start({
      compiler: new RulesetCompiler(empty as never, holder, () => NOON),
      channel,
      mirror: { path: "", load: async () => undefined, write: async () => undefined, flush: async () => {} },
      pollMs: 3_600_000,
      logger: SILENT_LOGGER,
      clock: () => NOON,
    });
    const orders = syntheticOrders(size);
    let ruleset: Ruleset = compile(orders, { version: 1, compiledAt: iso(NOON) }, NODE);
    // As the compiler does: each version is in force here before it is published.
    holder.install(ruleset);
    await sync.publish(ruleset); // the first version: whole, as before
    const rows: Record<string, number>[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const target = orders[(round * 7919) % size] as Order;
      const changed = transition(target, { type: "withdraw" }, "responder-1", iso(NOON));
      ruleset = recompile(ruleset, [changed], { version: round + 1, compiledAt: iso(NOON) }, NODE);
      holder.install(ruleset);
      gc();
      const { wallMs: deltaMs, holdMs: deltaHold } = await held(() => sync.publish(ruleset));
      gc();
      const { wallMs: wholeMs, holdMs: wholeHold } = await held(async () => {
        await redis.set(`${keys.ruleset}:old-way`, rulesetJson(ruleset));
      });
      rows.push({ deltaMs, deltaHold, wholeMs, wholeHold });
      console.log(
        JSON.stringify({
          size,
          round,
          delta: { ms: +deltaMs.toFixed(2), holdMs: +deltaHold.toFixed(2) },
          whole: { ms: +wholeMs.toFixed(1), holdMs: +wholeHold.toFixed(1) },
        }),
      );
    }
    gc();
    const {
      value: stored,
      wallMs: uploadMs,
      holdMs: uploadHold,
    } = await held(() =>
      channel.storeDocument(ruleset, () => new Promise((resolve) => setTimeout(resolve, 0))),
    );
    // What an instance that starts reads: the document as JSON before, in columns now (digests recomputed).
    const oldWay = (await redis.get(`${keys.ruleset}:old-way`)) as string;
    await redis.del(`${keys.ruleset}:old-way`);
    gc();
    const { value: parsed, wallMs: parseJsonMs } = await held(async () => parseRulesetDocument(oldWay, NODE));
    gc();
    const { value: read, wallMs: readMs } = await held(() => channel.readDocument());
    if (parsed.hash !== ruleset.hash || read?.hash !== ruleset.hash)
      throw new Error("a document read back differs");
    const m = (key: string) => +median(rows.map((r) => r[key] as number)).toFixed(2);
    console.log(
      JSON.stringify({
        size,
        median: {
          publishDeltaMs: m("deltaMs"),
          publishDeltaHoldMs: m("deltaHold"),
          publishWholeMs: m("wholeMs"),
          publishWholeHoldMs: m("wholeHold"),
          ratioWholeToDelta: +(m("wholeHold") / m("deltaHold")).toFixed(0),
        },
        upload: { stored, ms: +uploadMs.toFixed(0), longestHoldMs: +uploadHold.toFixed(1) },
        read: { jsonMs: +parseJsonMs.toFixed(0), columnsMs: +readMs.toFixed(0) },
        documentBytes: { json: oldWay.length, columns: (await redis.strlen(keys.ruleset)) as number },
      }),
    );
    await sync.stop();
  }
} finally {
  redis.disconnect();
  subscriber.disconnect();
  await server.close();
}
