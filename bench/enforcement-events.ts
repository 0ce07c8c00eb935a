/**
 * Enforcement event latency across instances: two Cordon servers on one redis-server, a subscriber on
 * instance B's `GET /v1/enforcement/events`, orders entered and approved on instance A. Per approval:
 * from the approval's answer to the event at the subscriber (B's follower wakes on A's XADD and reads it),
 * and from the approval's request to the event. Sequential, one approval at a time.
 *
 * Run: `npx tsx bench/enforcement-events.ts [--approvals N]`. Writes bench/results/enforcement-events.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { orderInput } from "../test/support/fixtures.js";
import { startRedis } from "../test/support/redis.js";
import { SseReader } from "../test/support/sse.js";
import { api, buildCordon, secret, startCordon } from "./servers.js";

const RESULTS = fileURLToPath(new URL("./results/enforcement-events.json", import.meta.url));
const at = process.argv.indexOf("--approvals");
const APPROVALS = at > 0 ? Number(process.argv[at + 1]) : 200;
const WARMUP = 20;

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
const summary = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    n: sorted.length,
    p50: round(quantile(sorted, 0.5)),
    p90: round(quantile(sorted, 0.9)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
};

const build = await buildCordon();
console.log(`cordon: ${build.mode} (${build.note})`);
const redis = await startRedis();
const env = { REDIS_URL: redis.url, CORDON_RULESET_POLL_MS: "1000" };
const a = await startCordon(build, [], { name: "cordon-a", env });
const b = await startCordon(build, [], { name: "cordon-b", env });
try {
  const res = await fetch(`${b.url}/v1/enforcement/events`, {
    headers: { authorization: `Bearer ${secret("checker")}` },
  });
  if (res.status !== 200) throw new Error(`subscribe: ${res.status}`);
  const subscriber = new SseReader(res);
  const afterAnswer: number[] = [];
  const afterRequest: number[] = [];
  const approval: number[] = [];
  for (let i = 0; i < WARMUP + APPROVALS; i++) {
    const created = await api(
      a,
      "POST",
      "/v1/orders",
      "responder",
      orderInput({ target: { kind: "meeting", meetingIds: [`bench-ev-${i}`] } }),
    );
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
    const sent = performance.now();
    const approved = await api(a, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
    const answered = performance.now();
    if (approved.status !== 200) throw new Error(`approve: ${JSON.stringify(approved.body)}`);
    const [event] = (await subscriber.waitFor(i + 1, 10_000)).slice(i);
    if (event === undefined || JSON.parse(event.data).orderId !== created.body.id) {
      throw new Error(`event ${i}: expected order ${created.body.id}, got ${event?.data}`);
    }
    if (i < WARMUP) continue;
    // Negative when the event reached the subscriber before the answer reached the client: the
    // approval is answered after its events are published.
    afterAnswer.push(event.receivedAt - answered);
    afterRequest.push(event.receivedAt - sent);
    approval.push(answered - sent);
  }
  await subscriber.close();
  const report = {
    date: new Date().toISOString(),
    approvals: APPROVALS,
    warmup: WARMUP,
    cordon: build.mode,
    node: process.version,
    "answered -> event at subscriber on B (ms)": summary(afterAnswer),
    "approval sent -> event at subscriber on B (ms)": summary(afterRequest),
    "approval on A, request -> answer (ms)": summary(approval),
  };
  console.log(JSON.stringify(report, null, 2));
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await a.stop();
  await b.stop();
  await redis.close();
}
