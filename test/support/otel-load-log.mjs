/**
 * `--import` this (through NODE_OPTIONS) into a server process to log which OpenTelemetry SDK modules it
 * loads (`otel-load-hooks.mjs`): "otel-module-loaded <url>" on stderr, one per module.
 */
import { register } from "node:module";

register("./otel-load-hooks.mjs", import.meta.url);
