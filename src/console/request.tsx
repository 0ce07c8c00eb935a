/**
 * What every console page's handlers share: the console's Hono environment (session, language, the
 * posted form), the page context its views read, rendering a page, and `guard`, which admits a
 * signed-in principal whose role has the access (`mayAccess`) and, on POST, the session's CSRF token.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { JSX } from "hono/jsx/jsx-runtime";
import { STRINGS, type Strings } from "../i18n/console.js";
import type { Language } from "../i18n/language.js";
import { CordonError } from "../kernel/errors.js";
import { type Access, mayAccess, type Principal } from "../kernel/roles.js";
import { ErrorPage, type PageContext } from "./layout.js";
import type { FormBody } from "./order-form.js";
import { constantTimeEqual, type Session } from "./session.js";

export interface ConsoleEnv {
  Variables: {
    requestId: string;
    lang: Language;
    session: Session | undefined;
    form: FormBody;
  };
}
export type ConsoleApp = Hono<ConsoleEnv>;
export type C = Context<ConsoleEnv>;
export type PageStatus = 200 | 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503;

export const stringsOf = (c: C): Strings => STRINGS[c.get("lang") ?? "en"];

export function pageContext(c: C, path = c.req.path): PageContext {
  const session = c.get("session");
  const lang = c.get("lang") ?? "en";
  return {
    lang,
    t: STRINGS[lang],
    path,
    principal: session?.principal,
    label: session?.label,
    csrf: session?.csrf,
  };
}

export async function render(c: C, node: JSX.Element, status: PageStatus = 200) {
  return c.html(`<!doctype html>${await node.toString()}`, status);
}

export const showError = (c: C, message: string, status: PageStatus) =>
  render(c, <ErrorPage ctx={pageContext(c)} message={message} />, status);

/** The signed-in principal; only behind `guard`. */
export const principalOf = (c: C): Principal => (c.get("session") as Session).principal;

/** One field of the posted form (behind `guard`), trimmed; the first value of a repeated one. */
export function formField(c: C, key: string): string {
  const v = c.get("form")[key];
  return (Array.isArray(v) ? (v[0] ?? "") : (v ?? "")).trim();
}

/** A signed-in principal whose role has `access`; on POST, also the session's CSRF token. */
export function guard(access: Access): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const session = c.get("session");
    if (!session) return c.redirect("/console/sign-in", 303);
    if (c.req.method === "POST") {
      const form = (await c.req.parseBody({ all: true })) as Record<string, unknown>;
      const body: FormBody = {};
      for (const [k, v] of Object.entries(form)) {
        if (typeof v === "string") body[k] = v;
        else if (Array.isArray(v)) body[k] = v.filter((x): x is string => typeof x === "string");
      }
      const token = typeof body.csrf === "string" ? body.csrf : "";
      if (!constantTimeEqual(token, session.csrf)) return showError(c, stringsOf(c).csrf, 403);
      c.set("form", body);
    }
    if (!mayAccess(session.principal, access)) {
      throw new CordonError("FORBIDDEN", `role ${session.principal.role} may not ${access}`);
    }
    await next();
  };
}

export function cookieOptions(c: C, maxAgeSeconds: number) {
  const https = new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
  return {
    httpOnly: true,
    sameSite: "Strict" as const,
    path: "/console",
    secure: https,
    maxAge: Math.floor(maxAgeSeconds),
  };
}
