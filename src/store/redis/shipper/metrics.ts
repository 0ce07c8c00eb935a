/** The shipper's OpenTelemetry instruments, made once per process and shared by its parts. */
import { metrics } from "@opentelemetry/api";

const meter = metrics.getMeter("cordon");

export const instruments = {
  shipped: meter.createCounter("cordon.decisions.shipped", {
    description: "Decision records added to the Redis stream.",
  }),
  skipped: meter.createCounter("cordon.decisions.duplicates_skipped", {
    description: "Records not re-sent because the stream already held their decisionId.",
  }),
  backlog: meter.createObservableGauge("cordon.decisions.backlog", {
    description: "Decision records in the local outbox not yet in the Redis stream.",
  }),
  redisErrors: meter.createCounter("cordon.redis.errors", {
    description: "Failed Redis commands and connection errors, by component.",
  }),
  dataLoss: meter.createCounter("cordon.redis.data_loss", {
    description: "Times Redis was found without data it had acknowledged.",
  }),
  pruned: meter.createCounter("cordon.outbox.pruned_bytes", {
    description: "Bytes of shipped decision outbox segments deleted after the retention.",
    unit: "By",
  }),
};
