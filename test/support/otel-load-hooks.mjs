/**
 * Module hooks (see `otel-load-log.mjs`): writes one stderr line per OpenTelemetry SDK or exporter
 * module the process loads, so a test can tell whether the SDK was loaded at all.
 */
import { writeSync } from "node:fs";

const SDK = /\/@opentelemetry\/(sdk-|exporter-|resources\/)/;

export async function load(url, context, nextLoad) {
  if (SDK.test(url)) writeSync(2, `otel-module-loaded ${url}\n`);
  return nextLoad(url, context);
}
