/**
 * A fake MaxMind GeoIP2 web service on a real local HTTP server, shared by the web-service geo tests:
 * `GET /geoip/v2.1/{city|country|insights}/{ip}` with Basic auth (account id : licence key, checked
 * before anything else, as the real service does), JSON bodies shaped like the real service's, and its
 * errors with their real statuses, codes and content type. Every request is logged (billed queries are
 * counted with `requestsFor`); `replies` overrides the answer for one address; `places` is what it knows.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { PLACES } from "./fixtures.js";

export const ACCOUNT_ID = "424242";
export const LICENSE_KEY = "fake_licence_key_Zq81xWv0";

export interface Place {
  country: string;
  /** The part after the dash, as the service sends `iso_code`. */
  subdivisions: string[];
}

/** A special reply for one address; everything else is answered as the real service would. */
export type Reply =
  | { status: number; body: unknown; delayMs?: number; headers?: Record<string, string> }
  | { raw: string; status?: number; contentType?: string }
  | { stallBody: true }
  /** Takes the request and never answers it (the fake's `close` ends the connection). */
  | { hang: true }
  | { destroy: true };

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
}

/** A fixture place as the service knows it: `GB-KEN` is sent as `KEN` under country `GB`. */
function known(place: { country: string; subdivisions: readonly string[] }): Place {
  return {
    country: place.country,
    subdivisions: place.subdivisions.map((s) => s.slice(place.country.length + 1)),
  };
}

/** What the fake knows by default: the fixture's places (so the whole suite agrees on where an address is). */
function defaultPlaces(): [string, Place][] {
  return [PLACES.mumbai, PLACES.kent, PLACES.moscowV6, PLACES.california].map((p) => [p.ip, known(p)]);
}

export class FakeMaxmind {
  /** Every request received, authenticated or not, in order. */
  readonly requests: SeenRequest[] = [];
  /** Address -> special reply (errors, odd bodies, delays, stalls, resets). */
  readonly replies = new Map<string, Reply>();
  /** Address -> where the service places it; tests change it to tell old answers from new. */
  readonly places = new Map<string, Place>(defaultPlaces());
  /** Delay every answer (coalescing tests). */
  delayMs = 0;
  baseUrl = "";
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** Back to the default places, with no requests, special replies or delay. */
  reset(): void {
    this.places.clear();
    for (const [ip, place] of defaultPlaces()) this.places.set(ip, place);
    this.replies.clear();
    this.requests.length = 0;
    this.delayMs = 0;
  }

  async start(): Promise<void> {
    this.#server.listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("no address");
    this.baseUrl = `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    // Stalled and delayed replies hold sockets open; the server must not wait for them.
    this.#server.closeAllConnections();
    await new Promise<void>((done) => this.#server.close(() => done()));
  }

  /** How many requests asked about `ip`. */
  requestsFor(ip: string): number {
    return this.requests.filter((r) => r.path.endsWith(`/${ip}`)).length;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "";
    this.requests.push({ method: req.method ?? "", path, headers: req.headers });
    const route = /^\/geoip\/v2\.1\/(city|country|insights)\/([^/?]+)$/.exec(path);
    if (req.method !== "GET" || route === null) {
      return send(res, 404, { code: "PATH_NOT_FOUND", error: `The path ${path} is not valid` });
    }
    const [, endpoint, ip] = route as unknown as [string, string, string];
    // The real service checks credentials before anything else.
    const auth = req.headers.authorization;
    if (auth === undefined) {
      return send(res, 401, { code: "ACCOUNT_ID_REQUIRED", error: "You have not supplied an account ID." });
    }
    if (auth !== `Basic ${Buffer.from(`${ACCOUNT_ID}:${LICENSE_KEY}`).toString("base64")}`) {
      return send(res, 401, {
        code: "AUTHORIZATION_INVALID",
        error: "Your account ID or license key could not be authenticated.",
      });
    }
    if (this.delayMs > 0) await sleep(this.delayMs);
    const special = this.replies.get(ip);
    if (special !== undefined) return reply(res, special);
    const place = this.places.get(ip);
    if (place === undefined) {
      return send(res, 404, {
        code: "IP_ADDRESS_NOT_FOUND",
        error: `The value ${ip} is not in the database.`,
      });
    }
    send(
      res,
      200,
      answerBody(ip, place, endpoint === "city"),
      `application/vnd.maxmind.com-${endpoint}+json; charset=UTF-8; version=2.1`,
    );
  }
}

/** A body like the real service's: names in several languages, registered country, traits, maxmind. */
function answerBody(ip: string, place: Place, city: boolean): Record<string, unknown> {
  const names = (en: string) => ({ de: en, en, fr: en, ja: en, ru: en });
  const country = { geoname_id: 2635167, iso_code: place.country, names: names(`Country ${place.country}`) };
  return {
    continent: { code: "EU", geoname_id: 6255148, names: names("Europe") },
    country,
    registered_country: { ...country, iso_code: "DE", names: names("Germany") },
    ...(city
      ? {
          city: { geoname_id: 2643743, names: names("Somewhere") },
          location: { accuracy_radius: 100, latitude: 51.5, longitude: -0.1, time_zone: "Europe/London" },
          subdivisions: place.subdivisions.map((iso_code, i) => ({
            geoname_id: 6269131 + i,
            iso_code,
            names: names(iso_code),
          })),
        }
      : {}),
    traits: { ip_address: ip, network: ip.includes(":") ? `${ip}/64` : `${ip}/24` },
    maxmind: { queries_remaining: 54321 },
  };
}

function send(res: ServerResponse, status: number, body: unknown, contentType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type":
      contentType ??
      (status < 400
        ? "application/json"
        : "application/vnd.maxmind.com-error+json; charset=UTF-8; version=2.0"),
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function reply(res: ServerResponse, r: Reply): Promise<void> {
  if ("destroy" in r) {
    res.socket?.destroy();
    return;
  }
  if ("hang" in r) return;
  if ("stallBody" in r) {
    // Headers promise a body that never comes.
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": "1000" });
    res.write('{"country":');
    return;
  }
  if ("raw" in r) {
    res.writeHead(r.status ?? 200, { "Content-Type": r.contentType ?? "application/json" });
    res.end(r.raw);
    return;
  }
  if (r.delayMs) await sleep(r.delayMs);
  if (res.destroyed) return;
  for (const [name, value] of Object.entries(r.headers ?? {})) res.setHeader(name, value);
  send(res, r.status, r.body);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
