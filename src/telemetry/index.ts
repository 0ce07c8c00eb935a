/**
 * Spans and metrics through `@opentelemetry/api` only. Without an SDK registered the API hands out no-op
 * instruments, so these cost a function call each; an operator who registers an SDK (and exporter) in
 * the process gets them without code changes.
 */
import { metrics, trace } from "@opentelemetry/api";

const meter = metrics.getMeter("cordon");

export const tracer = trace.getTracer("cordon");

export const instruments = {
  decisions: meter.createCounter("cordon.decisions", { description: "Answered checks, by decision code." }),
  checkDuration: meter.createHistogram("cordon.check.duration", {
    description: "Time to answer one check, decision record written included.",
    unit: "ms",
  }),
  orderChanges: meter.createCounter("cordon.order.changes", { description: "Order changes, by action." }),
  enforcementEvents: meter.createCounter("cordon.enforcement.events", {
    description: "Enforcement events this instance published (exactly once across instances), by type.",
  }),
};
