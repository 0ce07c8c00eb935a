/**
 * The meeting-join checks in front of the router: `POST /v1/check` and `POST /v1/check/batch` answered
 * on the web-standard `Request` without Hono's middleware chain, context and validator, which cost
 * more CPU than a check's own work (bench/README.md). It answers only what it can answer exactly as
 * the routes would: a JSON body within the limit, from a principal that may check, that the zod
 * schema would accept (`check-input.ts`). Anything else (415, 413, 401/403/429, 400, other methods
 * and paths) goes to the general router untouched, or with the body it has read put back, so every
 * error, envelope and rate limit is the router's own. The routes in `routes/v1-check*.ts` stay the
 * source of the OpenAPI document and share the answering (`checkInto`, `answerBatch`).
 */
import { mayAccess } from "../../kernel/roles.js";
import { randomUuid } from "../../service/uuid.js";
import { bearerSecret } from "../middleware.js";
import type { App, CheckServices } from "../services.js";
import { readBatchRequest, readCheckRequest } from "./check-input.js";
import { type CheckOutcome, type CheckVariant, checkInto } from "./v1-check.js";
import { answerBatch, BATCH_PATH } from "./v1-check-batch.js";

const CHECK_PATH = "/v1/check";
const REQUEST_ID = /[^\w\-=]/;
/**
 * The JSON content types every gate of the router lets through alike (`requireJson`, zod-openapi's
 * media-type gate, hono's json validator); other spellings go to the router, which knows their answer.
 */
const PLAIN_JSON = /^application\/json(;[ \t]*charset=[\w-]+)?$/i;

export interface CheckFastPathOptions {
  services: CheckServices;
  variant: CheckVariant;
  /** The body limits the router applies to the two paths (`limitBody`), bytes. */
  checkLimit: number;
  batchLimit: number;
  /** The app's error answer (`toErrorResponse` in app.ts): a fault while answering a check. */
  errorAnswer: (err: Error, requestId: string) => { status: number; body: unknown };
}

/** A request the fast path took on its headers alone: what it needs to answer the body. */
export interface Admitted {
  batch: boolean;
  /** The router's body limit for the path, bytes. */
  limit: number;
  requestId: string;
  language: string | undefined;
}

/** An answer of the fast path: a JSON body with the router's headers. */
export interface FastAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/**
 * Where the fast path hands an answer: its status, its JSON body and the request id, for headers as
 * `answerHeaders` or `answerHeaderPairs` name them. With the front's own `sink`, so that a front need not
 * make a closure or a promise per request.
 */
export type Deliver<T> = (sink: T, status: number, body: string, requestId: string) => void;

/** The headers of every answer of the fast path: the router's for a JSON answer. */
export function answerHeaders(requestId: string): Record<string, string> {
  return { "content-type": "application/json", "cache-control": "no-store", "x-request-id": requestId };
}

/**
 * `answerHeaders` as name-value pairs for Node's `writeHead`, in the same order, and the body's length.
 * One array, filled in for each answer: `writeHead` reads it at once and keeps none of it.
 */
const PAIRS: (string | number)[] = [
  "content-type",
  "application/json",
  "cache-control",
  "no-store",
  "x-request-id",
  "",
  "content-length",
  0,
];
export function answerHeaderPairs(requestId: string, contentLength: number): (string | number)[] {
  PAIRS[5] = requestId;
  PAIRS[7] = contentLength;
  return PAIRS;
}

/**
 * The fast path's two steps, for any front: the web-standard one here (`app.fetch`, both runtimes) and
 * Node's over the raw request (`runtime/node/check-front.ts`). Each step's `undefined` or `false`
 * means: the router answers this one.
 */
export interface CheckFastPath {
  /**
   * By method, path and headers, before any body is read; `header(headers, name)` reads one field of
   * the front's own headers (as `Headers.get`).
   */
  admit<H>(
    method: string,
    path: string,
    headers: H,
    header: (headers: H, name: string) => string | undefined,
  ): Admitted | undefined;
  /**
   * The body read (within the limit): true once the fast path has taken it, and the answer goes to
   * `deliver` (after the record is written); false where the schema has more to say.
   */
  respond<T>(admitted: Admitted, text: string, sink: T, deliver: Deliver<T>): boolean;
}

/** What a check hands its outcome to on the fast path: the front's sink and delivery, and its request. */
interface Pending<T> {
  sink: T;
  deliver: Deliver<T>;
  requestId: string;
}

export function checkFastPath(o: CheckFastPathOptions): CheckFastPath {
  const { services: s } = o;
  const failed = <T>(p: Pending<T>, err: unknown) => {
    const fault = o.errorAnswer(err instanceof Error ? err : new Error(String(err)), p.requestId);
    p.deliver(p.sink, fault.status, JSON.stringify(fault.body), p.requestId);
  };
  const outcome: CheckOutcome<Pending<unknown>> = {
    decided: (p, decision) => p.deliver(p.sink, 200, JSON.stringify(decision), p.requestId),
    failed,
  };
  return {
    admit(method, path, headers, header) {
      if (method !== "POST") return undefined;
      const batch = path === BATCH_PATH;
      if (!batch && path !== CHECK_PATH) return undefined;
      // The router's order of refusals, first to last: 415, 413 (by Content-Length), 401/403.
      const type = header(headers, "content-type");
      if (type === undefined || !PLAIN_JSON.test(type)) return undefined;
      const limit = batch ? o.batchLimit : o.checkLimit;
      const length = header(headers, "content-length");
      if (length !== undefined) {
        const bytes = Number(length);
        if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > limit || length.trim() === "")
          return undefined;
      }
      const secret = bearerSecret(header(headers, "authorization"));
      const principal = secret === undefined ? null : s.auth.authenticate(secret);
      if (principal === null || !mayAccess(principal, "check")) return undefined;
      // As hono's requestId middleware: the caller's id when it is short and plain, else a new one.
      let requestId = header(headers, "x-request-id");
      if (!requestId || requestId.length > 255 || REQUEST_ID.test(requestId)) requestId = randomUuid();
      return { batch, limit, requestId, language: header(headers, "accept-language") };
    },
    respond(admitted, text, sink, deliver) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return false;
      }
      const input = admitted.batch ? readBatchRequest(body) : readCheckRequest(body);
      // Not what the schema accepts: the schema says why, with its issue paths.
      if (input === undefined) return false;
      const pending = { sink, deliver, requestId: admitted.requestId };
      if (!Array.isArray(input)) {
        checkInto(s, o.variant, input, admitted.language, pending, outcome as CheckOutcome<typeof pending>);
        return true;
      }
      answerBatch(s, o.variant, input, admitted.language).then(
        (result) => deliver(sink, 200, JSON.stringify(result), admitted.requestId),
        (err) => failed(pending, err),
      );
      return true;
    },
  };
}

const fastPaths = new WeakMap<App, CheckFastPath>();

/** The fast path in front of an app's `fetch`, for a runtime that can put it before its own adapter. */
export function checkFastPathOf(app: App): CheckFastPath | undefined {
  return fastPaths.get(app);
}

/**
 * Puts the fast path in front of `app.fetch` (and so of `app.request`). Installed last, once the app
 * has every route.
 */
export function frontWithCheckFastPath(app: App, o: CheckFastPathOptions): void {
  const general = app.fetch;
  const fast = checkFastPath(o);
  fastPaths.set(app, fast);

  const serve = async (
    request: Request,
    env: unknown,
    ctx: unknown,
    admitted: Admitted,
  ): Promise<Response> => {
    const read = await readBounded(request, admitted.limit);
    // Over the limit while streaming: the router counts it again and answers as it always does.
    if (typeof read !== "string") return general(rebuilt(request, read), env as never, ctx as never);
    let answer: (response: Response) => void = () => undefined;
    const answered = new Promise<Response>((resolve) => {
      answer = resolve;
    });
    if (!fast.respond(admitted, read, answer, toResponse))
      return general(rebuilt(request, read), env as never, ctx as never);
    return answered;
  };

  app.fetch = (request, env, ctx) => {
    const url = request.url;
    const path = request.method === "POST" ? url.slice(url.indexOf("/", url.indexOf("//") + 2)) : "";
    const admitted = fast.admit(request.method, path, request.headers, webHeader);
    return admitted === undefined ? general(request, env, ctx) : serve(request, env, ctx, admitted);
  };
}

const webHeader = (headers: Headers, name: string) => headers.get(name) ?? undefined;

const toResponse: Deliver<(response: Response) => void> = (answer, status, body, requestId) =>
  answer(new Response(body, { status, headers: answerHeaders(requestId) }));

/**
 * The body as text when it is at most `limit` bytes; otherwise a stream of the bytes read so far and
 * then the rest, for the router to count and refuse. A stated Content-Length was judged already (the
 * HTTP parser delivers no more than it says); a body without one is counted as it streams.
 */
async function readBounded(request: Request, limit: number): Promise<string | ReadableStream<Uint8Array>> {
  if (request.headers.get("content-length") !== null || request.body === null) return request.text();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) return replay(chunks, reader);
  }
  reader.releaseLock();
  return new TextDecoder().decode(concat(chunks, size));
}

/** The chunks already read, then whatever the reader still has, read only as it is asked for. */
function replay(
  chunks: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = chunks.shift();
      if (chunk !== undefined) return controller.enqueue(chunk);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** The same request with the body already read put back, for the router. */
function rebuilt(request: Request, body: string | ReadableStream<Uint8Array>): Request {
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body,
    // A stream body must say so (Node's fetch); a string ignores it.
    duplex: "half",
  } as RequestInit);
}
