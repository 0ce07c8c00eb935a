/**
 * The telemetry settings, parsed: which `OTEL_*` variables turn OTLP export on (none by default, unlike
 * the OpenTelemetry Node SDK), the protocol per signal, bad values named without echoing them; the
 * metrics token's shape; and the constant-time token comparison of `GET /metrics`.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/node.js";
import { parseOtelEnv } from "../src/config/otel.js";
import { ConfigError } from "../src/config/parse.js";
import { tokenMatches } from "../src/telemetry/endpoint.js";

const ENDPOINT = "http://collector.internal:4318";

describe("parseOtelEnv", () => {
  it("turns nothing on without OTEL variables, or with only a service name", () => {
    expect(parseOtelEnv({})).toEqual({ traces: undefined, metrics: undefined });
    expect(parseOtelEnv({ OTEL_SERVICE_NAME: "cordon-eu" })).toEqual({
      traces: undefined,
      metrics: undefined,
    });
    expect(parseOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "" })).toEqual({
      traces: undefined,
      metrics: undefined,
    });
  });

  it("turns both signals on with the common endpoint, over http/protobuf by default", () => {
    const plan = parseOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT });
    expect(plan.traces?.protocol).toBe("http/protobuf");
    expect(plan.metrics).toEqual({ protocol: "http/protobuf", intervalMs: 60_000, timeoutMs: 30_000 });
  });

  it("turns one signal on with its own endpoint or exporter, and honours none", () => {
    const traces = parseOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${ENDPOINT}/v1/traces` });
    expect([Boolean(traces.traces), Boolean(traces.metrics)]).toEqual([true, false]);
    const metrics = parseOtelEnv({ OTEL_METRICS_EXPORTER: "otlp" });
    expect([Boolean(metrics.traces), Boolean(metrics.metrics)]).toEqual([false, true]);
    const none = parseOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_TRACES_EXPORTER: "none" });
    expect([Boolean(none.traces), Boolean(none.metrics)]).toEqual([false, true]);
  });

  it("takes the protocol per signal, the export interval and the span batching", () => {
    const plan = parseOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf",
      OTEL_METRIC_EXPORT_INTERVAL: "10000",
      OTEL_METRIC_EXPORT_TIMEOUT: "20000",
      OTEL_BSP_SCHEDULE_DELAY: "250",
      OTEL_BSP_MAX_QUEUE_SIZE: "100",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "500",
    });
    expect(plan.traces).toEqual({
      protocol: "http/json",
      batch: {
        scheduledDelayMillis: 250,
        exportTimeoutMillis: undefined,
        maxQueueSize: 100,
        maxExportBatchSize: 100,
      },
    });
    expect(plan.metrics).toEqual({ protocol: "http/protobuf", intervalMs: 10_000, timeoutMs: 10_000 });
  });

  it("turns everything off with OTEL_SDK_DISABLED=true", () => {
    expect(
      parseOtelEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_SDK_DISABLED: "TRUE",
      }),
    ).toEqual({ traces: undefined, metrics: undefined });
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported"],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "thrift" }, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL:"],
    [{ OTEL_TRACES_EXPORTER: "zipkin" }, "OTEL_TRACES_EXPORTER: must be otlp or none"],
    [{ OTEL_METRICS_EXPORTER: "prometheus" }, "set CORDON_METRICS_TOKEN and scrape GET /metrics"],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" },
      "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL",
    ],
    [{ OTEL_METRIC_EXPORT_INTERVAL: "soon" }, "OTEL_METRIC_EXPORT_INTERVAL:"],
    [{ OTEL_SDK_DISABLED: "yes" }, "OTEL_SDK_DISABLED: must be true or false"],
  ])("refuses %o, naming the variable", (env, message) => {
    expect(() => parseOtelEnv(env)).toThrow(ConfigError);
    expect(() => parseOtelEnv(env)).toThrow(message);
  });
});

describe("CORDON_METRICS_TOKEN", () => {
  it("is optional and taken as given", () => {
    expect(parseConfig({}).CORDON_METRICS_TOKEN).toBeUndefined();
    expect(parseConfig({ CORDON_METRICS_TOKEN: "0123456789abcdef" }).CORDON_METRICS_TOKEN).toBe(
      "0123456789abcdef",
    );
  });

  it.each(["too-short-token", "has a space in it, long enough"])("refuses %j without echoing it", (value) => {
    let message = "";
    try {
      parseConfig({ CORDON_METRICS_TOKEN: value });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("CORDON_METRICS_TOKEN: must be at least 16 characters, without spaces");
    expect(message).not.toContain(value);
  });

  it("is refused beside several worker processes, which would each answer a scrape alone", () => {
    expect(() => parseConfig({ CORDON_METRICS_TOKEN: "0123456789abcdef", CORDON_WORKERS: "4" })).toThrow(
      /CORDON_METRICS_TOKEN: GET \/metrics would show one worker's counts per scrape with CORDON_WORKERS > 1; export over OTLP/,
    );
    expect(
      parseConfig({ CORDON_METRICS_TOKEN: "0123456789abcdef", CORDON_WORKERS: "1" }).CORDON_WORKERS,
    ).toBe(1);
  });
});

describe("tokenMatches", () => {
  it("matches the token alone", () => {
    const token = "scrape-token-0123456789";
    expect(tokenMatches(token, token)).toBe(true);
    for (const other of [
      "",
      "s",
      token.slice(0, -1),
      `${token}9`,
      token.toUpperCase(),
      `x${token.slice(1)}`,
    ]) {
      expect(tokenMatches(other, token), other).toBe(false);
    }
    // A sent value that repeats the token's prefix cyclically must not match either.
    expect(tokenMatches("scrape", "scrapescrape")).toBe(false);
  });
});
