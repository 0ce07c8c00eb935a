/**
 * The OpenTelemetry SDK on Node, when an operator asks for it: spans and metrics to an OTLP receiver
 * (the standard `OTEL_*` variables, `config/otel.ts`), and the Prometheus scrape endpoint `GET /metrics`
 * (CORDON_METRICS_TOKEN). Asked for nothing, it loads nothing: the SDK packages are imported here,
 * dynamically, only for a signal that is on, so the check path and the start pay nothing for them.
 *
 * It must run before Cordon's other modules load (the entry imports them after it): most instruments
 * are created at module load, and one created before a meter provider is registered stays a no-op.
 */
import { randomUUID } from "node:crypto";
import { DiagLogLevel, diag, metrics, trace } from "@opentelemetry/api";
import type { Config } from "../../config/node.js";
import { type OtlpProtocol, parseOtelEnv } from "../../config/otel.js";
import type { Logger } from "../../kernel/logger.js";
import { VERSION } from "../../kernel/version.js";
import { serveMetrics } from "../../telemetry/endpoint.js";

export interface Telemetry {
  /** Which parts are on, for the start's log line. */
  readonly on: { traces: boolean; metrics: boolean; prometheus: boolean };
  /** Flushes what is buffered and stops the exporters; nothing to do when nothing is on. */
  shutdown(): Promise<void>;
}

const NOTHING: Telemetry = {
  on: { traces: false, metrics: false, prometheus: false },
  shutdown: async () => {},
};

/** How long a stop waits for the last spans and metrics to be sent. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

/**
 * Starts what the environment asks for. A bad `OTEL_*` value throws a `ConfigError` naming it (the
 * entry prints it and exits 2). Export failures later are logged as warnings, never thrown.
 */
export async function startTelemetry(
  config: Pick<Config, "CORDON_METRICS_TOKEN">,
  env: Record<string, string | undefined>,
  logger: Logger,
): Promise<Telemetry> {
  const plan = parseOtelEnv(env);
  const prometheus = config.CORDON_METRICS_TOKEN !== undefined;
  if (!plan.traces && !plan.metrics && !prometheus) return NOTHING;

  // Exporter trouble (a receiver down, a refused request) reaches the operator's log, not stderr.
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn("telemetry", { error: diagText(message, args) }),
      warn: (message, ...args) => logger.warn("telemetry", { error: diagText(message, args) }),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const { resourceFromAttributes, detectResources, envDetector } = await import("@opentelemetry/resources");
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) win over these defaults.
  const resource = resourceFromAttributes({
    "service.name": "cordon",
    "service.version": VERSION,
    "service.instance.id": randomUUID(),
  }).merge(detectResources({ detectors: [envDetector] }));

  const stops: (() => Promise<void>)[] = [];
  if (plan.traces) {
    const { TracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace");
    const exporter = await spanExporter(plan.traces.protocol);
    const provider = new TracerProvider({
      resource,
      spanProcessors: [new BatchSpanProcessor({ exporter, ...defined(plan.traces.batch) })],
    });
    trace.setGlobalTracerProvider(provider);
    stops.push(() => provider.shutdown());
  }

  if (plan.metrics || prometheus) {
    const sdk = await import("@opentelemetry/sdk-metrics");
    const readers: import("@opentelemetry/sdk-metrics").IMetricReader[] = [];
    if (plan.metrics) {
      readers.push(
        new sdk.PeriodicExportingMetricReader({
          exporter: await metricExporter(plan.metrics.protocol),
          exportIntervalMillis: plan.metrics.intervalMs,
          exportTimeoutMillis: plan.metrics.timeoutMs,
        }),
      );
    }
    if (config.CORDON_METRICS_TOKEN !== undefined) {
      const { PrometheusExporter, PrometheusSerializer } = await import("@opentelemetry/exporter-prometheus");
      // Its own HTTP server stays off: Cordon's app serves GET /metrics, behind the token.
      const reader = new PrometheusExporter({ preventServerStart: true });
      const serializer = new PrometheusSerializer();
      readers.push(reader);
      serveMetrics({
        token: config.CORDON_METRICS_TOKEN,
        // What the exporter's own request handler does (collect, then serialize), for a web Response.
        scrape: async () => {
          const { resourceMetrics, errors } = await reader.collect();
          for (const error of errors) logger.warn("telemetry: metrics collection", { error: String(error) });
          return serializer.serialize(resourceMetrics);
        },
      });
      stops.push(async () => serveMetrics(undefined));
    }
    const provider = new sdk.MeterProvider({ resource, readers });
    metrics.setGlobalMeterProvider(provider);
    stops.push(() => provider.shutdown());
  }

  const on = { traces: Boolean(plan.traces), metrics: Boolean(plan.metrics), prometheus };
  logger.info("telemetry on", {
    traces: plan.traces?.protocol ?? "off",
    metrics: plan.metrics?.protocol ?? "off",
    prometheus: prometheus ? "GET /metrics" : "off",
  });
  return {
    on,
    async shutdown() {
      const all = Promise.allSettled(stops.map((stop) => stop()));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn("telemetry: exporters did not finish within the stop timeout", {
            timeoutMs: SHUTDOWN_TIMEOUT_MS,
          });
          resolve();
        }, SHUTDOWN_TIMEOUT_MS);
      });
      await Promise.race([all, late]);
      clearTimeout(timer);
    },
  };
}

/** The OTLP span exporter for `protocol`; it reads the endpoint, headers and timeout from the environment. */
async function spanExporter(protocol: OtlpProtocol) {
  if (protocol === "http/json") {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    return new OTLPTraceExporter();
  }
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
  return new OTLPTraceExporter();
}

/** The OTLP metric exporter for `protocol` (temporality: OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE). */
async function metricExporter(protocol: OtlpProtocol) {
  if (protocol === "http/json") {
    const { OTLPMetricExporter } = await import("@opentelemetry/exporter-metrics-otlp-http");
    return new OTLPMetricExporter();
  }
  const { OTLPMetricExporter } = await import("@opentelemetry/exporter-metrics-otlp-proto");
  return new OTLPMetricExporter();
}

/** `o` without its undefined properties (the SDK's defaults stand for them). */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A diagnostic message and its arguments, as one line (errors by their message, not their stack). */
function diagText(message: string, args: unknown[]): string {
  const text = (a: unknown) => {
    if (typeof a === "string") return a;
    const inner = (a as { message?: unknown } | null)?.message;
    return typeof inner === "string" ? inner : JSON.stringify(a);
  };
  return [message, ...args.map(text)].join(" ");
}
