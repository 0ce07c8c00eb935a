/**
 * The checks' fast path (`http/routes/check-fast-path.ts`) on Node's own request and response, ahead of
 * @hono/node-server's adapter: a check it takes is read from the IncomingMessage and written to the
 * ServerResponse without a web Request or Response in between. It takes only a body with a stated
 * Content-Length; anything it does not take goes to the adapter untouched (before the body is read),
 * or, once the body is read and the schema has more to say, to the app's `fetch` with the body put back.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { CheckFastPath, FastAnswer } from "../../http/routes/check-fast-path.js";

type Fetch = (
  request: Request,
  env: { incoming: IncomingMessage; outgoing: ServerResponse },
) => Response | Promise<Response>;

/** As `Headers.get`: case-insensitive, repeated fields joined with ", ". */
function rawHeader(raw: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).length === name.length && (raw[i] as string).toLowerCase() === name) {
      found = found === undefined ? (raw[i + 1] as string) : `${found}, ${raw[i + 1]}`;
    }
  }
  return found;
}

/** Stateless (no `stream` option), so one serves every request. */
const utf8 = new TextDecoder();

export function nodeCheckFront(fast: CheckFastPath, fetch: Fetch, adapter: RequestListener): RequestListener {
  return (req, res) => {
    const url = req.url;
    if (url !== "/v1/check" && url !== "/v1/check/batch") return adapter(req, res);
    const raw = req.rawHeaders;
    const admitted = fast.admit(req.method ?? "", url, (name) => rawHeader(raw, name));
    // A chunked body is counted while it streams: the adapter's path does that. (The raw headers, not
    // `req.headers`, which Node would build as an object for this one field.)
    if (admitted === undefined || rawHeader(raw, "content-length") === undefined) return adapter(req, res);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => res.destroy());
    req.on("end", () => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      // TextDecoder as `Request.text()` decodes: a byte-order mark dropped, bad bytes replaced.
      const answered = fast.answer(admitted, utf8.decode(body));
      const done = answered ?? viaFetch(req, res, body, fetch);
      done.then(
        (answer) => write(res, answer),
        () => res.destroy(),
      );
    });
  };
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
