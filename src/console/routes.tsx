/**
 * The response team's console under `/console`: sign-in, orders, a new-order form with preview, the
 * review queue and the check simulator, one module per page in `pages/`. Server-rendered, no scripts.
 * Every change goes through the same `submitOrder` / `changeOrder` as the API, so roles, four eyes (I7)
 * and the audit trail are identical; the page only hides buttons, the server refuses regardless.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { KiB, limitBody } from "../http/middleware.js";
import type { AuthFailures } from "../http/rate-limit.js";
import type { App, ServerServices } from "../http/services.js";
import { isLanguage, pickLanguage } from "../i18n/language.js";
import { CordonError, RateLimitedError } from "../kernel/errors.js";
import { AUDIT_CSS, CONSOLE_CSS } from "./assets.js";
import { pageErrorOf } from "./errors.js";
import type { OidcSignIn } from "./oidc.js";
import { registerAmendments } from "./pages/amendments.js";
import { registerNewOrder } from "./pages/new-order.js";
import { registerOrder } from "./pages/order.js";
import { registerOrders } from "./pages/orders.js";
import { registerReports } from "./pages/reports.js";
import { registerReview } from "./pages/review.js";
import { registerSignIn } from "./pages/sign-in.js";
import { registerSimulate } from "./pages/simulate.js";
import { type ConsoleEnv, showError, stringsOf } from "./request.js";
import { MemorySessionStore, SESSION_COOKIE } from "./session.js";

export const CONSOLE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'";

export function registerConsole(
  app: App,
  s: ServerServices,
  failures: AuthFailures,
  oidc?: OidcSignIn,
): void {
  // Long-lived, one per app: the sessions. The Node entry hands in a store (Redis: any instance serves
  // a session; embedded: a file in the data directory); without one they live in this process.
  const sessions = s.sessions ?? new MemorySessionStore(s.clock);
  const con = new Hono<ConsoleEnv>();

  con.use(async (c, next) => {
    await next();
    // A page's own policy stands: the report's standalone HTML, framed by the report preview, has one
    // for its inline styles that only the console may frame (`REPORT_FRAME_CSP`).
    if (!c.res.headers.has("Content-Security-Policy")) c.header("Content-Security-Policy", CONSOLE_CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    if (!c.res.headers.has("X-Frame-Options")) c.header("X-Frame-Options", "DENY");
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  });

  con.get("/assets/console.css", (c) => {
    c.header("Cache-Control", "public, max-age=3600");
    return c.body(CONSOLE_CSS + AUDIT_CSS, 200, { "Content-Type": "text/css; charset=utf-8" });
  });

  con.use(async (c, next) => {
    const session = await sessions.get(getCookie(c, SESSION_COOKIE));
    const asked = c.req.query("lang");
    const lang = isLanguage(asked) ? asked : undefined;
    if (session && lang && lang !== session.lang) await sessions.setLanguage(session, lang);
    c.set("session", session);
    c.set("lang", lang ?? session?.lang ?? pickLanguage(c.req.header("accept-language")));
    await next();
  });

  // Origin / Sec-Fetch-Site check on every form post, before the per-session token (`guard`).
  con.use(csrf());
  const limit = limitBody(64 * KiB);
  con.use(async (c, next) => (c.req.method === "POST" ? limit(c as never, next) : next()));

  // The pages. The new-order form before the order page, whose `/orders/:id` would match it too.
  registerSignIn(con, s, sessions, failures, oidc);
  registerOrders(con, s);
  registerNewOrder(con, s);
  registerOrder(con, s);
  registerReview(con, s);
  registerSimulate(con, s);
  registerAmendments(con, s);
  registerReports(con, s);

  con.all("*", (c) => showError(c, stringsOf(c).notFound, 404));

  con.onError((err, c) => {
    const t = stringsOf(c);
    if (err instanceof HTTPException && err.status === 403) {
      // hono's csrf(): a form posted from another origin.
      return showError(c, t.csrf, 403);
    }
    if (err instanceof HTTPException && err.status < 500) return showError(c, err.message || t.error, 400);
    const shown = err instanceof CordonError ? pageErrorOf(err, t) : undefined;
    if (err instanceof RateLimitedError) c.header("Retry-After", String(err.retryAfterSeconds));
    if (shown) return showError(c, shown.message, shown.status);
    s.logger.error("console error", { requestId: c.get("requestId"), error: err.message, stack: err.stack });
    const lang = c.get("lang") ?? "en";
    return c.html(
      `<!doctype html><html lang="${lang}"><title>${t.error}</title><p>${t.error}</p></html>`,
      500,
    );
  });

  app.route("/console", con);
}
