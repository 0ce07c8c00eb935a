/**
 * The console over plain HTTP requests, no browser: sign in as a form would (the sign-in page's
 * double-submit cookie and the same-origin check), then post forms with the session's CSRF token.
 * `send` is `app.request` in process or `fetch` against a server; `base` is the origin it answers at.
 */
export type Send = (path: string, init: RequestInit) => Promise<Response>;

export interface ConsoleClient {
  cookie: string;
  csrf: string;
  /** A form post with the session's cookie, origin and CSRF token. */
  post(path: string, fields: Record<string, string | string[]>): Promise<Response>;
  get(path: string): Promise<Response>;
}

const cookieOf = (res: Response, name: string): string | undefined =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0] as string)
    .find((c) => c.startsWith(`${name}=`));

export const formBody = (fields: Record<string, string | string[]>): string => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) params.append(k, one);
  return params.toString();
};

/** Posts the sign-in form with `token`; answers the response (303 on success). */
export async function postSignIn(send: Send, base: string, token: string): Promise<Response> {
  const page = await send("/console/sign-in", {});
  const cookie = cookieOf(page, "cordon_sign_in") as string;
  return send("/console/sign-in", {
    method: "POST",
    redirect: "manual",
    headers: {
      origin: base,
      cookie,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: formBody({ csrf: cookie.split("=")[1] as string, lang: "en", token }),
  });
}

export async function signInHttp(send: Send, base: string, token: string): Promise<ConsoleClient> {
  const res = await postSignIn(send, base, token);
  const cookie = cookieOf(res, "cordon_session");
  if (res.status !== 303 || !cookie) throw new Error(`sign-in failed: ${res.status}`);
  const get = (path: string) => send(path, { headers: { cookie }, redirect: "manual" });
  const html = await (await get("/console/orders")).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  return {
    cookie,
    csrf,
    get,
    post: (path, fields) =>
      send(path, {
        method: "POST",
        redirect: "manual",
        headers: { origin: base, cookie, "content-type": "application/x-www-form-urlencoded" },
        body: formBody({ csrf, ...fields }),
      }),
  };
}
