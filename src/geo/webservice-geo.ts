/**
 * `WebServiceGeo`: the MaxMind GeoIP2 web service (Country or City endpoint) as a geolocation source.
 * Owns the protocol (URL, Basic auth, JSON bodies, MaxMind's error codes), the mapping of its answers to
 * a `GeoLocation`, in-flight coalescing, and the error accounting (OpenTelemetry counter
 * `cordon.geo.webservice.errors` with `code`, plus `stats()`). Every lookup here is billed, so it is
 * meant to sit behind `RedisGeoCache` (L2) and `CachedGeo` (L1).
 *
 * Speaks the protocol itself over `fetch` rather than through `@maxmind/geoip2-node`'s
 * `WebServiceClient`. That client (6.x) hard-codes `https://${host}` and calls the global `fetch`, so it
 * takes no fetcher and cannot be pointed at a plain-HTTP server; testing it would mean a self-signed
 * certificate trusted process-wide (NODE_EXTRA_CA_CERTS at start, or replacing undici's global
 * dispatcher), i.e. global state in every test. It also builds a full model object per answer, uses
 * Node's `Buffer` (this folder runs in the Worker too), and puts the queried address in its error
 * objects' `url`, which must never reach a log (I6). The protocol is small and stable (v2.1): the
 * request is checked against what `WebServiceClient` sends in test/geo/webservice-geo.test.ts, and the
 * error codes are the ones MaxMind's own clients classify, with the client-side codes
 * (`NETWORK_TIMEOUT`, `FETCH_ERROR`, ...) named as `WebServiceClient` names them.
 *
 * Lifetime: one per process (or isolate), configured once at start.
 */

import { type Attributes, type Counter, metrics } from "@opentelemetry/api";
import type { Logger } from "../kernel/logger.js";
import { geoip2Location } from "./geoip2.js";
import type { Geo, GeoAnswer, GeoInfo } from "./interface.js";
import { isPublicIp } from "./ip.js";

export type WebServiceEndpoint = "city" | "country";

export interface WebServiceGeoOptions {
  /** MaxMind account id (not secret; logged with errors). */
  accountId: string;
  /** MaxMind licence key. Secret: sent only in the Authorization header, never logged. */
  licenseKey: string;
  /** `city` (country and subdivisions) or `country` (countries only, cheaper per query). Default `city`. */
  endpoint?: WebServiceEndpoint;
  /**
   * Scheme and host of the service. Default `https://geoip.maxmind.com` (GeoIP2 Precision);
   * `https://geolite.info` for the GeoLite web service. Tests point it at a local server.
   */
  baseUrl?: string;
  /**
   * Budget of one request (connect, response and body), ms. Default 1000. The join waits on a miss, and
   * past this the check goes on with an unknown location (I2) rather than hold the participant.
   */
  timeoutMs?: number;
  /**
   * Part of `dbVersion`, hence of every L2 cache key: change it (e.g. `"2"`) to make every cached answer
   * unreachable, for instance after MaxMind announces a correction. Default `"1"`.
   */
  generation?: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  logger?: Pick<Logger, "warn" | "error">;
  /** Least time between two log lines for one error code, ms. Default 60 000: a bad key fails every lookup. */
  logIntervalMs?: number;
  /** Clock for the log rate limit; tests pass their own. */
  now?: () => number;
}

export interface WebServiceGeoStats {
  /** Requests sent (coalesced lookups count once). */
  requests: number;
  /** Failed or not-found lookups by code, as counted in `cordon.geo.webservice.errors`. */
  errors: Record<string, number>;
}

/** How an error is handled: not-found is an answer; the rest are failures, never cached. */
type ErrorKind = "not_found" | "auth" | "quota" | "request" | "server" | "transport";

/** MaxMind's own error codes, as its clients classify them. Anything else is counted as `INVALID_REQUEST`. */
const SERVICE_CODES: ReadonlyMap<string, ErrorKind> = new Map([
  ["IP_ADDRESS_NOT_FOUND", "not_found"],
  ["IP_ADDRESS_RESERVED", "not_found"],
  ["ACCOUNT_ID_REQUIRED", "auth"],
  ["ACCOUNT_ID_UNKNOWN", "auth"],
  ["AUTHORIZATION_INVALID", "auth"],
  ["LICENSE_KEY_REQUIRED", "auth"],
  ["USER_ID_REQUIRED", "auth"],
  ["USER_ID_UNKNOWN", "auth"],
  ["PERMISSION_REQUIRED", "auth"],
  ["INSUFFICIENT_FUNDS", "quota"],
  ["OUT_OF_QUERIES", "quota"],
  ["IP_ADDRESS_INVALID", "request"],
  ["IP_ADDRESS_REQUIRED", "request"],
]);

interface Failure {
  code: string;
  kind: ErrorKind;
  status: number | null;
  /** What the service or the transport said, for the log; sanitised before logging. */
  detail: string;
}

const GENERATION = /^[A-Za-z0-9._-]{1,32}$/;
const NO_LOOKUP: GeoAnswer = Object.freeze({ location: null, source: "none", dbVersion: null });
/** A failed lookup: unknown (I2), and without a dbVersion so neither cache keeps it. */
const FAILED: GeoAnswer = Object.freeze({ location: null, source: "webservice", dbVersion: null });

/** Field shapes we read from an answer; anything else (names, traits, maxmind) is ignored. */
interface RawAnswer {
  country?: { iso_code?: unknown };
  subdivisions?: { iso_code?: unknown }[];
}

export class WebServiceGeo implements Geo {
  /** `maxmind-ws:<host>:<endpoint>:<generation>`: the host tells GeoIP2 data from GeoLite data. */
  readonly dbVersion: string;
  readonly #endpoint: WebServiceEndpoint;
  /** Everything up to the address: `https://geoip.maxmind.com/geoip/v2.1/city/`. */
  readonly #urlPrefix: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #accountId: string;
  readonly #licenseKey: string;
  readonly #logger: Pick<Logger, "warn" | "error"> | undefined;
  readonly #logIntervalMs: number;
  readonly #now: () => number;
  readonly #info: GeoInfo;
  readonly #notFound: GeoAnswer;
  readonly #counter: Counter;
  /** One request per address at a time: a webinar's joins from one office share one billed query. */
  readonly #inflight = new Map<string, Promise<GeoAnswer>>();
  readonly #lastLogged = new Map<string, number>();
  readonly #attributes = new Map<string, Attributes>();
  readonly #errors: Record<string, number> = {};
  #requests = 0;

  constructor(options: WebServiceGeoOptions) {
    if (!options.accountId) throw new TypeError("WebServiceGeo: accountId is required");
    if (!options.licenseKey) throw new TypeError("WebServiceGeo: licenseKey is required");
    const endpoint = options.endpoint ?? "city";
    if (endpoint !== "city" && endpoint !== "country") {
      throw new RangeError(`WebServiceGeo: endpoint must be city or country, got ${String(endpoint)}`);
    }
    const generation = options.generation ?? "1";
    if (!GENERATION.test(generation)) {
      throw new RangeError(`WebServiceGeo: generation must match ${GENERATION}, got ${generation}`);
    }
    const timeoutMs = options.timeoutMs ?? 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`WebServiceGeo: timeoutMs must be positive, got ${timeoutMs}`);
    }
    const base = new URL(options.baseUrl ?? "https://geoip.maxmind.com");
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new RangeError(`WebServiceGeo: baseUrl must be http(s), got ${base.protocol}`);
    }
    this.#endpoint = endpoint;
    this.#urlPrefix = `${base.origin}/geoip/v2.1/${endpoint}/`;
    // Account ids and licence keys are ASCII, so btoa (available in Node and Workers) is enough.
    this.#headers = {
      Accept: "application/json",
      Authorization: `Basic ${btoa(`${options.accountId}:${options.licenseKey}`)}`,
      "User-Agent": "cordon-geo",
    };
    this.#timeoutMs = timeoutMs;
    // Called through a wrapper: the Workers runtime rejects `fetch` called as a method of another object.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#accountId = options.accountId;
    this.#licenseKey = options.licenseKey;
    this.#logger = options.logger;
    this.#logIntervalMs = options.logIntervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.dbVersion = `maxmind-ws:${base.host}:${endpoint}:${generation}`;
    this.#notFound = Object.freeze({ location: null, source: "webservice", dbVersion: this.dbVersion });
    this.#info = Object.freeze({
      databaseType: `GeoIP2-${endpoint === "city" ? "City" : "Country"} web service`,
      // The service's data changes continuously and has no build; a start time here would read as the
      // data's age. Cached answers are at most the L2 TTL old.
      buildDate: "n/a",
      subdivisions: endpoint === "city",
      ipVersion: 6,
      source: `${base.origin}/geoip/v2.1/${endpoint}`,
    });
    // Created here, not at module load: an instrument made before an SDK registers stays a no-op.
    this.#counter = metrics.getMeter("cordon").createCounter("cordon.geo.webservice.errors", {
      description: "MaxMind web service lookups that failed or found nothing, by code.",
    });
  }

  /** Never rejects: a failure is an unknown location (I2), and private addresses are never sent. */
  lookup(ip: string): GeoAnswer | Promise<GeoAnswer> {
    // I2 and cost: private and reserved addresses have no location, and asking would be billed.
    if (!isPublicIp(ip)) return NO_LOOKUP;
    let pending = this.#inflight.get(ip);
    if (pending === undefined) {
      pending = this.#request(ip).finally(() => this.#inflight.delete(ip));
      this.#inflight.set(ip, pending);
    }
    return pending;
  }

  info(): GeoInfo {
    return this.#info;
  }

  stats(): WebServiceGeoStats {
    return { requests: this.#requests, errors: { ...this.#errors } };
  }

  async #request(ip: string): Promise<GeoAnswer> {
    this.#requests++;
    const controller = new AbortController();
    // One budget for the whole exchange: a server that sends headers and then stalls the body is as
    // slow as one that never answers.
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    try {
      const response = await this.#fetch(this.#urlPrefix + ip, {
        method: "GET",
        headers: this.#headers,
        signal: controller.signal,
        // The service does not redirect; following one would be trusting whoever sent it.
        redirect: "manual",
      });
      const text = await response.text();
      if (response.ok) {
        const body = parseJson(text);
        if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
          return this.#fail(ip, invalidBody(response.status));
        }
        return this.#answer(body as RawAnswer);
      }
      const failure = classify(response.status, parseJson(text));
      if (failure.kind === "not_found") {
        this.#count(failure.code);
        return this.#notFound;
      }
      return this.#fail(ip, failure);
    } catch (error) {
      // Only our own timer aborts; anything else thrown by fetch is the transport (refused, reset, DNS).
      const failure: Failure = controller.signal.aborted
        ? {
            code: "NETWORK_TIMEOUT",
            kind: "transport",
            status: null,
            detail: `no answer in ${this.#timeoutMs} ms`,
          }
        : { code: "FETCH_ERROR", kind: "transport", status: null, detail: describe(error) };
      return this.#fail(ip, failure);
    } finally {
      clearTimeout(timer);
    }
  }

  #answer(body: RawAnswer): GeoAnswer {
    // No country is an answer too: unknown, and cacheable.
    const location = geoip2Location(
      body.country?.iso_code,
      this.#endpoint === "city" ? body.subdivisions : undefined,
    );
    if (location === null) return this.#notFound;
    return Object.freeze({ location, source: "webservice", dbVersion: this.dbVersion });
  }

  #fail(ip: string, failure: Failure): GeoAnswer {
    this.#count(failure.code);
    this.#log(ip, failure);
    return FAILED;
  }

  #count(code: string): void {
    this.#errors[code] = (this.#errors[code] ?? 0) + 1;
    let attributes = this.#attributes.get(code);
    if (attributes === undefined) {
      attributes = Object.freeze({ code });
      this.#attributes.set(code, attributes);
    }
    this.#counter.add(1, attributes);
  }

  #log(ip: string, failure: Failure): void {
    if (this.#logger === undefined) return;
    // A wrong key or an exhausted account fails every lookup: one line per code per interval.
    const now = this.#now();
    const last = this.#lastLogged.get(failure.code);
    if (last !== undefined && now - last < this.#logIntervalMs) return;
    this.#lastLogged.set(failure.code, now);
    const fields = {
      code: failure.code,
      status: failure.status,
      accountId: this.#accountId,
      source: this.#info.source,
      detail: this.#sanitise(failure.detail, ip),
    };
    // Auth and quota need an operator (a key to fix, queries to buy); the rest usually heals by itself.
    if (failure.kind === "auth" || failure.kind === "quota") {
      this.#logger.error("geo web service refuses lookups; locations are unknown until fixed", fields);
    } else {
      this.#logger.warn("geo web service lookup failed; location unknown", fields);
    }
  }

  /** The service's messages quote the address ("The value 1.2.3.4 is not in the database"): I6. */
  #sanitise(detail: string, ip: string): string {
    return detail.split(ip).join("<ip>").split(this.#licenseKey).join("<licence key>").slice(0, 200);
  }
}

function classify(status: number, body: unknown): Failure {
  if (status >= 500 && status < 600) {
    return { code: "SERVER_ERROR", kind: "server", status, detail: `HTTP ${status}` };
  }
  if (status < 400 || status >= 600) {
    return { code: "HTTP_STATUS_CODE_ERROR", kind: "server", status, detail: `HTTP ${status}` };
  }
  const { code, error } = (body ?? {}) as { code?: unknown; error?: unknown };
  if (typeof code !== "string" || typeof error !== "string") return invalidBody(status);
  const known = SERVICE_CODES.get(code);
  if (known !== undefined) return { code, kind: known, status, detail: error };
  // An unknown code keeps a bounded label; the status still says whether an operator must act.
  const kind: ErrorKind = status === 401 || status === 403 ? "auth" : status === 402 ? "quota" : "request";
  return { code: "INVALID_REQUEST", kind, status, detail: `${code}: ${error}` };
}

function invalidBody(status: number): Failure {
  return { code: "INVALID_RESPONSE_BODY", kind: "server", status, detail: `HTTP ${status}, unreadable body` };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici says "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND...) in `cause`.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.name}: ${error.message}${cause}`;
}
