/**
 * Signing in and out. The bearer token is checked once (`Authenticator`) and never kept: the browser
 * gets an opaque session id. The form has no session yet, so a double-submit cookie guards it against
 * login CSRF. Failed sign-ins are logged and counted (`AuthFailures`); a client over its budget is
 * refused before its token is looked at, so guessing is slowed to the budget's pace.
 */
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AuthFailures } from "../../http/rate-limit.js";
import type { ServerServices } from "../../http/services.js";
import { isLanguage } from "../../i18n/language.js";
import { CordonError } from "../../kernel/errors.js";
import { mayAccess } from "../../kernel/roles.js";
import { Alert, FormField } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import {
  type C,
  type ConsoleApp,
  cookieOptions,
  guard,
  pageContext,
  render,
  showError,
  stringsOf,
} from "../request.js";
import { constantTimeEqual, MAX_AGE_MS, randomToken, SESSION_COOKIE, type SessionStore } from "../session.js";

const SIGN_IN_COOKIE = "cordon_sign_in";

function SignInPage(props: { ctx: PageContext; csrf: string; error?: string | undefined }) {
  const { ctx } = props;
  const { t } = ctx;
  return (
    <Layout ctx={ctx} title={t.signInTitle}>
      <Alert message={props.error} />
      <form method="post" action="/console/sign-in">
        <input type="hidden" name="csrf" value={props.csrf} />
        <input type="hidden" name="lang" value={ctx.lang} />
        <FormField id="token" label={t.token} hint={t.tokenHint}>
          <input
            type="password"
            id="token"
            name="token"
            autocomplete="off"
            required
            aria-describedby="token-hint"
            aria-invalid={props.error ? "true" : undefined}
          />
        </FormField>
        <button type="submit">{t.signIn}</button>
      </form>
    </Layout>
  );
}

export function registerSignIn(
  con: ConsoleApp,
  s: ServerServices,
  sessions: SessionStore,
  failures: AuthFailures,
): void {
  con.get("/", (c) => c.redirect(c.get("session") ? "/console/orders" : "/console/sign-in", 303));

  const signInPage = (c: C, status: 200 | 401 | 403, error?: string) => {
    const token = randomToken();
    setCookie(c, SIGN_IN_COOKIE, token, cookieOptions(c, 600));
    return render(
      c,
      <SignInPage ctx={pageContext(c, "/console/sign-in")} csrf={token} error={error} />,
      status,
    );
  };
  con.get("/sign-in", (c) => signInPage(c, 200));
  con.post("/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const expected = getCookie(c, SIGN_IN_COOKIE) ?? "";
    const sent = typeof form.csrf === "string" ? form.csrf : "";
    if (!expected || !constantTimeEqual(sent, expected)) return showError(c, stringsOf(c).csrf, 403);
    const lang = isLanguage(form.lang) ? form.lang : c.get("lang");
    c.set("lang", lang);
    const t = stringsOf(c);
    // Thrown, the console's error mapping answers 429 with Retry-After and its page.
    const limited = failures.refuseEarly(c);
    if (limited) throw limited;
    const principal = s.auth.authenticate(typeof form.token === "string" ? form.token.trim() : "");
    if (!principal) {
      const refused = failures.failed(c, new CordonError("UNAUTHORIZED", "unknown token at console sign-in"));
      if (refused.code === "RATE_LIMITED") throw refused;
      return signInPage(c, 401, t.badToken);
    }
    if (!mayAccess(principal, "readOrders")) {
      const refused = failures.failed(
        c,
        new CordonError("FORBIDDEN", "console sign-in by a role without console access"),
        principal,
      );
      if (refused.code === "RATE_LIMITED") throw refused;
      return signInPage(c, 403, t.noConsoleRole);
    }
    // A fresh id at every sign-in: an id planted before sign-in is never the one that gets privileges.
    await sessions.destroy(getCookie(c, SESSION_COOKIE));
    const session = await sessions.create(principal, lang);
    setCookie(c, SESSION_COOKIE, session.id, cookieOptions(c, MAX_AGE_MS / 1000));
    deleteCookie(c, SIGN_IN_COOKIE, { path: "/console" });
    s.logger.info("console sign-in", { principal: principal.name, role: principal.role });
    return c.redirect(principal.role === "approver" ? "/console/review" : "/console/orders", 303);
  });
  con.post("/sign-out", guard("readOrders"), async (c) => {
    await sessions.destroy(c.get("session")?.id);
    deleteCookie(c, SESSION_COOKIE, { path: "/console" });
    return c.redirect("/console/sign-in", 303);
  });
}
