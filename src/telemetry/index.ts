/**
 * Spans and metrics through `@opentelemetry/api` only. Without an SDK registered the API hands out no-op
 * instruments, so these cost a function call each. On Node the standard `OTEL_*` variables (OTLP) and
 * CORDON_METRICS_TOKEN (Prometheus, `GET /metrics`) register one (`runtime/node/telemetry.ts`) before
 * this module loads; an operator may also register their own with `node --import`. The metric names and
 * attributes are listed in `README.md` beside this file.
 */
import { metrics, trace } from "@opentelemetry/api";

const meter = metrics.getMeter("cordon");

export const tracer = trace.getTracer("cordon");

/**
 * Bucket bounds for the check duration, in seconds: a check takes well under a millisecond to a few
 * (a geo web service lookup: tens to hundreds), and the join flow notices beyond a second.
 */
export const CHECK_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

const checkDuration = meter.createHistogram("cordon.check.duration", {
  description: "Time to answer one check, decision record written included.",
  // OpenTelemetry semantic conventions: durations in seconds.
  unit: "s",
  advice: { explicitBucketBoundaries: CHECK_DURATION_BUCKETS },
});

export const instruments = {
  decisions: meter.createCounter("cordon.decisions", {
    description: "Answered checks, by decision code.",
    unit: "{decision}",
  }),
  /** Takes the duration in milliseconds (as `performance.now()` measures it) and records seconds. */
  checkDuration: {
    record: (milliseconds: number) => checkDuration.record(milliseconds / 1000),
  },
  orderChanges: meter.createCounter("cordon.order.changes", {
    description: "Order changes, by action.",
    unit: "{change}",
  }),
  enforcementEvents: meter.createCounter("cordon.enforcement.events", {
    description: "Enforcement events this instance published (exactly once across instances), by type.",
    unit: "{event}",
  }),
};
