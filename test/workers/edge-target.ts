/**
 * The check-route contract's target in workerd: a fresh Worker (`createWorker`, the code behind the
 * default export) per test, called through its fetch handler with an ExecutionContext whose `waitUntil`
 * work is awaited after each call. Its bindings are the test run's (wrangler.toml plus
 * vitest.workers.config.ts), with two seams:
 * - `RULESETS` is the real KV namespace under a key prefix of this target, so tests never see each
 *   other's rulesets;
 * - `DECISIONS` records what the Worker sends to the Queue, message bodies unpacked into records (and
 *   can be made to fail); the real Queue,
 *   its consumer and the ingest sink are exercised in `decision-queue.test.ts`.
 * Orders are entered and approved with the engine's own life cycle (`createOrder`, `transition`),
 * compiled at the store sequence number Node would have, signed with the run's test key as the Node
 * publisher signs, and written to KV (the single value, or sharded: shards, then the manifest, as the
 * publisher writes them); the Worker loads them the way it does in production.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import bundledMmdb from "@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb";
import { vi } from "vitest";
import {
  compile,
  createOrder,
  type DecisionRecord,
  type Order,
  OrderInput,
  transition,
} from "../../src/engine/index.js";
import { readDecisionMessage } from "../../src/platform/cloudflare/decision-messages.js";
import { RULESET_MANIFEST_KV_KEY, shardKey, shardRuleset, signManifest } from "../../src/rulesets/sharded.js";
import { loadSigningKey, RULESET_KV_KEY, signRuleset } from "../../src/rulesets/signed.js";
import { createWorker, type WorkerEnv } from "../../src/runtime/worker.js";
import type { CallOptions, CallResult, CheckRoutesTarget } from "../contract/check-routes.js";
import { secretOf } from "../contract/principals.js";
import { cityDatabase, orderInput, T0 } from "../support/fixtures.js";
import { readResult, requestInit } from "../support/requests.js";
import { RULESET_KEY_ID } from "./constants.js";

export interface EdgeCallOptions extends CallOptions {
  /** `request.cf`, as Cloudflare's edge would attach it. */
  cf?: Record<string, unknown>;
}

export interface EdgeTarget extends CheckRoutesTarget {
  call(method: string, path: string, opts?: EdgeCallOptions): Promise<CallResult>;
  /** Messages per `sendBatch` call, in order. */
  sends: number[];
  /** Makes the Queue refuse (true) or accept (false) the next sends. */
  failSends(fail: boolean): void;
  /** Writes any KV value as the ruleset (a tampered one, say) and lets the Worker read it. */
  putRuleset(value: string): Promise<void>;
  /** The signed KV value of the ruleset compiled from the orders so far. */
  signedRuleset(): Promise<string>;
  /** The keys the Worker read from KV, in order. */
  kvReads: string[];
  /** Writes or deletes (null) any KV value, without a request. */
  setValue(key: string, value: string | null): Promise<void>;
  /** Reads a KV value. */
  value(key: string): Promise<string | null>;
}

export interface EdgeTargetOptions {
  /** Leave KV empty at the start (no ruleset published yet). */
  noRuleset?: boolean;
  /** Publish sharded, into at least this many shards, instead of the single value. */
  shards?: number;
  /** Leave CORDON_TICKET_KEY unset (no browser-direct checks). */
  noTicketKey?: boolean;
  /** Another database instead of the City fixture; `bundled` for the one the entry bundles (a Data module). */
  mmdb?: "bundled" | { bytes: Uint8Array; source: string };
}

let opened = 0;

export async function openEdgeTarget(options: EdgeTargetOptions = {}): Promise<EdgeTarget> {
  // Only Date: the Worker's clock, the orders' times and the records' `at` follow it; timers stay real.
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);

  const prefix = `target-${++opened}-${crypto.randomUUID()}/`;
  const signing = await loadSigningKey(env.TEST_RULESET_SIGNING_KEY, RULESET_KEY_ID);
  const records: DecisionRecord[] = [];
  const sends: number[] = [];
  const kvReads: string[] = [];
  const written = new Set<string>();
  let failing = false;

  const workerEnv: WorkerEnv = {
    CORDON_TOKENS: env.CORDON_TOKENS,
    CORDON_IP_HASH_KEY: env.CORDON_IP_HASH_KEY,
    RULESET_PUBLIC_KEYS: env.RULESET_PUBLIC_KEYS,
    CORDON_RULESET_REFRESH_MS: env.CORDON_RULESET_REFRESH_MS,
    CORDON_LOG_LEVEL: env.CORDON_LOG_LEVEL,
    CORDON_INGEST_URL: env.CORDON_INGEST_URL,
    CORDON_EDGE_TOKEN: env.CORDON_EDGE_TOKEN,
    ...(options.noTicketKey ? {} : { CORDON_TICKET_KEY: env.CORDON_TICKET_KEY }),
    RULESETS: {
      get: (key: string, type: "text") => {
        kvReads.push(key);
        return env.RULESETS.get(prefix + key, type);
      },
    } as unknown as WorkerEnv["RULESETS"],
    DECISIONS: {
      async sendBatch(messages: Iterable<{ body: unknown }>) {
        const list = [...messages];
        sends.push(list.length);
        if (failing) throw new Error("Queue send failed (test)");
        for (const { body } of list) {
          const carried = readDecisionMessage(body);
          if (carried === null) throw new Error(`not a decision message: ${JSON.stringify(body)}`);
          records.push(...carried);
        }
      },
    } as unknown as WorkerEnv["DECISIONS"],
  };

  const worker = createWorker({
    mmdb:
      options.mmdb === "bundled"
        ? { bytes: bundledMmdb, source: "bundled:geolite2-country" }
        : (options.mmdb ?? { bytes: cityDatabase(), source: "fixture:city" }),
  });

  async function call(method: string, path: string, opts: EdgeCallOptions = {}): Promise<CallResult> {
    const request = new Request(`https://edge.test${path}`, {
      ...requestInit(method, opts.as ? secretOf(opts.as) : undefined, opts),
      ...(opts.cf ? { cf: opts.cf } : {}),
    });
    const ctx = createExecutionContext();
    const response = await worker.fetch(request as never, workerEnv, ctx);
    await waitOnExecutionContext(ctx);
    return readResult(response as unknown as Response);
  }

  // The store's sequence number, as Node's: each order change is one audit entry.
  let seq = 0;
  const orders: Order[] = [];
  const signedRuleset = async () =>
    signRuleset(compile(orders, { version: seq, compiledAt: new Date(Date.now()).toISOString() }), signing);

  async function setValue(key: string, value: string | null): Promise<void> {
    if (value === null) {
      await env.RULESETS.delete(prefix + key);
    } else {
      written.add(key);
      await env.RULESETS.put(prefix + key, value);
    }
  }

  async function putRuleset(value: string): Promise<void> {
    await setValue(RULESET_KV_KEY, value);
    // Any request that is not /healthz reads KV (waiting, or under waitUntil, which `call` awaits).
    await call("GET", "/readyz");
  }

  async function publish(): Promise<void> {
    if (options.shards === undefined) {
      await putRuleset(await signedRuleset());
    } else {
      const ruleset = compile(orders, { version: seq, compiledAt: new Date(Date.now()).toISOString() });
      const split = await shardRuleset(ruleset, { maxShardBytes: 1024 * 1024, minShards: options.shards });
      for (const shard of split.shards) if (shard) await setValue(shardKey(shard.sha256), shard.text);
      await setValue(
        RULESET_MANIFEST_KV_KEY,
        await signManifest({ ...split.manifest, retired: [] }, signing),
      );
      await call("GET", "/readyz");
    }
    // The Worker's own account of its ruleset (`/v1/ruleset` would read every shard).
    const ready = await call("GET", "/readyz", { as: "checker" });
    const loaded = ready.body?.checks?.[0]?.detail;
    if (loaded?.version !== seq) {
      throw new Error(`the Worker did not load ruleset v${seq}: ${JSON.stringify(loaded)}`);
    }
  }

  if (!options.noRuleset) await publish();

  return {
    call,
    sends,
    failSends(fail) {
      failing = fail;
    },
    putRuleset,
    signedRuleset,
    kvReads,
    setValue,
    value: (key) => env.RULESETS.get(prefix + key, "text"),
    async approvedOrder(overrides = {}) {
      const at = new Date(Date.now()).toISOString();
      const id = `ord_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
      const created = createOrder(OrderInput.parse(orderInput(overrides)), { id, actor: "responder", at });
      const approved = transition(created, { type: "approve" }, "approver", at);
      seq += 2;
      orders.push(approved);
      await publish();
      return { id: approved.id, reference: approved.reference };
    },
    async withdraw(orderId) {
      const at = new Date(Date.now()).toISOString();
      const index = orders.findIndex((o) => o.id === orderId);
      const order = orders[index];
      if (!order) throw new Error(`no order ${orderId}`);
      orders[index] = transition(order, { type: "withdraw", reason: "authority withdrew" }, "responder", at);
      seq += 1;
      await publish();
    },
    setNow(ms) {
      vi.setSystemTime(ms);
    },
    async records() {
      return [...records];
    },
    async close() {
      vi.useRealTimers();
      await Promise.all([...written].map((key) => env.RULESETS.delete(prefix + key)));
    },
  };
}
