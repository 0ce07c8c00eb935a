/**
 * Telemetry through @opentelemetry/api: with an SDK registered before Cordon's modules load (as an
 * operator does with `node --import ./otel-setup.js`), checks produce spans, decisions counted by code,
 * a latency histogram and geo cache hits.
 */
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PLACES } from "./support/fixtures.js";
import { registerTestMetrics, type TestMetrics } from "./support/metrics.js";

let telemetry: TestMetrics;
const spans = new InMemorySpanExporter();
let h: import("./support/harness.js").Harness;

beforeAll(async () => {
  telemetry = registerTestMetrics();
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
  // Imported only now, so the instruments bind to the SDK registered above.
  const { makeHarness, approvedOrder } = await import("./support/harness.js");
  const { CachedGeo } = await import("../src/geo/cached-geo.js");
  const { MaxmindGeo } = await import("../src/geo/maxmind-geo.js");
  const { cityDatabase } = await import("./support/fixtures.js");
  h = await makeHarness({
    geo: new CachedGeo(MaxmindGeo.fromBuffer(cityDatabase(), "fixture"), { max: 100 }),
  });
  await approvedOrder(h);
});
afterAll(() => h.close());

it("records spans, decisions by code, check latency and geo cache hits", async () => {
  for (const ip of [PLACES.mumbai.ip, PLACES.mumbai.ip, PLACES.bengaluru.ip]) {
    const res = await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "81234567890", ip } });
    expect(res.status).toBe(200);
  }
  expect(await telemetry.countsBy("cordon.decisions", "code")).toEqual({
    BLOCKED: 2,
    OUTSIDE_JURISDICTION: 1,
  });
  expect((await telemetry.points("cordon.check.duration"))[0]?.value).toMatchObject({ count: 3 });
  expect(await telemetry.countsBy("cordon.geo.cache", "result")).toEqual({ hit: 1, miss: 2 });
  expect((await telemetry.points("cordon.order.changes")).map((p) => p.attributes.action).sort()).toEqual([
    "approve",
    "create",
  ]);
  // The approval put the block in force: one event, published by this instance.
  expect(await telemetry.countsBy("cordon.enforcement.events", "type")).toEqual({ "block-effective": 1 });

  const checkSpans = spans.getFinishedSpans().filter((s) => s.name === "cordon.check");
  expect(checkSpans.map((s) => s.attributes["cordon.decision.code"])).toEqual([
    "BLOCKED",
    "BLOCKED",
    "OUTSIDE_JURISDICTION",
  ]);
});
