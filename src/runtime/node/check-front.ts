/**
 * The checks' fast path (`http/routes/check-fast-path.ts`) on Node's own request and response, ahead of
 * @hono/node-server's adapter: a check it takes is read from the IncomingMessage and written to the
 * ServerResponse without a web Request or Response in between. It takes only a body with a stated
 * Content-Length; anything it does not take goes to the adapter untouched (before the body is read),
 * or, once the body is read and the schema has more to say, to the app's `fetch` with the body put back.
 * At thousands of checks a second every object made per request is garbage the collector pays for, so
 * a request costs one closure (its body's reader) and no promise of its own.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import {
  type Admitted,
  answerHeaderPairs,
  type CheckFastPath,
  type Deliver,
  type FastAnswer,
} from "../../http/routes/check-fast-path.js";

type Fetch = (
  request: Request,
  env: { incoming: IncomingMessage; outgoing: ServerResponse },
) => Response | Promise<Response>;

/** Whether a header's name, as sent, is `lower` (ASCII letters in any case: a field name is a token). */
function isNamed(field: string, lower: string): boolean {
  if (field.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = field.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** As `Headers.get`: case-insensitive, repeated fields joined with ", ". */
function rawHeader(raw: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (isNamed(raw[i] as string, name)) {
      found = found === undefined ? (raw[i + 1] as string) : `${found}, ${raw[i + 1]}`;
    }
  }
  return found;
}

/** Stateless (no `stream` option), so one serves every request. */
const utf8 = new TextDecoder();

const deliver: Deliver<ServerResponse> = (res, status, body, requestId) => {
  try {
    res.writeHead(status, answerHeaderPairs(requestId, Buffer.byteLength(body)));
    res.end(body);
  } catch {
    // An answer that cannot be written (a response already gone): its connection goes.
    res.destroy();
  }
};

/** A request that fails while its body streams: its connection goes (`res.destroy()` does the same). */
function dropConnection(this: IncomingMessage): void {
  this.socket.destroy();
}

export function nodeCheckFront(fast: CheckFastPath, fetch: Fetch, adapter: RequestListener): RequestListener {
  return (req, res) => {
    const url = req.url;
    if (url !== "/v1/check" && url !== "/v1/check/batch") return adapter(req, res);
    const raw = req.rawHeaders;
    const admitted = fast.admit(req.method ?? "", url, raw, rawHeader);
    // A chunked body is counted while it streams: the adapter's path does that. (The raw headers, not
    // `req.headers`, which Node would build as an object for this one field.)
    if (admitted === undefined || rawHeader(raw, "content-length") === undefined) return adapter(req, res);
    // One reader for the chunks and the end (no chunk): a body of one read is one chunk.
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    const read = (chunk?: Buffer) => {
      if (chunk === undefined) return answer(req, res, admitted, fast, fetch, joined(first, more));
      if (first === undefined) first = chunk;
      else if (more === undefined) more = [first, chunk];
      else more.push(chunk);
    };
    req.on("data", read);
    req.on("error", dropConnection);
    req.on("end", read);
  };
}

function joined(first: Buffer | undefined, more: Buffer[] | undefined): Buffer {
  return more !== undefined ? Buffer.concat(more) : (first ?? Buffer.alloc(0));
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  admitted: Admitted,
  fast: CheckFastPath,
  fetch: Fetch,
  body: Buffer,
): void {
  // TextDecoder as `Request.text()` decodes: a byte-order mark dropped, bad bytes replaced.
  if (fast.respond(admitted, utf8.decode(body), res, deliver)) return;
  viaFetch(req, res, body, fetch).then(
    (answer) => write(res, answer),
    () => res.destroy(),
  );
}

function write(res: ServerResponse, answer: FastAnswer): void {
  res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

/** The router's answer to a body the fast path read but does not take. */
async function viaFetch(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  fetch: Fetch,
): Promise<FastAnswer> {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  const response = await fetch(
    new Request(url, { method: req.method ?? "POST", headers, body: new Uint8Array(body) }),
    {
      incoming: req,
      outgoing: res,
    },
  );
  return {
    status: response.status,
    body: await response.text(),
    headers: headersOf(response),
  };
}

function headersOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}
