/**
 * The Prometheus scrape endpoint's state, set by the Node runtime when CORDON_METRICS_TOKEN is set
 * (`runtime/node/telemetry.ts`) and read by `GET /metrics` (`http/routes/metrics.ts`). Holds no SDK:
 * `scrape` is the runtime's, so the route (and the Worker, which builds the same app module) never
 * loads one.
 */

export interface MetricsEndpoint {
  /** CORDON_METRICS_TOKEN: the bearer token a scraper sends. */
  token: string;
  /** The metrics in the Prometheus text format (the OpenTelemetry Prometheus exporter's collection). */
  scrape(): Promise<string>;
}

let current: MetricsEndpoint | undefined;

/** Serves `GET /metrics` from `endpoint`; undefined turns the endpoint off (404). */
export function serveMetrics(endpoint: MetricsEndpoint | undefined): void {
  current = endpoint;
}

/** The endpoint, or undefined while metrics are off. */
export function metricsEndpoint(): MetricsEndpoint | undefined {
  return current;
}

const encoder = new TextEncoder();

/**
 * Whether `sent` is `expected`, in time independent of where they differ (and of `sent`'s content
 * when the lengths differ): the loop always runs over the expected token's bytes.
 */
export function tokenMatches(sent: string, expected: string): boolean {
  const a = encoder.encode(sent);
  const b = encoder.encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ (b[i] as number);
  return diff === 0;
}
