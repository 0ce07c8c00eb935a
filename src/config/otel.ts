/**
 * The standard OpenTelemetry environment variables, as far as Cordon acts on them: which signals go to
 * an OTLP receiver, and over which protocol. Pure and cheap: deciding costs no SDK; the SDK is loaded
 * (`runtime/node/telemetry.ts`) only when a signal is on. The OTLP exporters read the rest of the
 * standard variables themselves (`OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`, `..._COMPRESSION`, the
 * certificates), and the resource detector reads `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
 *
 * A signal is on when its exporter is `otlp` (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`), or is
 * not set and an OTLP endpoint is (`OTEL_EXPORTER_OTLP_ENDPOINT` or the signal's own). Unlike the
 * OpenTelemetry Node SDK, nothing is on by default: no variable, no SDK. `OTEL_SDK_DISABLED=true` turns
 * every OTLP signal off.
 */
import { z } from "zod";
import { parseEnv } from "./parse.js";

export type OtlpProtocol = "http/protobuf" | "http/json";

export interface OtelPlan {
  /** Spans to OTLP, or undefined. */
  traces: { protocol: OtlpProtocol; batch: SpanBatching } | undefined;
  /** Metrics to OTLP every `intervalMs`, or undefined. */
  metrics: { protocol: OtlpProtocol; intervalMs: number; timeoutMs: number } | undefined;
}

/** The batch span processor's settings (`OTEL_BSP_*`); unset ones keep the SDK's defaults. */
export interface SpanBatching {
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  maxQueueSize?: number;
  maxExportBatchSize?: number;
}

const Protocol = z.enum(["http/protobuf", "http/json", "grpc"]).refine((p) => p !== "grpc", {
  message: "grpc is not supported; use http/protobuf (port 4318) or http/json",
});

/** A comma-separated exporter list (`otlp`, `none`), as the specification allows. */
const exporterList = (others: string) =>
  z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    .refine((names) => names.every((n) => n === "otlp" || n === "none"), {
      message: `must be otlp or none (${others})`,
    });

const Endpoint = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });
const Millis = z.coerce.number().int().min(1, "must be a positive number of milliseconds").max(86_400_000);

const OtelEnv = z.object({
  OTEL_SDK_DISABLED: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["true", "false"], { message: "must be true or false" }))
    .optional(),
  OTEL_TRACES_EXPORTER: exporterList("Cordon exports spans over OTLP only").optional(),
  OTEL_METRICS_EXPORTER: exporterList(
    "Cordon exports metrics over OTLP; for Prometheus set CORDON_METRICS_TOKEN and scrape GET /metrics",
  ).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: Endpoint.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Endpoint.optional(),
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: Endpoint.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: Protocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Protocol.optional(),
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: Protocol.optional(),
  OTEL_BSP_SCHEDULE_DELAY: Millis.optional(),
  OTEL_BSP_EXPORT_TIMEOUT: Millis.optional(),
  OTEL_BSP_MAX_QUEUE_SIZE: z.coerce
    .number()
    .int()
    .min(1, "must be a positive count")
    .max(1_000_000)
    .optional(),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1, "must be a positive count")
    .max(1_000_000)
    .optional(),
  OTEL_METRIC_EXPORT_INTERVAL: Millis.default(60_000),
  OTEL_METRIC_EXPORT_TIMEOUT: Millis.default(30_000),
});

/** What the `OTEL_*` variables ask for; a bad value throws a `ConfigError` naming the variable. */
export function parseOtelEnv(env: Record<string, string | undefined>): OtelPlan {
  const e = parseEnv(OtelEnv, env);
  if (e.OTEL_SDK_DISABLED === "true") return { traces: undefined, metrics: undefined };
  const on = (exporters: string[] | undefined, endpoint: string | undefined) =>
    exporters === undefined
      ? endpoint !== undefined || e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined
      : exporters.includes("otlp");
  const protocol = (own: OtlpProtocol | "grpc" | undefined): OtlpProtocol =>
    (own ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf") as OtlpProtocol;
  return {
    traces: on(e.OTEL_TRACES_EXPORTER, e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
      ? {
          protocol: protocol(e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL),
          batch: {
            scheduledDelayMillis: e.OTEL_BSP_SCHEDULE_DELAY,
            exportTimeoutMillis: e.OTEL_BSP_EXPORT_TIMEOUT,
            maxQueueSize: e.OTEL_BSP_MAX_QUEUE_SIZE,
            // The specification: a batch is never larger than the queue.
            maxExportBatchSize:
              e.OTEL_BSP_MAX_EXPORT_BATCH_SIZE === undefined
                ? undefined
                : Math.min(e.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, e.OTEL_BSP_MAX_QUEUE_SIZE ?? 2048),
          },
        }
      : undefined,
    metrics: on(e.OTEL_METRICS_EXPORTER, e.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)
      ? {
          protocol: protocol(e.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL),
          intervalMs: e.OTEL_METRIC_EXPORT_INTERVAL,
          // The specification: the timeout is within the interval.
          timeoutMs: Math.min(e.OTEL_METRIC_EXPORT_TIMEOUT, e.OTEL_METRIC_EXPORT_INTERVAL),
        }
      : undefined,
  };
}
