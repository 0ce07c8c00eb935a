/**
 * Signing in and out. The bearer token is checked once (`Authenticator`) and never kept: the browser
 * gets an opaque session id. The form has no session yet, so a double-submit cookie guards it against
 * login CSRF. Failed sign-ins are logged and counted (`AuthFailures`); a client over its budget is
 * refused before its token is looked at, so guessing is slowed to the budget's pace.
 *
 * With OpenID Connect configured (`oidc.ts`), the page also offers the organisation's sign-in:
 * `/console/oidc/start` sends the browser to the provider with a fresh transaction (state, nonce, PKCE
 * verifier) in a short-lived cookie; `/console/oidc/callback` checks the answer against it (a wrong or
 * missing state, nonce or verifier: 400 and no session), maps the group claim to a role (none: 403, a
 * page saying so, and a log line) and starts a session whose role is the one from these claims. The
 * transaction cookie is SameSite=Lax (the callback is a navigation from the provider's site); the
 * callback answers with a page that moves on by itself (a meta refresh) rather than a redirect, because
 * a browser leaves the SameSite=Strict session cookie off a redirect that began on another site.
 */
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AuthFailures } from "../../http/rate-limit.js";
import type { ServerServices } from "../../http/services.js";
import { isLanguage } from "../../i18n/language.js";
import { CordonError } from "../../kernel/errors.js";
import { mayAccess } from "../../kernel/roles.js";
import { Alert, FormField } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import { decodeTransaction, encodeTransaction, OidcError, type OidcSignIn } from "../oidc.js";
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
/** The OIDC transaction between `start` and `callback`: state, nonce, PKCE verifier. */
const OIDC_COOKIE = "cordon_oidc";
const OIDC_COOKIE_PATH = "/console/oidc";
/** How long a sign-in at the provider may take. */
const OIDC_TRANSACTION_S = 600;

function SignInPage(props: { ctx: PageContext; csrf: string; error?: string | undefined; oidc: boolean }) {
  const { ctx } = props;
  const { t } = ctx;
  return (
    <Layout ctx={ctx} title={t.signInTitle}>
      <Alert message={props.error} />
      {props.oidc ? (
        <>
          {/* A link, not a form: the CSP's form-action 'self' would stop a form redirected to the provider. */}
          <p>
            <a id="oidc-sign-in" href={`/console/oidc/start?lang=${ctx.lang}`}>
              {t.oidcSignIn}
            </a>
          </p>
          <h2>{t.oidcOr}</h2>
        </>
      ) : null}
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
        <button type="submit" id="token-sign-in">
          {t.signIn}
        </button>
      </form>
    </Layout>
  );
}

/**
 * After an OIDC sign-in: moves on to `to` by itself. A page, not a redirect: the session cookie is
 * SameSite=Strict, and a redirect in a chain that began at the provider would go without it.
 */
function SignedInPage(props: { ctx: PageContext; to: string }) {
  const { ctx, to } = props;
  return (
    <html lang={ctx.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta http-equiv="refresh" content={`0;url=${to}`} />
        <title>{ctx.t.oidcSignedInTitle}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <main id="main">
          <h1>{ctx.t.oidcSignedInTitle}</h1>
          <p>
            <a href={to}>{ctx.t.oidcContinue}</a>
          </p>
        </main>
      </body>
    </html>
  );
}

/** An OIDC user none of whose groups maps to a role. */
function RefusedPage(props: { ctx: PageContext; message: string }) {
  const { t } = props.ctx;
  return (
    <Layout ctx={props.ctx} title={t.oidcNoRoleTitle}>
      <p class="alert">{props.message}</p>
      <p>
        <a href="/console/sign-in">{t.signInAgain}</a>
      </p>
    </Layout>
  );
}

/** After signing out of an OIDC session: the provider's own sign-out on offer. */
function SignedOutPage(props: { ctx: PageContext; providerSignOut: string }) {
  const { ctx } = props;
  const { t } = ctx;
  return (
    <Layout ctx={ctx} title={t.signedOutTitle}>
      <p>{t.signedOut}</p>
      <ul>
        <li>
          <a href={props.providerSignOut} id="provider-sign-out">
            {t.oidcProviderSignOut}
          </a>
        </li>
        <li>
          <a href="/console/sign-in">{t.signInAgain}</a>
        </li>
      </ul>
    </Layout>
  );
}

export function registerSignIn(
  con: ConsoleApp,
  s: ServerServices,
  sessions: SessionStore,
  failures: AuthFailures,
  oidc?: OidcSignIn,
): void {
  con.get("/", (c) => c.redirect(c.get("session") ? "/console/orders" : "/console/sign-in", 303));

  const signInPage = (c: C, status: 200 | 400 | 401 | 403 | 503, error?: string) => {
    const token = randomToken();
    setCookie(c, SIGN_IN_COOKIE, token, cookieOptions(c, 600));
    return render(
      c,
      <SignInPage
        ctx={pageContext(c, "/console/sign-in")}
        csrf={token}
        error={error}
        oidc={oidc !== undefined}
      />,
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
    const session = c.get("session");
    await sessions.destroy(session?.id);
    deleteCookie(c, SESSION_COOKIE, { path: "/console" });
    const providerSignOut = session?.via === "oidc" ? await oidc?.endSessionUrl() : undefined;
    if (!providerSignOut) return c.redirect("/console/sign-in", 303);
    c.set("session", undefined);
    return render(
      c,
      <SignedOutPage ctx={pageContext(c, "/console/sign-in")} providerSignOut={providerSignOut.href} />,
    );
  });

  if (oidc) registerOidc(con, s, sessions, oidc, signInPage);
}

function registerOidc(
  con: ConsoleApp,
  s: ServerServices,
  sessions: SessionStore,
  oidc: OidcSignIn,
  signInPage: (c: C, status: 400 | 403 | 503, error?: string) => Promise<Response>,
): void {
  const transactionCookie = (c: C, maxAge: number) => ({
    ...cookieOptions(c, maxAge),
    // The callback is a top-level navigation from the provider's site: Strict would leave it off.
    sameSite: "Lax" as const,
    path: OIDC_COOKIE_PATH,
  });

  con.get("/oidc/start", async (c) => {
    const redirectUri = oidc.redirectUriFor(c.req.url, c.req.header("x-forwarded-proto"));
    try {
      const { url, transaction } = await oidc.start(redirectUri, c.get("lang"));
      setCookie(c, OIDC_COOKIE, encodeTransaction(transaction), transactionCookie(c, OIDC_TRANSACTION_S));
      return c.redirect(url.href, 303);
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      return signInPage(c, 503, stringsOf(c).oidcUnavailable);
    }
  });

  con.get("/oidc/callback", async (c) => {
    const transaction = decodeTransaction(getCookie(c, OIDC_COOKIE));
    // One use: whatever the outcome, the transaction is spent.
    deleteCookie(c, OIDC_COOKIE, { path: OIDC_COOKIE_PATH });
    if (transaction && isLanguage(transaction.lang)) c.set("lang", transaction.lang);
    const t = stringsOf(c);
    if (!transaction) {
      s.logger.warn("console oidc callback refused", { reason: "no sign-in in progress in this browser" });
      return signInPage(c, 400, t.oidcFailed);
    }
    let identity: Awaited<ReturnType<OidcSignIn["finish"]>>;
    try {
      identity = await oidc.finish(new URL(c.req.url).search, transaction);
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      // The library's message names the check that failed; never a code or a token.
      s.logger.warn("console oidc callback refused", { kind: err.kind, reason: err.message });
      return err.kind === "unavailable"
        ? signInPage(c, 503, t.oidcUnavailable)
        : signInPage(c, 400, t.oidcFailed);
    }
    const principal = oidc.principalOf(identity);
    if (!principal || !mayAccess(principal, "readOrders")) {
      s.logger.warn("console oidc sign-in refused: no group mapped to a role", {
        principal: identity.name,
        // Some providers send hundreds (group object ids): enough to see why, not the whole list.
        groups: identity.groups.slice(0, 20),
      });
      return render(
        c,
        <RefusedPage ctx={pageContext(c, "/console/sign-in")} message={t.oidcNoRole(identity.label)} />,
        403,
      );
    }
    await sessions.destroy(getCookie(c, SESSION_COOKIE));
    const session = await sessions.create(principal, c.get("lang"), { via: "oidc", label: identity.label });
    setCookie(c, SESSION_COOKIE, session.id, cookieOptions(c, MAX_AGE_MS / 1000));
    s.logger.info("console sign-in", { principal: principal.name, role: principal.role, via: "oidc" });
    c.set("session", session);
    const to = principal.role === "approver" ? "/console/review" : "/console/orders";
    return render(c, <SignedInPage ctx={pageContext(c, to)} to={to} />);
  });
}
