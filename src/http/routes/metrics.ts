/**
 * `GET /metrics`: the Prometheus scrape endpoint, on when CORDON_METRICS_TOKEN is set (404 otherwise,
 * as any unknown route). The scraper sends the token as a bearer token (compared in constant time); a
 * missing or wrong one is a 401 envelope. Plain text, not part of the JSON API: kept out of the
 * OpenAPI document.
 */
import { CordonError } from "../../kernel/errors.js";
import { metricsEndpoint, tokenMatches } from "../../telemetry/endpoint.js";
import { bearerSecret } from "../middleware.js";
import type { App } from "../services.js";

export const METRICS_PATH = "/metrics";

/** The Prometheus text exposition format, as the OpenTelemetry exporter writes it. */
const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

export function registerMetrics(app: App): void {
  app.get(METRICS_PATH, async (c) => {
    const endpoint = metricsEndpoint();
    if (!endpoint) throw new CordonError("NOT_FOUND", `no route GET ${METRICS_PATH}`);
    const sent = bearerSecret(c.req.header("authorization"));
    if (sent === undefined || !tokenMatches(sent, endpoint.token)) {
      c.header("WWW-Authenticate", 'Bearer realm="metrics"');
      throw new CordonError(
        "UNAUTHORIZED",
        sent === undefined
          ? "GET /metrics needs Authorization: Bearer <CORDON_METRICS_TOKEN>"
          : "the metrics token is not CORDON_METRICS_TOKEN",
      );
    }
    return c.body(await endpoint.scrape(), 200, { "Content-Type": PROMETHEUS_TEXT });
  });
}
