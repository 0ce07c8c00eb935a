/**
 * I5 end to end at the edge: checks answered by the deployed shape of the Worker (its default export,
 * the real KV namespace, Queue and consumer of wrangler.toml, run by Miniflare) reach the decision log
 * exactly once each, also when the consumer's delivery fails and the Queue redelivers the batch. The
 * decision log is the ingest sink (`ingest-sink.ts`), which, like Node's ingest route, appends each
 * decisionId once: that dedupe is the idempotence, and the sink's per-id arrival counts show a retry
 * really delivered the same records again.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/entry/worker.js";
import { loadSigningKey, RULESET_KV_KEY } from "../../src/rulesets/signed.js";
import { secretOf } from "../contract/principals.js";
import { decisionRecord } from "../support/fixtures.js";
import { readResult, requestInit } from "../support/requests.js";
import { signedIndiaRuleset } from "../support/rulesets.js";
import { RULESET_KEY_ID } from "./constants.js";
import type { SinkState } from "./ingest-sink.js";

const sink = {
  async state(): Promise<SinkState> {
    return (await env.INGEST_SINK.fetch("http://sink/state")).json();
  },
  async reset(): Promise<void> {
    await env.INGEST_SINK.fetch("http://sink/reset", { method: "POST" });
  },
  async fail(times: number, mode: "after-store" | "before-store"): Promise<void> {
    await env.INGEST_SINK.fetch(`http://sink/fail?times=${times}&mode=${mode}`, { method: "POST" });
  },
  async refuse(codes: Record<string, string>): Promise<void> {
    await env.INGEST_SINK.fetch("http://sink/refuse", { method: "POST", body: JSON.stringify(codes) });
  },
};

/** Until every id is in the sink (the consumer batches for up to max_batch_timeout, then retries). */
async function deliveredAll(ids: readonly string[]): Promise<SinkState> {
  return vi.waitFor(
    async () => {
      const state = await sink.state();
      const missing = ids.filter((id) => state.appended[id] === undefined);
      if (missing.length > 0) throw new Error(`${missing.length} of ${ids.length} records not delivered yet`);
      return state;
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** A check through the deployed Worker's default export, as the checker. */
const post = async (path: string, body: unknown) =>
  readResult(
    (await exports.default.fetch(
      `https://edge.test${path}`,
      requestInit("POST", secretOf("checker"), { body }),
    )) as unknown as Response,
  );
const check = (body: unknown) => post("/v1/check", body);
const batch = (checks: unknown[]) => post("/v1/check/batch", { checks });

beforeAll(async () => {
  const signing = await loadSigningKey(env.TEST_RULESET_SIGNING_KEY, RULESET_KEY_ID);
  await env.RULESETS.put(RULESET_KV_KEY, await signedIndiaRuleset(signing));
});

beforeEach(() => sink.reset());

describe("decision records from the Worker to the decision log", () => {
  it("delivers the record of every answered check exactly once", async () => {
    const single = await check({ meetingId: "81234567890", ip: "49.32.10.20" });
    expect(single.status).toBe(200);
    expect(single.body).toMatchObject({ decision: "deny", code: "BLOCKED", geo: { country: "IN" } });
    const many = await batch(
      Array.from({ length: 120 }, (_, i) => ({ meetingId: `m-${i}`, ip: i % 2 ? "8.8.8.8" : "2.56.10.20" })),
    );
    expect(many.status).toBe(200);
    const ids: string[] = [
      single.body.decisionId,
      ...many.body.results.map((r: { decisionId: string }) => r.decisionId),
    ];

    const state = await deliveredAll(ids);
    for (const id of ids) expect(state.appended[id], id).toBe(1);
    expect(state.records.find((r) => r.decisionId === single.body.decisionId)).toMatchObject({
      meetingId: "81234567890",
      decision: "deny",
      code: "BLOCKED",
      country: "IN",
      ipPrefix: "49.32.10.0/24",
      geoSource: "mmdb",
      rulesetVersion: 2,
    });
    expect(JSON.stringify(state.records)).not.toContain("49.32.10.20");
  });

  it("delivers a batch once when its first delivery reached the log but failed (the Queue retries it)", async () => {
    // The first ingest call stores its records and then answers 503, as a Node instance whose answer is
    // lost would: the consumer retries, the Queue redelivers, and the log must not count twice.
    await sink.fail(1, "after-store");
    const answered = await Promise.all(
      Array.from({ length: 5 }, (_, i) => check({ meetingId: `retry-${i}`, ip: "49.32.10.20" })),
    );
    const ids = answered.map((a) => a.body.decisionId as string);

    // Until the redelivery has come through too: the failed first delivery already stored its records.
    const final = await vi.waitFor(
      async () => {
        const state = await deliveredAll(ids);
        if (!ids.some((id) => (state.arrivals[id] ?? 0) >= 2)) throw new Error("no redelivery yet");
        return state;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(final.deliveries[0]?.status).toBe(503);
    expect(final.deliveries.some((d) => d.status === 200)).toBe(true);
    for (const id of ids) expect(final.appended[id], id).toBe(1);
    expect(final.records.filter((r) => ids.includes(r.decisionId))).toHaveLength(ids.length);
  });

  it("delivers once when the first delivery failed before reaching the log", async () => {
    await sink.fail(2, "before-store");
    const answered = await batch([
      { meetingId: "a", ip: "8.8.8.8" },
      { meetingId: "b", ip: "8.8.8.8" },
    ]);
    const ids = answered.body.results.map((r: { decisionId: string }) => r.decisionId);
    const state = await deliveredAll(ids);
    for (const id of ids) expect(state.appended[id], id).toBe(1);
    expect(state.deliveries.filter((d) => d.status === 503)).toHaveLength(2);
  });
});

describe("the Queue consumer", () => {
  const record = (decisionId: string) => decisionRecord({ decisionId });
  /** Runs the Worker's consumer on one batch of `[message id, body]`: what it acked and retried, and its log. */
  async function consume(...messages: [string, unknown][]) {
    const batch = createMessageBatch(
      "cordon-decisions",
      messages.map(([id, body]) => ({ id, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    // The pool's result lists retried ids only; the delay a retry asked for is read off the call.
    const retryDelays: Record<string, unknown> = {};
    for (const message of batch.messages) {
      const retry = message.retry.bind(message);
      message.retry = (options?: { delaySeconds?: number }) => {
        retryDelays[message.id] = options?.delaySeconds;
        retry(options);
      };
    }
    const lines: Record<string, unknown>[] = [];
    const spies = (["error", "warn"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((line: string) => void lines.push(JSON.parse(line))),
    );
    try {
      await worker.queue(batch as never, { ...env, CORDON_LOG_LEVEL: "warn" } as never);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    return { ...(await getQueueResult(batch, ctx)), lines, retryDelays };
  }

  it("acks every message once the ingest route took the batch", async () => {
    const result = await consume(["m1", record("d-1")], ["m2", record("d-2")]);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    const state = await sink.state();
    expect(state.appended).toEqual({ "d-1": 1, "d-2": 1 });
  });

  it("retries every message when the ingest route fails, so the Queue delivers them again", async () => {
    await sink.fail(1, "before-store");
    const result = await consume(["m1", record("d-3")], ["m2", record("d-4")]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId).sort()).toEqual(["m1", "m2"]);
  });

  it("sends a message that is no decision record towards the dead-letter queue, and delivers the rest", async () => {
    const result = await consume(
      ["good", record("d-5")],
      ["bad", { decisionId: "d-6", note: "not a record" }],
    );
    expect(result.explicitAcks).toEqual(["good"]);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["bad"]);
    expect((await sink.state()).appended).toEqual({ "d-5": 1 });
  });

  it("acks a record ingest refuses for good, logging its id and the reason but not the record", async () => {
    await sink.refuse({ "d-7": "BAD_IP_PREFIX" });
    const result = await consume(
      ["good", record("d-6")],
      ["raw", { ...record("d-7"), ipPrefix: "203.0.113.77/32" }],
    );
    expect(result.explicitAcks.sort()).toEqual(["good", "raw"]);
    expect(result.retryMessages).toEqual([]);
    expect((await sink.state()).appended).toEqual({ "d-6": 1 });
    expect(result.lines).toContainEqual(
      expect.objectContaining({ level: "error", decisionId: "d-7", code: "BAD_IP_PREFIX", messageId: "raw" }),
    );
    expect(JSON.stringify(result.lines)).not.toContain("203.0.113.77");
  });

  it("retries, after a delay, a record refused as ahead of Node's clock", async () => {
    await sink.refuse({ "d-9": "TOO_FAR_AHEAD" });
    const result = await consume(["now", record("d-8")], ["ahead", record("d-9")]);
    expect(result.explicitAcks).toEqual(["now"]);
    expect(result.retryMessages).toEqual([{ msgId: "ahead" }]);
    expect(result.retryDelays).toEqual({ ahead: 60 });
  });

  it("delivers with the edge token, and will not start with the old admin-token setting", async () => {
    const deliveries = (await sink.state()).deliveries.length;
    await expect(
      worker.queue(
        createMessageBatch("cordon-decisions", [
          { id: "m", timestamp: new Date(), attempts: 1, body: record("d-10") },
        ]) as never,
        { ...env, CORDON_INGEST_TOKEN: "an-admin-secret-0123456789" } as never,
      ),
    ).rejects.toThrow(/CORDON_INGEST_TOKEN: replaced by CORDON_EDGE_TOKEN/);
    await expect(
      worker.queue(
        createMessageBatch("cordon-decisions", [
          { id: "m", timestamp: new Date(), attempts: 1, body: record("d-10") },
        ]) as never,
        { ...env, CORDON_EDGE_TOKEN: "ops:admin:an-admin-secret-0123456789" } as never,
      ),
    ).rejects.toThrow(/CORDON_EDGE_TOKEN: must be one principal:edge:secret entry/);
    expect((await sink.state()).deliveries).toHaveLength(deliveries);
  });
});
