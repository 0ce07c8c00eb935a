/**
 * Telemetry through @opentelemetry/api: with an SDK registered before Cordon's modules load (as an
 * operator does with `node --import ./otel-setup.js`), checks produce spans, decisions counted by code,
 * a latency histogram and geo cache hits.
 */
import { metrics, trace } from "@opentelemetry/api";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PLACES } from "./support/fixtures.js";

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onShutdown() {}
  protected async onForceFlush() {}
}

const reader = new TestReader();
const spans = new InMemorySpanExporter();
let h: import("./support/harness.js").Harness;

beforeAll(async () => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
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
  const { resourceMetrics } = await reader.collect();
  const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const byName = (name: string) => all.find((m) => m.descriptor.name === name);

  const decisions = byName("cordon.decisions");
  const counts = Object.fromEntries(decisions?.dataPoints.map((p) => [p.attributes.code, p.value]) ?? []);
  expect(counts).toEqual({ BLOCKED: 2, OUTSIDE_JURISDICTION: 1 });

  const latency = byName("cordon.check.duration");
  expect(latency?.dataPoints[0]?.value).toMatchObject({ count: 3 });

  const cache = byName("cordon.geo.cache");
  const cacheCounts = Object.fromEntries(cache?.dataPoints.map((p) => [p.attributes.result, p.value]) ?? []);
  expect(cacheCounts).toEqual({ hit: 1, miss: 2 });

  expect(
    byName("cordon.order.changes")
      ?.dataPoints.map((p) => p.attributes.action)
      .sort(),
  ).toEqual(["approve", "create"]);

  const checkSpans = spans.getFinishedSpans().filter((s) => s.name === "cordon.check");
  expect(checkSpans.map((s) => s.attributes["cordon.decision.code"])).toEqual([
    "BLOCKED",
    "BLOCKED",
    "OUTSIDE_JURISDICTION",
  ]);
});
