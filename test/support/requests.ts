/**
 * How in-process callers (the Node route harness, the workerd check-route target) turn a call into a
 * request and its response into a result: the caller's bearer token, a JSON body with its content type,
 * and the answer read back as JSON where it is JSON. Imports nothing of either runtime.
 */

export interface RequestOptions {
  /** Sent as JSON (with Content-Type: application/json unless `headers` names one). */
  body?: unknown;
  /** Sent as is. */
  raw?: string;
  headers?: Record<string, string>;
}

/** The request for `method` with `secret` as the bearer token (none when undefined). */
export function requestInit(
  method: string,
  secret: string | undefined,
  opts: RequestOptions = {},
): { method: string; headers: Record<string, string>; body?: string } {
  const headers: Record<string, string> = { ...opts.headers };
  if (secret !== undefined) headers.authorization = `Bearer ${secret}`;
  const body = opts.body !== undefined ? JSON.stringify(opts.body) : opts.raw;
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  return { method, headers, ...(body === undefined ? {} : { body }) };
}

/** The status, the body (parsed when it is JSON, else its text) and the headers. */
export async function readResult(res: Response): Promise<{ status: number; body: any; headers: Headers }> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}
