/**
 * Telemetry an operator can collect, against the real server process: the Prometheus scrape endpoint
 * `GET /metrics` (CORDON_METRICS_TOKEN), spans and metrics to an OTLP receiver started here (the
 * standard `OTEL_*` variables, http/json and http/protobuf), and, with none of it set, no SDK loaded.
 * Each server runs with `otel-load-log.mjs`, which writes a stderr line per SDK module it loads.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import { orderInput } from "../support/harness.js";
import { api, type ServerProcess, startServer, TOKENS } from "../support/server.js";

const METRICS_TOKEN = "scrape-token-7f3a9c2e51b84d06";
const LOAD_LOG = fileURLToPath(new URL("../support/otel-load-log.mjs", import.meta.url));

let dir: string;
let base: Record<string, string>;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-telemetry-"));
  const db = join(dir, "City.mmdb");
  await writeFile(db, cityDatabase());
  base = {
    CORDON_GEOIP_DB: db,
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "telemetry-test-ip-hash-key-0123456789",
    NODE_OPTIONS: `--import ${LOAD_LOG}`,
  };
});
afterAll(async () => {
  for (const s of servers) await s.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

let started = 0;
async function start(env: Record<string, string>): Promise<ServerProcess> {
  const s = await startServer({ ...base, CORDON_DATA_DIR: join(dir, `data-${started++}`), ...env });
  servers.push(s);
  return s;
}

/** SDK modules the process loaded (from `otel-load-log.mjs`). */
const sdkModules = (s: ServerProcess) =>
  s.stderr
    .join("")
    .split("\n")
    .filter((line) => line.startsWith("otel-module-loaded "));

/** A block approved for the fixture meeting, then Mumbai, Mumbai (blocked) and Bengaluru (outside). */
async function checks(s: ServerProcess): Promise<void> {
  const created = await api(s, "POST", "/v1/orders", "responder", orderInput());
  expect(created.status).toBe(201);
  expect((await api(s, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {})).status).toBe(200);
  const codes: string[] = [];
  for (const ip of [PLACES.mumbai.ip, PLACES.mumbai.ip, PLACES.bengaluru.ip]) {
    const res = await api(s, "POST", "/v1/check", "checker", { meetingId: "81234567890", ip });
    expect(res.status).toBe(200);
    codes.push(res.body.code);
  }
  expect(codes).toEqual(["BLOCKED", "BLOCKED", "OUTSIDE_JURISDICTION"]);
}

const scrape = (s: ServerProcess, authorization?: string) =>
  fetch(`${s.url}/metrics`, authorization ? { headers: { authorization } } : {});

describe("GET /metrics with CORDON_METRICS_TOKEN", () => {
  let s: ServerProcess;
  beforeAll(async () => {
    s = await start({ CORDON_METRICS_TOKEN: METRICS_TOKEN });
  }, 60_000);

  it("serves the check counters by code and the check duration histogram in the Prometheus format", async () => {
    await checks(s);
    const res = await scrape(s, `Bearer ${METRICS_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const sample = (name: string, labels: string) =>
      new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, "m").exec(text)?.[1];

    expect(text).toMatch(/^# TYPE cordon_decisions_total counter$/m);
    expect(sample("cordon_decisions_total", 'code="BLOCKED"')).toBe("2");
    expect(sample("cordon_decisions_total", 'code="OUTSIDE_JURISDICTION"')).toBe("1");

    expect(text).toMatch(/^# TYPE cordon_check_duration histogram$/m);
    expect(text).toMatch(/^# UNIT cordon_check_duration s$/m);
    expect(sample("cordon_check_duration_count", "")).toBe("3");
    const buckets = [...text.matchAll(/^cordon_check_duration_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)$/gm)];
    expect(buckets.map((b) => b[1])).toEqual([
      ...["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1"],
      ...["0.25", "0.5", "1", "2.5", "+Inf"],
    ]);
    const counts = buckets.map((b) => Number(b[2]));
    expect(counts).toEqual([...counts].sort((a, b) => a - b)); // cumulative
    expect(counts.at(-1)).toBe(3);
    // The seconds it took, not milliseconds: three local checks take well under a second in all.
    expect(Number(sample("cordon_check_duration_sum", ""))).toBeLessThan(1);

    expect(sample("target_info", 'service_name="cordon"')).toBe("1");
    expect(sdkModules(s).some((line) => line.includes("/exporter-prometheus/"))).toBe(true);
    // Prometheus alone: no OTLP exporter, no tracing SDK.
    expect(sdkModules(s).filter((line) => /otlp|sdk-trace/.test(line))).toEqual([]);
  }, 60_000);

  it("answers 401 with the error envelope without the token or with a wrong one", async () => {
    for (const authorization of [
      undefined,
      "Bearer wrong-token-0000000000",
      `Bearer ${METRICS_TOKEN.slice(0, -1)}x`,
      `Bearer ${METRICS_TOKEN}x`,
      `Basic ${btoa(`metrics:${METRICS_TOKEN}`)}`,
    ]) {
      const res = await scrape(s, authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="metrics"');
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("UNAUTHORIZED");
      expect(body.error.message).toMatch(/CORDON_METRICS_TOKEN/);
      expect(body.error.message).not.toContain(METRICS_TOKEN);
    }
  });

  it("stays out of the OpenAPI document (plain text, not the JSON API)", async () => {
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).length).toBeGreaterThan(5);
    expect(doc.paths["/metrics"]).toBeUndefined();
  });
});

describe("no telemetry settings", () => {
  it("loads no SDK and answers GET /metrics with the 404 envelope", async () => {
    const s = await start({});
    await checks(s);
    const res = await scrape(s, `Bearer ${METRICS_TOKEN}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    expect(sdkModules(s)).toEqual([]);
    expect(s.stderr.join("")).not.toContain('"telemetry on"');
  }, 60_000);
});

describe("configuration errors", () => {
  it.each([
    [{ CORDON_METRICS_TOKEN: "short-secret" }, "CORDON_METRICS_TOKEN: must be at least 16 characters"],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      "OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported",
    ],
  ])(
    "%o stops the start (exit 2) with a message naming the setting",
    async (env, message) => {
      const failed = await start(env).then(
        () => "started",
        (err: Error) => err.message,
      );
      expect(failed).toMatch(/^server exited with 2:/);
      expect(failed).toContain(message);
      expect(failed).not.toContain("short-secret");
      expect(failed).not.toMatch(/\n\s+at /); // no stack trace
    },
    60_000,
  );
});

interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}

/** A small OTLP/HTTP receiver: keeps every request, answers 200 with an empty (success) body. */
async function receiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const contentType = req.headers["content-type"] ?? "";
      received.push({ path: req.url ?? "", contentType, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": contentType });
      res.end(contentType.includes("json") ? "{}" : "");
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type AnyValue = { stringValue?: string; intValue?: number | string };
type KeyValue = { key: string; value: AnyValue };
const attrs = (list: KeyValue[] | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));

describe("OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT)", () => {
  const receivers: Server[] = [];
  afterAll(() => {
    for (const r of receivers) r.close();
  });

  it("sends spans and metrics over http/json to the receiver, named by OTEL_SERVICE_NAME", async () => {
    const otlp = await receiver();
    receivers.push(otlp.server);
    const s = await start({
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "cordon-json-test",
      OTEL_METRIC_EXPORT_INTERVAL: "300",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    await checks(s);

    const json = (path: string) =>
      otlp.received.filter((r) => r.path === path).map((r) => JSON.parse(r.body.toString("utf8")));
    const spans = await until("the three check spans", () => {
      const all = json("/v1/traces").flatMap((body) =>
        body.resourceSpans.flatMap((rs: any) =>
          rs.scopeSpans.flatMap((ss: any) =>
            ss.spans.map((span: any) => ({ ...span, resource: attrs(rs.resource.attributes) })),
          ),
        ),
      );
      const checkSpans = all.filter((span: any) => span.name === "cordon.check");
      return checkSpans.length >= 3 ? checkSpans : undefined;
    });
    expect(spans.map((span: any) => attrs(span.attributes)["cordon.decision.code"])).toEqual([
      "BLOCKED",
      "BLOCKED",
      "OUTSIDE_JURISDICTION",
    ]);
    expect(spans[0].resource["service.name"]).toBe("cordon-json-test");
    expect(otlp.received.find((r) => r.path === "/v1/traces")?.contentType).toBe("application/json");

    // Cumulative metrics, every 300 ms: the latest export holds all three checks.
    const metricsOf = (body: any) =>
      body.resourceMetrics.flatMap((rm: any) =>
        rm.scopeMetrics.flatMap((sm: any) =>
          sm.metrics.map((m: any) => ({ ...m, resource: attrs(rm.resource.attributes) })),
        ),
      );
    const latest = await until("metrics with all three checks", () => {
      const last = json("/v1/metrics").map(metricsOf).at(-1);
      const duration = last?.find((m: any) => m.name === "cordon.check.duration");
      return Number(duration?.histogram.dataPoints[0]?.count) === 3 ? last : undefined;
    });
    const decisions = latest.find((m: any) => m.name === "cordon.decisions");
    expect(decisions.resource["service.name"]).toBe("cordon-json-test");
    expect(decisions.unit).toBe("{decision}");
    expect(
      Object.fromEntries(
        decisions.sum.dataPoints.map((p: any) => [attrs(p.attributes).code, Number(p.asInt ?? p.asDouble)]),
      ),
    ).toEqual({ BLOCKED: 2, OUTSIDE_JURISDICTION: 1 });
    const duration = latest.find((m: any) => m.name === "cordon.check.duration");
    expect(duration.unit).toBe("s");
    expect(duration.histogram.dataPoints[0].explicitBounds).toContain(0.001);
    expect(
      duration.histogram.dataPoints[0].bucketCounts.reduce(
        (a: number, b: number | string) => a + Number(b),
        0,
      ),
    ).toBe(3);
  }, 90_000);

  it("sends spans and metrics over http/protobuf (the default protocol), each signal to its own endpoint", async () => {
    const otlp = await receiver();
    receivers.push(otlp.server);
    const s = await start({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/custom/traces`,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${otlp.url}/custom/metrics`,
      OTEL_SERVICE_NAME: "cordon-proto-test",
      OTEL_METRIC_EXPORT_INTERVAL: "300",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    await checks(s);
    const bytes = (path: string) =>
      Buffer.concat(otlp.received.filter((r) => r.path === path).map((r) => r.body)).toString("latin1");
    // Every check's span: spans go out in batches, and on a busy machine the first may hold only some.
    await until("the checks' spans and metrics", () =>
      bytes("/custom/traces").includes("cordon.check") &&
      bytes("/custom/traces").includes("OUTSIDE_JURISDICTION") &&
      bytes("/custom/metrics").includes("cordon.check.duration") &&
      bytes("/custom/metrics").includes("cordon.decisions")
        ? true
        : undefined,
    );
    for (const path of ["/custom/traces", "/custom/metrics"]) {
      expect(bytes(path)).toContain("cordon-proto-test");
      expect(otlp.received.find((r) => r.path === path)?.contentType).toBe("application/x-protobuf");
    }
    expect(bytes("/custom/traces")).toContain("OUTSIDE_JURISDICTION");
    expect(bytes("/custom/metrics")).toContain("cordon.decisions");
    expect(otlp.received.every((r) => r.path.startsWith("/custom/"))).toBe(true);
    // No Prometheus endpoint unless CORDON_METRICS_TOKEN says so.
    expect((await scrape(s, `Bearer ${METRICS_TOKEN}`)).status).toBe(404);
  }, 90_000);

  it("sends nothing and loads no SDK with OTEL_SDK_DISABLED=true", async () => {
    const otlp = await receiver();
    receivers.push(otlp.server);
    const s = await start({
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_SDK_DISABLED: "true",
      OTEL_METRIC_EXPORT_INTERVAL: "300",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    await checks(s);
    await s.stop(); // a stop would flush whatever an SDK had buffered
    expect(otlp.received).toEqual([]);
    expect(sdkModules(s)).toEqual([]);
  }, 60_000);
});
