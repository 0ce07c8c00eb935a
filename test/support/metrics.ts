/**
 * A real OpenTelemetry metrics SDK for tests, registered globally: instruments created after this
 * (the API has no proxy meter) record into it, and `points(name)` reads what they recorded.
 */
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onShutdown() {}
  protected async onForceFlush() {}
}

export interface TestMetrics {
  /** The data points of one instrument, cumulative since registration. */
  points(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]>;
  /** A counter's values keyed by one attribute. */
  countsBy(name: string, attribute: string): Promise<Record<string, number>>;
}

export function registerTestMetrics(): TestMetrics {
  const reader = new TestReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  const points: TestMetrics["points"] = async (name) => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === name);
    return (metric?.dataPoints ?? []) as { attributes: Record<string, unknown>; value: unknown }[];
  };
  return {
    points,
    async countsBy(name, attribute) {
      return Object.fromEntries(
        (await points(name)).map((p) => [String(p.attributes[attribute]), p.value as number]),
      );
    },
  };
}
