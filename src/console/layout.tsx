/**
 * The frame of every console page: the document, the skip link, the top bar (brand, the navigation the
 * principal's role may use, the language switch, who is signed in) and the main region; and the error
 * page. Server-rendered, no scripts, one external stylesheet from 'self'.
 */
import type { Child } from "hono/jsx";
import type { Strings } from "../i18n/console.js";
import type { Language } from "../i18n/language.js";
import { type Access, mayAccess, type Principal } from "../kernel/roles.js";

/** What a view needs to know about the request: language, strings, where it is and who asks. */
export interface PageContext {
  lang: Language;
  t: Strings;
  /** Path of the page, for the language switch and the current navigation item. */
  path: string;
  principal?: Principal | undefined;
  /** What to show for the principal (an OIDC user's email or name); absent: its name. */
  label?: string | undefined;
  csrf?: string | undefined;
}

export function Layout(props: { ctx: PageContext; title: string; children?: Child }) {
  const { ctx, title } = props;
  const { t, principal } = ctx;
  const other = t.otherLanguageCode;
  const nav: [string, string, Access][] = [
    ["/console/orders", t.nav.orders, "readOrders"],
    ["/console/orders/new", t.nav.newOrder, "createOrder"],
    ["/console/review", t.nav.review, "decideOrder"],
    ["/console/simulate", t.nav.simulate, "readOrders"],
    ["/console/reports", t.navReports, "readReports"],
  ];
  return (
    <html lang={ctx.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} – ${t.appName}`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <a class="skip" href="#main">
          {t.skip}
        </a>
        <header class="top">
          <a class="brand" href="/console/orders">
            {t.appName}
          </a>
          {principal ? (
            <nav aria-label={t.appName}>
              <ul>
                {nav
                  .filter(([, , access]) => mayAccess(principal, access))
                  .map(([href, label]) => (
                    <li>
                      <a href={href} aria-current={ctx.path === href ? "page" : undefined}>
                        {label}
                      </a>
                    </li>
                  ))}
              </ul>
            </nav>
          ) : null}
          <a class="lang" href={`${ctx.path}?lang=${other}`} lang={other} hreflang={other}>
            {t.otherLanguage}
          </a>
          {principal ? (
            <>
              <span class="who">{t.signedInAs(ctx.label ?? principal.name, t.roles[principal.role])}</span>
              <form method="post" action="/console/sign-out">
                <input type="hidden" name="csrf" value={ctx.csrf} />
                <button type="submit">{t.signOut}</button>
              </form>
            </>
          ) : null}
        </header>
        <main id="main" tabindex={-1}>
          <h1>{title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

export function ErrorPage(props: { ctx: PageContext; message: string }) {
  return (
    <Layout ctx={props.ctx} title={props.ctx.t.error}>
      <p class="alert">{props.message}</p>
      <p>
        <a href="/console/orders">{props.ctx.t.back}</a>
      </p>
    </Layout>
  );
}
