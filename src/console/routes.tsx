/**
 * The response team's console under `/console`: sign-in, orders, a new-order form with preview, the
 * review queue and the check simulator. Server-rendered, no scripts. Every change goes through the same
 * `submitOrder` / `changeOrder` as the API, so roles, four eyes (I7) and the audit trail are identical;
 * the page only hides buttons, the server refuses regardless.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import type { JSX } from "hono/jsx/jsx-runtime";
import { z } from "zod";
import {
  AccountId,
  Enforcement,
  isJurisdiction,
  MeetingId,
  type OrderAction,
  OrderRuleError,
  OrderStatus,
  withEnforcement,
} from "../engine/index.js";
import { KiB, limitBody } from "../http/middleware.js";
import type { App, ServerServices } from "../http/services.js";
import { orderPreview, STRINGS } from "../i18n/console.js";
import { LANGUAGES, type Language, pickLanguage } from "../i18n/language.js";
import { VALIDATION } from "../i18n/validation.js";
import { NotFoundError } from "../kernel/errors.js";
import { ACCESS, type Access } from "../kernel/roles.js";
import { evaluate, Ip } from "../service/check.js";
import { changeOrder, filterOrders, submitOrder } from "../service/orders.js";
import { CONSOLE_CSS } from "./assets.js";
import { emptyForm, type FormBody, readForm, validate } from "./order-form.js";
import {
  constantTimeEqual,
  MAX_AGE_MS,
  randomToken,
  SESSION_COOKIE,
  type Session,
  SessionStore,
} from "./session.js";
import {
  ErrorPage,
  type ListQuery,
  NewOrderPage,
  OrderPage,
  OrdersPage,
  type PageContext,
  ReviewPage,
  SignInPage,
  SimulatePage,
  type SimulateValues,
} from "./views.js";

/** Double-submit cookie for the sign-in form, which has no session yet (login CSRF). */
const SIGN_IN_COOKIE = "cordon_sign_in";

export const CONSOLE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

interface ConsoleEnv {
  Variables: {
    requestId: string;
    lang: Language;
    session: Session | undefined;
    form: FormBody;
  };
}
type C = Context<ConsoleEnv>;

const CONSOLE_ROLES: readonly string[] = ACCESS.readOrders;

export function registerConsole(app: App, s: ServerServices): void {
  // Long-lived, one per app: the sessions.
  const sessions = new SessionStore(s.clock);
  const con = new Hono<ConsoleEnv>();

  con.use(async (c, next) => {
    await next();
    c.header("Content-Security-Policy", CONSOLE_CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  });

  con.get("/assets/console.css", (c) => {
    c.header("Cache-Control", "public, max-age=3600");
    return c.body(CONSOLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" });
  });

  con.use(async (c, next) => {
    const session = sessions.get(getCookie(c, SESSION_COOKIE));
    const asked = c.req.query("lang");
    const lang = LANGUAGES.find((l) => l === asked);
    if (session && lang) session.lang = lang;
    c.set("session", session);
    c.set("lang", lang ?? session?.lang ?? pickLanguage(c.req.header("accept-language")));
    await next();
  });

  // Origin / Sec-Fetch-Site check on every form post, before the per-session token below.
  con.use(csrf());
  const limit = limitBody(64 * KiB);
  con.use(async (c, next) => (c.req.method === "POST" ? limit(c as never, next) : next()));

  const ctx = (c: C, path = c.req.path): PageContext => {
    const session = c.get("session");
    const lang = c.get("lang") ?? "en";
    return { lang, t: STRINGS[lang], path, principal: session?.principal, csrf: session?.csrf };
  };
  const page = async (c: C, node: JSX.Element, status: 200 | 400 | 401 | 403 | 404 | 409 | 422 = 200) =>
    c.html(`<!doctype html>${await node.toString()}`, status);

  /** A signed-in principal whose role has `access`; on POST, also the session's CSRF token. */
  const guard =
    (access: Access): MiddlewareHandler<ConsoleEnv> =>
    async (c, next) => {
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
        if (!constantTimeEqual(token, session.csrf)) {
          return page(c, <ErrorPage ctx={ctx(c)} message={STRINGS[c.get("lang")].csrf} />, 403);
        }
        c.set("form", body);
      }
      if (!(ACCESS[access] as readonly string[]).includes(session.principal.role)) {
        return page(c, <ErrorPage ctx={ctx(c)} message={STRINGS[c.get("lang")].forbidden} />, 403);
      }
      await next();
    };
  const principalOf = (c: C) => (c.get("session") as Session).principal;
  const field = (c: C, key: string): string => {
    const v = c.get("form")[key];
    return (Array.isArray(v) ? (v[0] ?? "") : (v ?? "")).trim();
  };

  // --- Sign-in and sign-out ---------------------------------------------------------------------
  con.get("/", (c) => c.redirect(c.get("session") ? "/console/orders" : "/console/sign-in", 303));

  const signInPage = (c: C, status: 200 | 401 | 403, error?: string) => {
    const token = randomToken();
    setCookie(c, SIGN_IN_COOKIE, token, cookieOptions(c, 600));
    return page(c, <SignInPage ctx={ctx(c, "/console/sign-in")} csrf={token} error={error} />, status);
  };
  con.get("/sign-in", (c) => signInPage(c, 200));
  con.post("/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const expected = getCookie(c, SIGN_IN_COOKIE) ?? "";
    const sent = typeof form.csrf === "string" ? form.csrf : "";
    if (!expected || !constantTimeEqual(sent, expected)) {
      return page(c, <ErrorPage ctx={ctx(c)} message={STRINGS[c.get("lang")].csrf} />, 403);
    }
    const lang = LANGUAGES.find((l) => l === form.lang) ?? c.get("lang");
    c.set("lang", lang);
    const principal = s.auth.authenticate(typeof form.token === "string" ? form.token.trim() : "");
    if (!principal) return signInPage(c, 401, STRINGS[lang].badToken);
    if (!CONSOLE_ROLES.includes(principal.role)) return signInPage(c, 403, STRINGS[lang].noConsoleRole);
    // A fresh id at every sign-in: an id planted before sign-in is never the one that gets privileges.
    sessions.destroy(getCookie(c, SESSION_COOKIE));
    const session = sessions.create(principal, lang);
    setCookie(c, SESSION_COOKIE, session.id, cookieOptions(c, MAX_AGE_MS / 1000));
    deleteCookie(c, SIGN_IN_COOKIE, { path: "/console" });
    s.logger.info("console sign-in", { principal: principal.name, role: principal.role });
    return c.redirect(principal.role === "approver" ? "/console/review" : "/console/orders", 303);
  });
  con.post("/sign-out", guard("readOrders"), (c) => {
    sessions.destroy(c.get("session")?.id);
    deleteCookie(c, SESSION_COOKIE, { path: "/console" });
    return c.redirect("/console/sign-in", 303);
  });

  // --- Orders ----------------------------------------------------------------------------------
  con.get("/orders", guard("readOrders"), async (c) => {
    const status = OrderStatus.safeParse(c.req.query("status")).data;
    const enforcement = Enforcement.safeParse(c.req.query("enforcement")).data;
    const query: ListQuery = {
      status: status ?? "",
      enforcement: enforcement ?? "",
      jurisdiction: (c.req.query("jurisdiction") ?? "").trim().toUpperCase().slice(0, 10),
      q: (c.req.query("q") ?? "").trim().slice(0, 200),
    };
    const badJurisdiction = query.jurisdiction !== "" && !isJurisdiction(query.jurisdiction);
    const all = await s.orders.listOrders();
    // A malformed jurisdiction filters nothing; the page says what is wrong with it.
    const orders = filterOrders(
      all,
      {
        status,
        enforcement,
        jurisdiction: badJurisdiction ? undefined : query.jurisdiction || undefined,
        q: query.q,
      },
      s.clock(),
    ).reverse();
    const error = badJurisdiction ? VALIDATION[c.get("lang")].badJurisdictionFilter : undefined;
    return page(
      c,
      <OrdersPage ctx={ctx(c)} orders={orders} query={query} error={error} />,
      badJurisdiction ? 400 : 200,
    );
  });

  const newOrderPage = (
    c: C,
    form = emptyForm(),
    opts: { errors?: Record<string, string>; preview?: string; error?: string } = {},
    status: 200 | 400 | 403 | 422 = 200,
  ) =>
    page(
      c,
      <NewOrderPage
        ctx={ctx(c, "/console/orders/new")}
        form={form}
        errors={opts.errors ?? {}}
        preview={opts.preview}
        error={opts.error}
      />,
      status,
    );
  con.get("/orders/new", guard("createOrder"), (c) => newOrderPage(c));
  con.post("/orders/new", guard("createOrder"), async (c) => {
    const lang = c.get("lang");
    const form = readForm(c.get("form"));
    const intent = field(c, "intent");
    if (intent === "regions") return newOrderPage(c, form);
    const result = validate(form, lang);
    if (!result.ok) return newOrderPage(c, form, { errors: result.errors }, 400);
    if (intent !== "submit") return newOrderPage(c, form, { preview: orderPreview(result.input, lang) });
    try {
      const order = await submitOrder(s, result.input, principalOf(c).name);
      return c.redirect(`/console/orders/${encodeURIComponent(order.id)}?done=created`, 303);
    } catch (err) {
      if (err instanceof OrderRuleError) {
        return newOrderPage(c, form, { errors: { jurisdictions: err.message } }, 422);
      }
      throw err;
    }
  });

  const orderPage = async (
    c: C,
    id: string,
    opts: { error?: string; status?: 200 | 403 | 404 | 409 | 400 } = {},
  ) => {
    const order = await s.orders.getOrder(id);
    const t = STRINGS[c.get("lang")];
    if (!order) return page(c, <ErrorPage ctx={ctx(c)} message={t.notFound} />, 404);
    const [audit, counts] = await Promise.all([
      s.orders.readAudit({ orderId: id }),
      s.reports.orderTotals(id),
    ]);
    const done = c.req.query("done");
    const flash =
      done === "approved" || done === "rejected" || done === "withdrawn" || done === "created"
        ? t[done]
        : undefined;
    return page(
      c,
      <OrderPage
        ctx={ctx(c, `/console/orders/${id}`)}
        order={withEnforcement(order, s.clock())}
        audit={audit}
        counts={counts}
        error={opts.error}
        flash={flash}
      />,
      opts.status ?? 200,
    );
  };
  con.get("/orders/:id", guard("readOrders"), (c) => orderPage(c, c.req.param("id")));

  const transitions: [OrderAction["type"], Access, "approved" | "rejected" | "withdrawn"][] = [
    ["approve", "decideOrder", "approved"],
    ["reject", "decideOrder", "rejected"],
    ["withdraw", "withdrawOrder", "withdrawn"],
  ];
  for (const [type, access, done] of transitions) {
    con.post(`/orders/:id/${type}`, guard(access), async (c) => {
      const id = c.req.param("id");
      const t = STRINGS[c.get("lang")];
      const text = field(c, type === "approve" ? "note" : "reason").slice(0, 2000);
      if (type !== "approve" && !text) return orderPage(c, id, { error: t.reasonRequired, status: 400 });
      const action: OrderAction =
        type === "approve"
          ? { type, ...(text ? { note: text } : {}) }
          : type === "reject"
            ? { type, reason: text }
            : { type, reason: text };
      try {
        await changeOrder(s, id, action, principalOf(c).name);
      } catch (err) {
        if (err instanceof NotFoundError)
          return page(c, <ErrorPage ctx={ctx(c)} message={t.notFound} />, 404);
        if (err instanceof OrderRuleError) {
          const message =
            err.code === "FOUR_EYES" ? `${t.creatorCannotDecide} (${err.message})` : err.message;
          return orderPage(c, id, { error: message, status: err.code === "FOUR_EYES" ? 403 : 409 });
        }
        throw err;
      }
      return c.redirect(`/console/orders/${encodeURIComponent(id)}?done=${done}`, 303);
    });
  }

  con.get("/review", guard("decideOrder"), async (c) => {
    const now = s.clock();
    const pending = (await s.orders.listOrders())
      .filter((o) => o.status === "pending")
      .map((o) => withEnforcement(o, now));
    return page(c, <ReviewPage ctx={ctx(c)} orders={pending} />);
  });

  // --- Check simulator ----------------------------------------------------------------------------
  const SimulateInput = z.object({ meetingId: MeetingId, ip: Ip, accountId: AccountId.optional() });
  const empty: SimulateValues = { meetingId: "", ip: "", accountId: "" };
  con.get("/simulate", guard("readOrders"), (c) =>
    page(c, <SimulatePage ctx={ctx(c)} values={empty} errors={{}} />),
  );
  con.post("/simulate", guard("readOrders"), async (c) => {
    const values: SimulateValues = {
      meetingId: field(c, "meetingId"),
      ip: field(c, "ip"),
      accountId: field(c, "accountId"),
    };
    const parsed = SimulateInput.safeParse({
      meetingId: values.meetingId,
      ip: values.ip,
      ...(values.accountId ? { accountId: values.accountId } : {}),
    });
    if (!parsed.success) {
      const errors: Partial<Record<keyof SimulateValues, string>> = {};
      for (const issue of parsed.error.issues) {
        const key = issue.path[0] as keyof SimulateValues;
        errors[key] ??=
          issue.code === "invalid_type" || values[key] === ""
            ? VALIDATION[c.get("lang")].required
            : issue.message;
      }
      return page(c, <SimulatePage ctx={ctx(c)} values={values} errors={errors} />, 400);
    }
    // The record `evaluate` builds is dropped on purpose: a simulation is not a join and must not count
    // in the decision log or any report (I5 counts real checks only).
    const { decision } = await evaluate(s, s.rulesets.current(), parsed.data, s.clock(), c.get("lang"));
    return page(c, <SimulatePage ctx={ctx(c)} values={values} errors={{}} decision={decision} />);
  });

  con.all("*", (c) =>
    page(c, <ErrorPage ctx={ctx(c)} message={STRINGS[c.get("lang") ?? "en"].notFound} />, 404),
  );

  con.onError((err, c) => {
    const lang = c.get("lang") ?? "en";
    const t = STRINGS[lang];
    if (err instanceof HTTPException && err.status === 403) {
      // hono's csrf(): a form posted from another origin.
      return page(c, <ErrorPage ctx={ctx(c)} message={t.csrf} />, 403);
    }
    if (err instanceof HTTPException && err.status < 500) {
      return page(c, <ErrorPage ctx={ctx(c)} message={err.message || t.error} />, 400);
    }
    s.logger.error("console error", { requestId: c.get("requestId"), error: err.message, stack: err.stack });
    return c.html(
      `<!doctype html><html lang="${lang}"><title>${t.error}</title><p>${t.error}</p></html>`,
      500,
    );
  });

  app.route("/console", con);
}

function cookieOptions(c: C, maxAgeSeconds: number) {
  const https = new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
  return {
    httpOnly: true,
    sameSite: "Strict" as const,
    path: "/console",
    secure: https,
    maxAge: Math.floor(maxAgeSeconds),
  };
}
