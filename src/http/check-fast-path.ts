/**
 * The meeting-join checks in front of the router: `POST /v1/check` and `POST /v1/check/batch` answered
 * on the web-standard `Request` without Hono's middleware chain, context and validator, which cost
 * more CPU than a check's own work (bench/README.md). It answers only what it can answer exactly as
 * the routes would: a JSON body within the limit, from a principal that may check, that the zod
 * schema would accept (`check-input.ts`). Anything else (415, 413, 401/403/429, 400, other methods
 * and paths) goes to the general router untouched, or with the body it has read put back, so every
 * error, envelope and rate limit is the router's own. The routes in `routes/v1-check*.ts` stay the
 * source of the OpenAPI document and share the answering (`answerCheck`, `answerBatch`).
 */
import { mayAccess } from "../kernel/roles.js";
import { readBatchRequest, readCheckRequest } from "./check-input.js";
import { bearerSecret } from "./middleware.js";
import { answerCheck, type CheckVariant } from "./routes/v1-check.js";
import { answerBatch, BATCH_PATH } from "./routes/v1-check-batch.js";
import type { App, CheckServices } from "./services.js";

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

/**
 * Puts the fast path in front of `app.fetch` (and so of `app.request`). Installed last, once the app
 * has every route.
 */
export function frontWithCheckFastPath(app: App, o: CheckFastPathOptions): void {
  const general = app.fetch;
  const { services: s } = o;

  const answer = (status: number, body: unknown, requestId: string) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", "cache-control": "no-store", "x-request-id": requestId },
    });

  const serve = async (
    request: Request,
    env: unknown,
    ctx: unknown,
    batch: boolean,
    limit: number,
    requestId: string,
  ): Promise<Response> => {
    const read = await readBounded(request, limit);
    // Over the limit while streaming: the router counts it again and answers as it always does.
    if (typeof read !== "string") return general(rebuilt(request, read), env as never, ctx as never);
    let body: unknown;
    try {
      body = JSON.parse(read);
    } catch {
      return general(rebuilt(request, read), env as never, ctx as never);
    }
    const input = batch ? readBatchRequest(body) : readCheckRequest(body);
    // Not what the schema accepts: the schema says why, with its issue paths.
    if (input === undefined) return general(rebuilt(request, read), env as never, ctx as never);
    const language = request.headers.get("accept-language") ?? undefined;
    try {
      const result = batch
        ? await answerBatch(s, o.variant, input as Exclude<typeof input, Record<string, unknown>>, language)
        : await answerCheck(s, o.variant, input as Exclude<typeof input, unknown[]>, language);
      return answer(200, result, requestId);
    } catch (err) {
      const { status, body: envelope } = o.errorAnswer(
        err instanceof Error ? err : new Error(String(err)),
        requestId,
      );
      return answer(status, envelope, requestId);
    }
  };

  app.fetch = (request, env, ctx) => {
    if (request.method !== "POST") return general(request, env, ctx);
    const url = request.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    const batch = path === BATCH_PATH;
    if (!batch && path !== CHECK_PATH) return general(request, env, ctx);
    const headers = request.headers;
    // The router's order of refusals, first to last: 415, 413 (by Content-Length), 401/403.
    const type = headers.get("content-type");
    if (type === null || !PLAIN_JSON.test(type)) return general(request, env, ctx);
    const limit = batch ? o.batchLimit : o.checkLimit;
    const length = headers.get("content-length");
    if (length !== null) {
      const bytes = Number(length);
      if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > limit || length.trim() === "")
        return general(request, env, ctx);
    }
    const secret = bearerSecret(headers.get("authorization") ?? undefined);
    const principal = secret === undefined ? null : s.auth.authenticate(secret);
    if (principal === null || !mayAccess(principal, "check")) return general(request, env, ctx);
    // As hono's requestId middleware: the caller's id when it is short and plain, else a new one.
    let requestId = headers.get("x-request-id");
    if (!requestId || requestId.length > 255 || REQUEST_ID.test(requestId)) requestId = crypto.randomUUID();
    return serve(request, env, ctx, batch, limit, requestId);
  };
}

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
