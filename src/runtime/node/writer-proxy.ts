/**
 * A follower hands every request it does not answer itself (all but the checks its fast path takes) to
 * the writer, over the writer's Unix socket: order changes, reports, the console, ingest, the event
 * streams, health, and the checks the router answers (errors, rate limits). The caller's TCP address goes
 * along in `CLIENT_HEADER`, which the writer believes only on that socket (`internalClientAddress`), so
 * failed authentication is counted per client, across workers, in one place.
 */
import { randomUUID } from "node:crypto";
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import type { Context } from "hono";
import type { Logger } from "../../kernel/logger.js";
import { nodeClientAddress } from "./client-address.js";

export const CLIENT_HEADER = "x-cordon-client-address";

/** Hop-by-hop fields (RFC 9110 7.6.1) and ours: never passed on as they came. */
const HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  CLIENT_HEADER,
]);

function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP.has(name)) out[name] = value;
  }
  return out;
}

export interface WriterProxy {
  /** Streams the request to the writer and its answer back (event streams included). */
  pass(req: IncomingMessage, res: ServerResponse): void;
  /** The same for a check whose body the fast path read and did not take: the writer's answer, whole. */
  fetch(request: Request, req: IncomingMessage): Promise<Response>;
  close(): void;
}

export function writerProxy(socketPath: () => string | undefined, logger: Logger): WriterProxy {
  // Long-lived, one per follower: connections to the writer are kept and reused.
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const unavailable = (res: ServerResponse) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { body, headers } = unavailableAnswer();
    res.writeHead(503, { ...headers, "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const headersOf = (req: IncomingMessage) => {
    const headers = forwardHeaders(req.headers);
    const peer = req.socket.remoteAddress;
    if (peer !== undefined) headers[CLIENT_HEADER] = peer;
    return headers;
  };
  return {
    async fetch(incoming, req) {
      const socket = socketPath();
      const body = Buffer.from(await incoming.arrayBuffer());
      if (socket === undefined) return unavailableResponse();
      const headers = { ...headersOf(req), "content-length": String(body.length) };
      return new Promise<Response>((resolve) => {
        const upstream = request(
          { socketPath: socket, agent, method: req.method, path: req.url, headers },
          (answer) => {
            const chunks: Buffer[] = [];
            answer.on("data", (chunk: Buffer) => chunks.push(chunk));
            answer.on("error", () => resolve(unavailableResponse()));
            answer.on("end", () => {
              const out = new Headers();
              for (const [name, value] of Object.entries(answer.headers)) {
                if (value === undefined || HOP.has(name) || name === "content-length") continue;
                for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
              }
              resolve(
                new Response(Buffer.concat(chunks), { status: answer.statusCode ?? 502, headers: out }),
              );
            });
          },
        );
        upstream.on("error", (err) => {
          logger.warn("worker: the writer did not take a request", { error: err.message, path: req.url });
          resolve(unavailableResponse());
        });
        upstream.end(body);
      });
    },
    pass(req, res) {
      const socket = socketPath();
      if (socket === undefined) return unavailable(res);
      const headers = headersOf(req);
      const upstream = request(
        { socketPath: socket, agent, method: req.method, path: req.url, headers },
        (answer) => {
          const out: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value !== undefined && !HOP.has(name)) out[name] = value;
          }
          res.writeHead(answer.statusCode ?? 502, out);
          answer.pipe(res);
          answer.on("error", () => res.destroy());
        },
      );
      upstream.on("error", (err) => {
        logger.warn("worker: the writer did not take a request", { error: err.message, path: req.url });
        unavailable(res);
      });
      // A client that goes away (an event stream closed) ends the writer's side too.
      res.on("close", () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    },
    close() {
      agent.destroy();
    },
  };
}

/** While the writer is down (being replaced): what the router answers when the store is unavailable. */
function unavailableAnswer(): { body: string; headers: Record<string, string> } {
  const requestId = randomUUID();
  return {
    body: JSON.stringify({
      error: { code: "UNAVAILABLE", message: "the store is unavailable; try again", requestId },
    }),
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "x-request-id": requestId,
      "retry-after": "1",
    },
  };
}

function unavailableResponse(): Response {
  const { body, headers } = unavailableAnswer();
  return new Response(body, { status: 503, headers });
}

/** Sockets of the writer's internal server: only on these is `CLIENT_HEADER` believed. */
export const internalSockets = new WeakSet<Socket>();

/** The app's client address in the writer: the follower's word for it on the internal socket. */
export function internalClientAddress(c: Context): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && internalSockets.has(incoming.socket)) {
    const value = incoming.headers[CLIENT_HEADER];
    return typeof value === "string" ? value : undefined;
  }
  return nodeClientAddress(c);
}
