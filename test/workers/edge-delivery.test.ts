/**
 * Delivery of the edge's decision records under load and through long outages of Node's ingest:
 * many records per Queue message (grouped across concurrent checks), both message forms read by the
 * consumer, and the dead-letter queue that retries with backoff, parks in KV before the Queue could drop
 * a message, and replays parked records (cron, `POST /v1/edge/replay`, `cordon edge-replay`) so that
 * every record reaches the decision log exactly once. The Queue's redelivery is emulated around the
 * Worker's real handlers (attempts, `max_retries`, retry delays on a fake clock), as Cloudflare runs it.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import bundledMmdb from "@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { edgeReplay } from "../../src/cli/edge-replay.js";
import type { DecisionRecord } from "../../src/engine/index.js";
import worker from "../../src/entry/worker.js";
import { BACKOFF_CAP_S, PARK_AFTER_ATTEMPTS } from "../../src/platform/cloudflare/dead-letter-consumer.js";
import {
  jsonBytes,
  MAX_MESSAGE_BYTES,
  MAX_MESSAGES_PER_SEND,
  MAX_SEND_BYTES,
  readDecisionMessage,
} from "../../src/platform/cloudflare/decision-messages.js";
import { PARKED_PREFIX } from "../../src/platform/cloudflare/parked-decisions.js";
import { QueueDecisionLog } from "../../src/platform/cloudflare/queue-decision-log.js";
import { loadSigningKey, RULESET_KV_KEY } from "../../src/rulesets/signed.js";
import { createWorker, type WorkerEnv } from "../../src/runtime/worker.js";
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
  async fail(times: number): Promise<void> {
    await env.INGEST_SINK.fetch(`http://sink/fail?times=${times}&mode=before-store`, { method: "POST" });
  },
};

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

async function parkedNames(): Promise<string[]> {
  return (await env.PARKED_DECISIONS.list({ prefix: PARKED_PREFIX })).keys.map((k) => k.name);
}

async function clearParking(): Promise<void> {
  for (const { name } of (await env.PARKED_DECISIONS.list()).keys) await env.PARKED_DECISIONS.delete(name);
}

beforeAll(async () => {
  const signing = await loadSigningKey(env.TEST_RULESET_SIGNING_KEY, RULESET_KEY_ID);
  await env.RULESETS.put(RULESET_KV_KEY, await signedIndiaRuleset(signing));
});

beforeEach(async () => {
  await sink.reset();
  await clearParking();
});

afterEach(() => {
  vi.useRealTimers();
});

/** A fresh Worker whose Queue binding counts what is sent and passes it on to the real Queue. */
function countingWorker() {
  const sends: { messages: number; bytes: number; bodies: number[] }[] = [];
  const decisions = {
    async sendBatch(messages: Iterable<{ body: unknown; contentType?: string }>) {
      const list = [...messages];
      const bodies = list.map((m) => jsonBytes(m.body));
      sends.push({ messages: list.length, bytes: bodies.reduce((a, b) => a + b, 0), bodies });
      return env.DECISIONS.sendBatch(list as never);
    },
  };
  const workerEnv = { ...env, DECISIONS: decisions } as unknown as WorkerEnv;
  const edge = createWorker({ mmdb: { bytes: bundledMmdb, source: "bundled:geolite2-country" } });
  const check = async (body: unknown) => {
    const ctx = createExecutionContext();
    const response = await edge.fetch(
      new Request("https://edge.test/v1/check", requestInit("POST", secretOf("checker"), { body })) as never,
      workerEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return readResult(response as unknown as Response);
  };
  return { sends, check };
}

describe("decision records on the Queue, many per message", () => {
  it("sends 200 concurrent checks' records in a handful of Queue messages, each delivered once", async () => {
    const edge = countingWorker();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => edge.check({ meetingId: `webinar-${i}`, ip: "49.32.10.20" })),
    );
    for (const a of answers) expect(a.status).toBe(200);
    const messages = edge.sends.reduce((n, s) => n + s.messages, 0);
    // One message per check before many-record bodies; a handful now.
    expect(edge.sends.length).toBeLessThanOrEqual(5);
    expect(messages).toBeLessThanOrEqual(5);
    console.info(`200 concurrent checks: ${edge.sends.length} sendBatch calls, ${messages} messages`);

    const ids = answers.map((a) => a.body.decisionId as string);
    const state = await deliveredAll(ids);
    for (const id of ids) expect(state.arrivals[id], id).toBe(1);
  });

  it("answers concurrent checks arriving as separate requests, each record delivered once", async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, i) =>
        readResult(
          (await exports.default.fetch(
            "https://edge.test/v1/check",
            requestInit("POST", secretOf("checker"), { body: { meetingId: `sep-${i}`, ip: "8.8.8.8" } }),
          )) as unknown as Response,
        ),
      ),
    );
    for (const a of answers) expect(a.status).toBe(200);
    const ids = answers.map((a) => a.body.decisionId as string);
    const state = await deliveredAll(ids);
    for (const id of ids) expect(state.appended[id], id).toBe(1);
  });

  it("splits records over messages and sends within the Queue's limits, which the Queue accepts", async () => {
    const sent: { body: unknown }[][] = [];
    const log = new QueueDecisionLog({
      async sendBatch(messages: Iterable<{ body: unknown }>) {
        const list = [...messages];
        sent.push(list);
        return env.DECISIONS.sendBatch(list as never);
      },
    });
    // About 2,000 records of ~1 KB: far more than one message (96 KiB) or one send (224 KiB) holds.
    const records = Array.from({ length: 2000 }, (_, i) =>
      decisionRecord({
        decisionId: `big-${i}`,
        at: new Date().toISOString(),
        meetingId: `m-${"x".repeat(600)}-${i}`,
      }),
    );
    await log.append(records);

    const bodies = sent.flat().map((m) => m.body);
    expect(bodies.length).toBeGreaterThan(1);
    for (const send of sent) {
      expect(send.length).toBeLessThanOrEqual(MAX_MESSAGES_PER_SEND);
      expect(send.reduce((n, m) => n + jsonBytes(m.body), 0)).toBeLessThanOrEqual(MAX_SEND_BYTES);
    }
    for (const body of bodies) expect(jsonBytes(body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(bodies.flatMap((b) => readDecisionMessage(b) ?? []).map((r) => r.decisionId)).toEqual(
      records.map((r) => r.decisionId),
    );
    console.info(`2000 records of ~1 KB: ${bodies.length} messages in ${sent.length} sendBatch calls`);

    // The consumer posts them within ingest's limits (500 records, 64 KiB), and each arrives once.
    const state = await deliveredAll(records.map((r) => r.decisionId));
    for (const r of records) expect(state.arrivals[r.decisionId]).toBe(1);
    for (const d of state.deliveries) expect(d.records).toBeLessThanOrEqual(500);
  });

  it("sends a group whose leading check went away, so the checks waiting on it are answered", async () => {
    // The request that opened the group is cancelled during its window (its client left): it never
    // comes back to send. The checks that joined the group send it themselves.
    class CancelledLeader extends QueueDecisionLog {
      protected override window(): Promise<void> {
        return new Promise(() => {});
      }
    }
    const sent: unknown[][] = [];
    const log = new CancelledLeader(
      {
        async sendBatch(messages: Iterable<{ body: unknown }>) {
          sent.push([...messages].map((m) => m.body));
        },
      },
      { takeoverMs: 20 },
    );
    void log.append([decisionRecord({ decisionId: "leader" })]);
    await Promise.all([1, 2].map((i) => log.append([decisionRecord({ decisionId: `joined-${i}` })])));
    expect(sent).toHaveLength(1);
    expect(
      sent
        .flat()
        .flatMap((b) => readDecisionMessage(b) ?? [])
        .map((r) => r.decisionId),
    ).toEqual(["leader", "joined-1", "joined-2"]);
  });

  it("fails every check of a group with 503 when the Queue refuses the group's send", async () => {
    let calls = 0;
    const log = new QueueDecisionLog({
      async sendBatch() {
        calls++;
        throw new Error("Queue send failed (test)");
      },
    });
    const results = await Promise.allSettled(
      [0, 1, 2].map((i) => log.append([decisionRecord({ decisionId: `f-${i}` })])),
    );
    expect(calls).toBe(1);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toMatchObject({ name: "StoreUnavailableError" });
    }
  });
});

/** Runs the Worker's queue handler on a batch as the Queue would deliver it; what it acked and retried. */
async function deliver(queue: string, messages: Emulated[]) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts, body: m.body })),
  );
  const delays: Record<string, number | undefined> = {};
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options?: { delaySeconds?: number }) => {
      delays[message.id] = options?.delaySeconds;
      retry(options);
    };
  }
  const lines: Record<string, unknown>[] = [];
  const spies = (["error", "warn", "info"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((line: string) => void lines.push(JSON.parse(line))),
  );
  const ctx = createExecutionContext();
  try {
    await worker.queue(batch as never, { ...env, CORDON_LOG_LEVEL: "warn" } as never, ctx as never);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const result = await getQueueResult(batch, ctx);
  const retried = new Set(result.retryMessages.map((m: { msgId: string }) => m.msgId));
  if (result.retryBatch.retry) for (const m of messages) retried.add(m.id);
  return { acked: new Set(result.explicitAcks), retried, delays, lines };
}

interface Emulated {
  id: string;
  body: unknown;
  attempts: number;
}

/** wrangler.toml: max_retries of the main queue and of the dead-letter queue. */
const MAIN_MAX_RETRIES = 10;
const DLQ_MAX_RETRIES = 100;

/**
 * The Queue around the handlers: redelivers what was retried (one more attempt, the clock moved on by
 * the delay asked for), moves a message past the main queue's max_retries to the dead-letter queue,
 * and deletes one past the dead-letter queue's (a message lost). Until every message is settled.
 */
async function emulateQueues(messages: Emulated[]) {
  let main = messages.map((m) => ({ ...m }));
  let dlq: Emulated[] = [];
  const lost: Emulated[] = [];
  const dlqDelays: number[] = [];
  const lines: Record<string, unknown>[] = [];
  let earlyAcks = 0;
  for (let round = 0; round < 1000 && (main.length > 0 || dlq.length > 0); round++) {
    if (main.length > 0) {
      const result = await deliver("cordon-decisions", main);
      const next: Emulated[] = [];
      for (const m of main) {
        if (!result.retried.has(m.id)) continue;
        if (m.attempts > MAIN_MAX_RETRIES) dlq.push({ ...m, attempts: 1 });
        else next.push({ ...m, attempts: m.attempts + 1 });
      }
      main = next;
      vi.setSystemTime(Date.now() + 30_000);
    }
    if (dlq.length > 0) {
      const parkedBefore = (await parkedNames()).length;
      const result = await deliver("cordon-decisions-dlq", dlq);
      lines.push(...result.lines);
      const next: Emulated[] = [];
      let wait = 0;
      for (const m of dlq) {
        if (!result.retried.has(m.id)) continue;
        const delay = result.delays[m.id] ?? 900;
        dlqDelays.push(delay);
        wait = Math.max(wait, delay);
        if (m.attempts > DLQ_MAX_RETRIES) lost.push(m);
        else next.push({ ...m, attempts: m.attempts + 1 });
      }
      // Acked while ingest was down: only after its records were parked.
      earlyAcks += result.acked.size - ((await parkedNames()).length - parkedBefore);
      dlq = next;
      vi.setSystemTime(Date.now() + wait * 1000);
    }
  }
  return { lost, dlqDelays, lines, earlyAcks };
}

describe("the dead-letter queue and the parking area", () => {
  const now = () => new Date(Date.now()).toISOString();

  it("delivers every record exactly once when ingest is down for longer than the Queue's retries", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.parse("2026-11-02T09:00:00Z"));
    // Both message forms: bodies written before many-record messages, and many-record ones.
    const old = Array.from({ length: 4 }, (_, i) => decisionRecord({ decisionId: `old-${i}`, at: now() }));
    const many = Array.from({ length: 8 }, (_, m) =>
      Array.from({ length: 25 }, (_, i) => decisionRecord({ decisionId: `many-${m}-${i}`, at: now() })),
    );
    const messages: Emulated[] = [
      ...old.map((record, i) => ({ id: `o${i}`, body: record, attempts: 1 })),
      ...many.map((records, i) => ({ id: `n${i}`, body: { records }, attempts: 1 })),
    ];
    const ids = [...old, ...many.flat()].map((r) => r.decisionId);

    await sink.fail(1_000_000);
    const outage = await emulateQueues(messages);
    expect(outage.lost).toEqual([]);
    expect(outage.earlyAcks).toBe(0);
    expect((await parkedNames()).length).toBe(messages.length);
    expect((await sink.state()).appended).toEqual({});
    // Backoff: 30 s doubling, capped at 15 minutes.
    expect(outage.dlqDelays.slice(0, messages.length)).toEqual(messages.map(() => 30));
    expect(Math.max(...outage.dlqDelays)).toBe(BACKOFF_CAP_S);
    expect(outage.lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        alert: "cordon.edge.dlq_backlog",
        "cordon.edge.dlq_backlog": 12,
      }),
    );

    // Ingest is back: the cron trigger replays the parking area.
    await sink.fail(0);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController(), env as never, ctx as never);
    await waitOnExecutionContext(ctx);
    const state = await sink.state();
    for (const id of ids) {
      expect(state.arrivals[id], id).toBe(1);
      expect(state.appended[id], id).toBe(1);
    }
    expect(Object.keys(state.appended)).toHaveLength(ids.length);
    expect(await parkedNames()).toEqual([]);

    // Nothing left: a second run sends nothing.
    const deliveries = state.deliveries.length;
    await worker.scheduled(createScheduledController(), env as never, createExecutionContext() as never);
    expect((await sink.state()).deliveries).toHaveLength(deliveries);
  });

  it("retries a dead-lettered message with growing delays up to 15 minutes, never acking it", async () => {
    await sink.fail(1_000);
    const body = { records: [decisionRecord({ decisionId: "slow", at: new Date().toISOString() })] };
    const delays: (number | undefined)[] = [];
    for (const attempts of [1, 2, 3, 4, 5, 6, 7, 20, PARK_AFTER_ATTEMPTS - 1]) {
      const result = await deliver("cordon-decisions-dlq", [{ id: "s", body, attempts }]);
      expect(result.acked.size).toBe(0);
      delays.push(result.delays.s);
    }
    expect(delays).toEqual([30, 60, 120, 240, 480, 900, 900, 900, 900]);
    expect(await parkedNames()).toEqual([]);
  });

  it("parks a message whose oldest record is two days old, whatever its attempts", async () => {
    await sink.fail(1_000);
    const at = new Date(Date.now() - 2 * 24 * 3600 * 1000 - 1000).toISOString();
    const result = await deliver("cordon-decisions-dlq", [
      { id: "aged", body: { records: [decisionRecord({ decisionId: "aged-1", at })] }, attempts: 2 },
    ]);
    expect([...result.acked]).toEqual(["aged"]);
    expect(await parkedNames()).toEqual([`${PARKED_PREFIX}${at}/aged`]);
  });

  it("acks a dead-lettered message once ingest took its records", async () => {
    const result = await deliver("cordon-decisions-dlq", [
      { id: "d1", body: decisionRecord({ decisionId: "dl-1" }), attempts: 3 },
      { id: "d2", body: { records: [decisionRecord({ decisionId: "dl-2" })] }, attempts: 9 },
    ]);
    expect([...result.acked].sort()).toEqual(["d1", "d2"]);
    expect((await sink.state()).appended).toEqual({ "dl-1": 1, "dl-2": 1 });
  });

  it("writes the backlog to the EDGE_METRICS dataset on every dead-letter batch, up while ingest is down and 0 once it took the records", async () => {
    const points: { indexes?: unknown[]; blobs?: unknown[]; doubles?: number[] }[] = [];
    const metricsEnv = {
      ...env,
      CORDON_LOG_LEVEL: "warn",
      EDGE_METRICS: { writeDataPoint: (point: (typeof points)[number]) => void points.push(point) },
    };
    const run = async (id: string, attempts: number) => {
      const batch = createMessageBatch("cordon-decisions-dlq", [
        {
          id,
          timestamp: new Date(),
          attempts,
          body: { records: [decisionRecord({ decisionId: `mx-${id}`, at: new Date().toISOString() })] },
        },
      ]);
      const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
      const ctx = createExecutionContext();
      try {
        await worker.queue(batch as never, metricsEnv as never, ctx as never);
      } finally {
        spy.mockRestore();
      }
      await getQueueResult(batch, ctx);
    };
    await sink.fail(1_000);
    await run("m1", 4);
    expect(points).toEqual([
      {
        indexes: ["cordon-decisions-dlq"],
        blobs: ["cordon.edge.dlq_backlog", "cordon-decisions-dlq"],
        doubles: [1, 1, 0, 4],
      },
    ]);
    await sink.fail(0);
    await run("m2", 5);
    expect(points[1]?.doubles).toEqual([0, 0, 0, 0]);
  });

  it("keeps a dead-lettered body it cannot read, rather than dropping it", async () => {
    const result = await deliver("cordon-decisions-dlq", [
      { id: "junk", body: { note: "no record" }, attempts: 1 },
    ]);
    expect([...result.acked]).toEqual(["junk"]);
    expect(await env.PARKED_DECISIONS.get("unreadable/junk", "json")).toMatchObject({
      body: { note: "no record" },
    });
  });
});

describe("replaying parked records on request", () => {
  async function parkSome(n: number): Promise<DecisionRecord[]> {
    await sink.fail(1_000);
    const records = Array.from({ length: n }, (_, i) =>
      decisionRecord({ decisionId: `r-${i}`, at: new Date().toISOString() }),
    );
    await deliver("cordon-decisions-dlq", [
      { id: "p1", body: { records: records.slice(0, n / 2) }, attempts: PARK_AFTER_ATTEMPTS },
      { id: "p2", body: { records: records.slice(n / 2) }, attempts: PARK_AFTER_ATTEMPTS },
    ]);
    expect(await parkedNames()).toHaveLength(2);
    await sink.fail(0);
    return records;
  }

  const replay = async (secret?: string) =>
    readResult(
      (await exports.default.fetch("https://edge.test/v1/edge/replay", {
        method: "POST",
        headers: secret ? { authorization: `Bearer ${secret}` } : {},
      })) as unknown as Response,
    );

  it("replays to ingest for an admin token, and answers counts only", async () => {
    const records = await parkSome(10);
    const res = await replay(secretOf("admin"));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      replayed: 2,
      records: 10,
      refused: 0,
      setAside: 0,
      failed: 0,
      remaining: 0,
      more: false,
    });
    const state = await sink.state();
    for (const r of records) expect(state.arrivals[r.decisionId]).toBe(1);
    expect(await parkedNames()).toEqual([]);
  });

  it("moves an entry it cannot read out of the way, and replays the others", async () => {
    const records = await parkSome(4);
    // Sorts first (oldest), as a damaged value would block every run if it stayed.
    await env.PARKED_DECISIONS.put(`${PARKED_PREFIX}2000-01-01T00:00:00.000Z/damaged`, "{not json");
    const res = await replay(secretOf("admin"));
    expect(res.body).toMatchObject({ replayed: 2, setAside: 1, remaining: 0 });
    expect(await parkedNames()).toEqual([]);
    expect(await env.PARKED_DECISIONS.get("unreadable/2000-01-01T00:00:00.000Z/damaged", "text")).toBe(
      "{not json",
    );
    const state = await sink.state();
    for (const r of records) expect(state.arrivals[r.decisionId]).toBe(1);
  });

  it("refuses every role but admin, and a missing token", async () => {
    await parkSome(2);
    expect((await replay()).status).toBe(401);
    expect((await replay("not-a-known-secret-0123456789")).status).toBe(401);
    for (const who of ["checker", "auditor", "responder"] as const) {
      const res = await replay(secretOf(who));
      expect(res.status, who).toBe(403);
      expect(res.body.error).toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await parkedNames()).toHaveLength(2);
    // Only the delivery that failed while parking them: the refused calls sent nothing.
    expect((await sink.state()).deliveries).toEqual([{ records: 2, status: 503 }]);
  });

  it("answers 429 with Retry-After to a client past its budget of failed tokens, sparing other clients", async () => {
    await parkSome(2);
    const from = (address: string, secret?: string) =>
      exports.default.fetch("https://edge.test/v1/edge/replay", {
        method: "POST",
        headers: {
          "cf-connecting-ip": address,
          ...(secret ? { authorization: `Bearer ${secret}` } : {}),
        },
      }) as unknown as Promise<Response>;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push((await from("203.0.113.7", `guess-${i}-0123456789abcdef`)).status);
      // The client budget: 10 failures at once, then one every 6 s.
      expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
      const refused = await from("203.0.113.7");
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await refused.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
      // Another client is untouched; an admin token still replays from the limited one (as on the API).
      expect((await from("198.51.100.9")).status).toBe(401);
      expect((await from("203.0.113.7", secretOf("admin"))).status).toBe(200);
      expect(await parkedNames()).toEqual([]);
      // Each failure is logged (never the secret), the block once.
      const lines = warn.mock.calls.map(([line]) => String(line));
      expect(lines.filter((l) => l.includes('"authentication failed"'))).toHaveLength(11);
      expect(lines.filter((l) => l.includes('"client":"203.0.113.7"'))).toHaveLength(11);
      expect(lines.filter((l) => l.includes("rate limited"))).toHaveLength(1);
      expect(lines.join("\n")).not.toContain("guess-");
    } finally {
      warn.mockRestore();
    }
  });

  it("leaves records parked while ingest is still down, and says so", async () => {
    await parkSome(4);
    await sink.fail(1_000);
    const res = await replay(secretOf("admin"));
    expect(res.body).toMatchObject({ replayed: 0, failed: 2, remaining: 2 });
    expect(await parkedNames()).toHaveLength(2);
  });

  it("`cordon edge-replay` replays until nothing is parked", async () => {
    const records = await parkSome(6);
    const out: string[] = [];
    const code = await edgeReplay({
      url: "https://edge.test",
      token: secretOf("admin"),
      fetch: ((input: string, init?: RequestInit) => exports.default.fetch(input, init)) as typeof fetch,
      out: (line) => out.push(line),
    });
    expect(code).toBe(0);
    expect(out.join("")).toContain("6 records");
    const state = await sink.state();
    for (const r of records) expect(state.arrivals[r.decisionId]).toBe(1);
  });
});
