/**
 * The console's pages as Hono JSX: server-rendered, no scripts, one external stylesheet from 'self'.
 * Every input has a label; hints and errors are tied to their input with aria-describedby; an error
 * summary at the top links to each field in error.
 */
import type { Child } from "hono/jsx";
import type { Decision, Order } from "../engine/index.js";
import { formatDate, formatTime, type Strings } from "../i18n/console.js";
import type { Language } from "../i18n/language.js";
import { placeName } from "../i18n/places.js";
import { ACCESS, type Principal } from "../kernel/roles.js";
import type { OrderTotals } from "../report/model.js";
import type { AuditEntry } from "../store/interface.js";
import { countriesSorted, type Field, type FormErrors, type OrderForm, regionsOf } from "./order-form.js";

export interface PageContext {
  lang: Language;
  t: Strings;
  /** Path of the page, for the language switch and the current navigation item. */
  path: string;
  principal?: Principal | undefined;
  csrf?: string | undefined;
}

export const can = (p: Principal | undefined, access: keyof typeof ACCESS): boolean =>
  !!p && (ACCESS[access] as readonly string[]).includes(p.role);

export function Layout(props: { ctx: PageContext; title: string; children?: Child }) {
  const { ctx, title } = props;
  const { t, principal } = ctx;
  const other = t.otherLanguageCode;
  const nav: [string, string, boolean][] = [
    ["/console/orders", t.nav.orders, can(principal, "readOrders")],
    ["/console/orders/new", t.nav.newOrder, can(principal, "createOrder")],
    ["/console/review", t.nav.review, can(principal, "decideOrder")],
    ["/console/simulate", t.nav.simulate, can(principal, "readOrders")],
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
                  .filter(([, , allowed]) => allowed)
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
              <span class="who">{t.signedInAs(principal.name, t.roles[principal.role])}</span>
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

const Csrf = (props: { ctx: PageContext }) => <input type="hidden" name="csrf" value={props.ctx.csrf} />;

const Alert = (props: { message?: string | undefined; kind?: "flash" | "alert" }) =>
  props.message ? (
    <div class={props.kind ?? "alert"} role={props.kind === "flash" ? "status" : "alert"}>
      {props.message}
    </div>
  ) : null;

// ---------------------------------------------------------------------------------------------------
// Sign-in

export function SignInPage(props: { ctx: PageContext; csrf: string; error?: string | undefined }) {
  const { ctx } = props;
  const { t } = ctx;
  return (
    <Layout ctx={ctx} title={t.signInTitle}>
      <Alert message={props.error} />
      <form method="post" action="/console/sign-in">
        <input type="hidden" name="csrf" value={props.csrf} />
        <input type="hidden" name="lang" value={ctx.lang} />
        <div class="field">
          <label for="token">{t.token}</label>
          <p class="hint" id="token-hint">
            {t.tokenHint}
          </p>
          <input
            type="password"
            id="token"
            name="token"
            autocomplete="off"
            required
            aria-describedby="token-hint"
            aria-invalid={props.error ? "true" : undefined}
          />
        </div>
        <button type="submit">{t.signIn}</button>
      </form>
    </Layout>
  );
}

// ---------------------------------------------------------------------------------------------------
// Orders

const statusText = (t: Strings, o: Order) =>
  `${t.statuses[o.status]}${o.status === "approved" ? ` · ${t.enforcements[o.enforcement]}` : ""}`;

const places = (codes: readonly string[], lang: Language) => codes.map((c) => placeName(c, lang)).join("; ");

export interface ListQuery {
  status: string;
  enforcement: string;
  jurisdiction: string;
  q: string;
}

function OrdersTable(props: { ctx: PageContext; orders: Order[]; caption: string }) {
  const { t, lang } = props.ctx;
  return (
    <table class="cards">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t.reference}</th>
          <th scope="col">{t.authority}</th>
          <th scope="col">{t.blocks}</th>
          <th scope="col">{t.target}</th>
          <th scope="col">{t.status}</th>
          <th scope="col">{t.received}</th>
        </tr>
      </thead>
      <tbody>
        {props.orders.map((o) => (
          <tr>
            <td data-label={t.reference}>
              <a href={`/console/orders/${encodeURIComponent(o.id)}`}>{o.reference}</a>
            </td>
            <td data-label={t.authority}>{o.authority.name}</td>
            <td data-label={t.blocks}>{places(o.jurisdictions, lang)}</td>
            <td data-label={t.target}>
              {o.target.kind === "meeting"
                ? `${t.meetings}: ${o.target.meetingIds.join(", ")}`
                : `${t.accounts}: ${o.target.accountIds.join(", ")}`}
            </td>
            <td data-label={t.status}>{statusText(t, o)}</td>
            <td data-label={t.received}>{formatDate(o.receivedAt, lang)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Select(props: {
  id: string;
  name?: string;
  value: string;
  options: readonly (readonly [string, string])[];
  describedBy?: string | undefined;
  invalid?: boolean;
}) {
  return (
    <select
      id={props.id}
      name={props.name ?? props.id}
      aria-describedby={props.describedBy}
      aria-invalid={props.invalid ? "true" : undefined}
    >
      {props.options.map(([value, label]) => (
        <option value={value} selected={value === props.value}>
          {label}
        </option>
      ))}
    </select>
  );
}

export function OrdersPage(props: {
  ctx: PageContext;
  orders: Order[];
  query: ListQuery;
  error?: string | undefined;
}) {
  const { ctx, query } = props;
  const { t } = ctx;
  return (
    <Layout ctx={ctx} title={t.ordersTitle}>
      <form method="get" action="/console/orders" aria-label={t.filters}>
        <div class="filters">
          <div class="field">
            <label for="status">{t.status}</label>
            <Select id="status" value={query.status} options={[["", t.any], ...Object.entries(t.statuses)]} />
          </div>
          <div class="field">
            <label for="enforcement">{t.enforcement}</label>
            <Select
              id="enforcement"
              value={query.enforcement}
              options={[["", t.any], ...Object.entries(t.enforcements)]}
            />
          </div>
          <div class="field">
            <label for="jurisdiction">{t.jurisdiction}</label>
            <p class="hint" id="jurisdiction-hint">
              {t.jurisdictionFilterHint}
            </p>
            <input
              type="text"
              id="jurisdiction"
              name="jurisdiction"
              value={query.jurisdiction}
              aria-describedby={props.error ? "jurisdiction-hint jurisdiction-error" : "jurisdiction-hint"}
              aria-invalid={props.error ? "true" : undefined}
            />
            {props.error ? (
              <p class="error-text" id="jurisdiction-error">
                {props.error}
              </p>
            ) : null}
          </div>
          <div class="field">
            <label for="q">{t.search}</label>
            <input type="search" id="q" name="q" value={query.q} />
          </div>
        </div>
        <button type="submit">{t.apply}</button>
      </form>
      {props.orders.length === 0 ? (
        <p>{t.noOrders}</p>
      ) : (
        <OrdersTable ctx={ctx} orders={props.orders} caption={`${t.ordersTitle} (${props.orders.length})`} />
      )}
    </Layout>
  );
}

export function ReviewPage(props: { ctx: PageContext; orders: Order[] }) {
  const { ctx } = props;
  const { t, lang } = ctx;
  return (
    <Layout ctx={ctx} title={t.reviewTitle}>
      {props.orders.length === 0 ? (
        <p>{t.reviewEmpty}</p>
      ) : (
        <ul>
          {props.orders.map((o) => (
            <li>
              <a
                href={`/console/orders/${encodeURIComponent(o.id)}`}
              >{`${o.reference} – ${o.authority.name}`}</a>{" "}
              ({places(o.jurisdictions, lang)}; {t.received} {formatDate(o.receivedAt, lang)})
              {o.createdBy === ctx.principal?.name ? <strong> – {t.yours}</strong> : null}
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}

// ---------------------------------------------------------------------------------------------------
// One order

function ReasonForm(props: {
  ctx: PageContext;
  order: Order;
  action: "approve" | "reject" | "withdraw";
  label: string;
  button: string;
  required: boolean;
  danger?: boolean;
}) {
  const id = `${props.action}-reason`;
  const name = props.action === "approve" ? "note" : "reason";
  return (
    <form
      method="post"
      action={`/console/orders/${encodeURIComponent(props.order.id)}/${props.action}`}
      class="decide"
    >
      <Csrf ctx={props.ctx} />
      <div class="field">
        <label for={id}>{props.label}</label>
        <textarea id={id} name={name} required={props.required} maxlength={2000} />
      </div>
      <button type="submit" class={props.danger ? "danger" : undefined}>
        {props.button}
      </button>
    </form>
  );
}

export function OrderPage(props: {
  ctx: PageContext;
  order: Order;
  audit: AuditEntry[];
  counts: OrderTotals;
  error?: string | undefined;
  flash?: string | undefined;
}) {
  const { ctx, order: o } = props;
  const { t, lang, principal } = ctx;
  const decider = can(principal, "decideOrder") && o.status === "pending";
  const isCreator = principal?.name === o.createdBy;
  const row = (label: string, value: Child) => (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
  return (
    <Layout ctx={ctx} title={t.orderTitle(o.reference)}>
      <Alert message={props.error} />
      <Alert message={props.flash} kind="flash" />
      <h2>{t.state}</h2>
      <p>
        <span class="badge">{statusText(t, o)}</span>
      </p>
      <h2>{t.fields}</h2>
      <dl class="fields">
        {row(t.reference, o.reference)}
        {row(
          t.authority,
          `${o.authority.name} (${t.kinds[o.authority.kind]}, ${placeName(o.authority.jurisdiction, lang)})`,
        )}
        {row(t.blocks, places(o.jurisdictions, lang))}
        {row(t.mode, t.modes[o.mode])}
        {row(t.received, formatDate(o.receivedAt, lang))}
        {row(t.effectiveFrom, o.effectiveFrom ? formatDate(o.effectiveFrom, lang) : t.fromApproval)}
        {row(t.effectiveUntil, o.effectiveUntil ? formatDate(o.effectiveUntil, lang) : t.noEnd)}
        {o.accountType ? row(t.accountType, o.accountType) : null}
        {o.accountLocation ? row(t.accountLocation, placeName(o.accountLocation, lang)) : null}
        {row(t.createdBy, `${o.createdBy}, ${formatTime(o.createdAt, lang)}`)}
        {o.decidedBy ? row(t.decidedBy, `${o.decidedBy}, ${formatTime(o.decidedAt ?? "", lang)}`) : null}
        {o.withdrawnBy
          ? row(t.withdrawnBy, `${o.withdrawnBy}, ${formatTime(o.withdrawnAt ?? "", lang)}`)
          : null}
        {o.reason ? row(t.reasonLabel, o.reason) : null}
        {o.note ? row(t.noteLabel, o.note) : null}
        {o.notes ? row(t.notes, o.notes) : null}
      </dl>
      <h2>{o.target.kind === "meeting" ? t.meetings : t.accounts}</h2>
      <ul>
        {(o.target.kind === "meeting" ? o.target.meetingIds : o.target.accountIds).map((id) => (
          <li>
            <code>{id}</code>
          </li>
        ))}
      </ul>
      <h2>{t.counts}</h2>
      <dl class="fields">
        {row(t.deniedJoins, String(props.counts.deniedJoins))}
        {row(t.shadowMatches, String(props.counts.shadowMatches))}
      </dl>
      <p class="hint">{t.countsNote}</p>
      <h2>{t.history}</h2>
      <table class="cards">
        <thead>
          <tr>
            <th scope="col">{t.when}</th>
            <th scope="col">{t.who}</th>
            <th scope="col">{t.action}</th>
            <th scope="col">{t.reasonLabel}</th>
          </tr>
        </thead>
        <tbody>
          {props.audit.map((e) => (
            <tr>
              <td data-label={t.when}>{formatTime(e.at, lang)}</td>
              <td data-label={t.who}>{e.actor}</td>
              <td data-label={t.action}>{t.actions[e.action]}</td>
              <td data-label={t.reasonLabel}>
                {e.action === "reject" || e.action === "withdraw"
                  ? (e.order.reason ?? "")
                  : (e.order.note ?? "")}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {decider && isCreator ? <p class="alert">{t.creatorCannotDecide}</p> : null}
      {decider && !isCreator ? (
        <>
          <ReasonForm
            ctx={ctx}
            order={o}
            action="approve"
            label={t.approveNote}
            button={t.approve}
            required={false}
          />
          <ReasonForm
            ctx={ctx}
            order={o}
            action="reject"
            label={t.rejectReason}
            button={t.reject}
            required
            danger
          />
        </>
      ) : null}
      {can(principal, "withdrawOrder") && (o.status === "pending" || o.status === "approved") ? (
        <ReasonForm
          ctx={ctx}
          order={o}
          action="withdraw"
          label={t.withdrawReason}
          button={t.withdraw}
          required
          danger
        />
      ) : null}
    </Layout>
  );
}

// ---------------------------------------------------------------------------------------------------
// New order

const LABELS = (t: Strings): Record<Field, string> => ({
  reference: t.reference,
  authorityName: t.authorityName,
  authorityKind: t.authorityKind,
  country: t.country,
  authorityJurisdiction: t.authorityJurisdiction,
  jurisdictions: t.jurisdictions,
  targetKind: t.targetKind,
  targetIds: t.targetIds,
  receivedAt: t.receivedAt,
  effectiveFrom: t.effectiveFrom,
  effectiveUntil: t.effectiveUntil,
  mode: t.mode,
  accountType: t.accountType,
  accountLocation: t.accountLocation,
  notes: t.notes,
});

/** aria-describedby for a field: its hint, then its error. */
const described = (id: string, errors: FormErrors, hint: boolean) =>
  [hint ? `${id}-hint` : "", errors[id as Field] ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;

function FieldText(props: { id: Field; errors: FormErrors; hint?: string | undefined }) {
  return (
    <>
      {props.hint ? (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.errors[props.id] ? (
        <p class="error-text" id={`${props.id}-error`}>
          {props.errors[props.id]}
        </p>
      ) : null}
    </>
  );
}

function TextInput(props: {
  id: Field;
  label: string;
  value: string;
  errors: FormErrors;
  hint?: string;
  type?: string;
  optional?: string;
}) {
  const { id, errors } = props;
  return (
    <div class="field">
      <label for={id}>
        {props.label} {props.optional ?? ""}
      </label>
      <FieldText id={id} errors={errors} hint={props.hint} />
      <input
        type={props.type ?? "text"}
        id={id}
        name={id}
        value={props.value}
        aria-describedby={described(id, errors, !!props.hint)}
        aria-invalid={errors[id] ? "true" : undefined}
      />
    </div>
  );
}

export function NewOrderPage(props: {
  ctx: PageContext;
  form: OrderForm;
  errors: FormErrors;
  preview?: string | undefined;
  error?: string | undefined;
}) {
  const { ctx, form, errors } = props;
  const { t, lang } = ctx;
  const labels = LABELS(t);
  const errorFields = (Object.keys(errors) as Field[]).filter((f) => errors[f]);
  const countries = countriesSorted(lang);
  const regions = form.country ? regionsOf(form.country) : [];
  const jurisdictionOptions: [string, string][] = form.country
    ? [
        [form.country, placeName(form.country, lang)],
        ...regions.map((r): [string, string] => [r.code, placeName(r.code, lang)]),
      ]
    : [];
  return (
    <Layout ctx={ctx} title={t.newTitle}>
      <Alert message={props.error} />
      {errorFields.length > 0 ? (
        <div class="summary" role="alert" aria-labelledby="error-summary-title">
          <h2 id="error-summary-title">{t.errorSummary}</h2>
          <ul>
            {errorFields.map((f) => (
              <li>
                <a
                  href={`#${f === "jurisdictions" ? "jurisdictions-legend" : f}`}
                >{`${labels[f]}: ${errors[f]}`}</a>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {props.preview ? (
        <section class="preview" aria-labelledby="preview-title">
          <h2 id="preview-title">{t.previewTitle}</h2>
          <p id="preview-text">{props.preview}</p>
          <p class="hint">{t.previewNote}</p>
        </section>
      ) : null}
      <form method="post" action="/console/orders/new" novalidate>
        <Csrf ctx={ctx} />
        <TextInput id="reference" label={t.reference} value={form.reference} errors={errors} />
        <TextInput id="authorityName" label={t.authorityName} value={form.authorityName} errors={errors} />
        <div class="field">
          <label for="authorityKind">{t.authorityKind}</label>
          <FieldText id="authorityKind" errors={errors} />
          <Select
            id="authorityKind"
            value={form.authorityKind}
            options={Object.entries(t.kinds)}
            describedBy={described("authorityKind", errors, false)}
            invalid={!!errors.authorityKind}
          />
        </div>
        <div class="field">
          <label for="country">{t.country}</label>
          <FieldText id="country" errors={errors} hint={t.countryHint} />
          <Select
            id="country"
            value={form.country}
            options={[["", t.chooseCountry], ...countries.map((c): [string, string] => [c.code, c.name])]}
            describedBy={described("country", errors, true)}
            invalid={!!errors.country}
          />
          <div class="actions">
            <button type="submit" name="intent" value="regions" class="secondary">
              {t.showRegions}
            </button>
          </div>
        </div>
        {form.country ? (
          <>
            <div class="field">
              <label for="authorityJurisdiction">{t.authorityJurisdiction}</label>
              <FieldText id="authorityJurisdiction" errors={errors} />
              <Select
                id="authorityJurisdiction"
                value={form.authorityJurisdiction || form.country}
                options={jurisdictionOptions}
                describedBy={described("authorityJurisdiction", errors, false)}
                invalid={!!errors.authorityJurisdiction}
              />
            </div>
            <fieldset
              class="regions"
              aria-describedby={described("jurisdictions", errors, true)}
              aria-invalid={errors.jurisdictions ? "true" : undefined}
            >
              <legend id="jurisdictions-legend" tabindex={-1}>
                {t.jurisdictions}
              </legend>
              <FieldText id="jurisdictions" errors={errors} hint={t.jurisdictionsHint} />
              <label>
                <input
                  type="checkbox"
                  name="jurisdictions"
                  value={form.country}
                  checked={form.jurisdictions.includes(form.country)}
                />
                {t.wholeCountry(placeName(form.country, lang))}
              </label>
              {regions.map((r) => (
                <label class={`depth-${r.depth}`}>
                  <input
                    type="checkbox"
                    name="jurisdictions"
                    value={r.code}
                    checked={form.jurisdictions.includes(r.code)}
                  />
                  {`${placeName(r.code, lang).split(", ")[0]} (${r.code})`}
                </label>
              ))}
            </fieldset>
          </>
        ) : null}
        <fieldset>
          <legend>{t.targetKind}</legend>
          {(["meeting", "account"] as const).map((k) => (
            <label>
              <input type="radio" name="targetKind" value={k} checked={form.targetKind === k} />
              {t.targetKinds[k]}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="targetIds">{t.targetIds}</label>
          <FieldText id="targetIds" errors={errors} hint={t.targetIdsHint} />
          <textarea
            id="targetIds"
            name="targetIds"
            aria-describedby={described("targetIds", errors, true)}
            aria-invalid={errors.targetIds ? "true" : undefined}
          >
            {form.targetIds}
          </textarea>
        </div>
        <TextInput
          id="receivedAt"
          type="date"
          label={t.receivedAt}
          value={form.receivedAt}
          errors={errors}
          hint={t.dateHint}
        />
        <TextInput
          id="effectiveFrom"
          type="date"
          label={t.effectiveFrom}
          value={form.effectiveFrom}
          errors={errors}
          hint={t.effectiveFromHint}
          optional={t.optional}
        />
        <TextInput
          id="effectiveUntil"
          type="date"
          label={t.effectiveUntil}
          value={form.effectiveUntil}
          errors={errors}
          hint={t.effectiveUntilHint}
          optional={t.optional}
        />
        <fieldset>
          <legend>{t.mode}</legend>
          {(["enforce", "shadow"] as const).map((m) => (
            <label>
              <input type="radio" name="mode" value={m} checked={form.mode === m} />
              {t.modes[m]}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="accountType">
            {t.accountType} {t.optional}
          </label>
          <FieldText id="accountType" errors={errors} />
          <Select
            id="accountType"
            value={form.accountType}
            options={[
              ["", t.notSet],
              ...["basic", "business", "education", "enterprise", "no_account", "pro", "phone"].map(
                (a): [string, string] => [a, a],
              ),
            ]}
            describedBy={described("accountType", errors, false)}
            invalid={!!errors.accountType}
          />
        </div>
        <div class="field">
          <label for="accountLocation">
            {t.accountLocation} {t.optional}
          </label>
          <FieldText id="accountLocation" errors={errors} />
          <Select
            id="accountLocation"
            value={form.accountLocation}
            options={[["", t.notSet], ...countries.map((c): [string, string] => [c.code, c.name])]}
            describedBy={described("accountLocation", errors, false)}
            invalid={!!errors.accountLocation}
          />
        </div>
        <div class="field">
          <label for="notes">
            {t.notes} {t.optional}
          </label>
          <FieldText id="notes" errors={errors} />
          <textarea id="notes" name="notes" aria-describedby={described("notes", errors, false)}>
            {form.notes}
          </textarea>
        </div>
        <div class="actions">
          <button type="submit" name="intent" value="preview" class={props.preview ? "secondary" : undefined}>
            {t.preview}
          </button>
          {props.preview ? (
            <button type="submit" name="intent" value="submit">
              {t.submit}
            </button>
          ) : null}
        </div>
      </form>
    </Layout>
  );
}

// ---------------------------------------------------------------------------------------------------
// Check simulator

export interface SimulateValues {
  meetingId: string;
  ip: string;
  accountId: string;
}

export function SimulatePage(props: {
  ctx: PageContext;
  values: SimulateValues;
  errors: Partial<Record<keyof SimulateValues, string>>;
  decision?: Decision | undefined;
}) {
  const { ctx, values, decision: d } = props;
  const { t, lang } = ctx;
  const errors = props.errors as FormErrors;
  const input = (id: keyof SimulateValues, label: string, optional?: string) => (
    <div class="field">
      <label for={id}>
        {label} {optional ?? ""}
      </label>
      {errors[id as Field] ? (
        <p class="error-text" id={`${id}-error`}>
          {errors[id as Field]}
        </p>
      ) : null}
      <input
        type="text"
        id={id}
        name={id}
        value={values[id]}
        aria-describedby={errors[id as Field] ? `${id}-error` : undefined}
        aria-invalid={errors[id as Field] ? "true" : undefined}
      />
    </div>
  );
  const located = d?.geo.country ? placeName(d.geo.subdivision ?? d.geo.country, lang) : t.unknownPlace;
  return (
    <Layout ctx={ctx} title={t.simulateTitle}>
      <p>{t.simulateIntro}</p>
      <form method="post" action="/console/simulate">
        <Csrf ctx={ctx} />
        {input("meetingId", t.meetingId)}
        {input("ip", t.ip)}
        {input("accountId", t.accountId, t.optional)}
        <button type="submit">{t.check}</button>
      </form>
      {d ? (
        <section aria-labelledby="result-title" role="status">
          <h2 id="result-title">{t.decision}</h2>
          <dl class="fields" id="decision">
            <dt>{t.decision}</dt>
            <dd class={d.decision} id="decision-value">
              {d.decision === "deny" ? t.deny : t.allow}
            </dd>
            <dt>{t.code}</dt>
            <dd>
              <code>{d.code}</code>
            </dd>
            <dt>{t.located}</dt>
            <dd>{located}</dd>
            <dt>{t.explanation}</dt>
            <dd id="explanation">
              {t.codes[d.code]}
              {d.jurisdiction ? ` (${placeName(d.jurisdiction, lang)})` : ""}
            </dd>
            {d.orderIds.length > 0 ? (
              <>
                <dt>{t.orderIds}</dt>
                <dd>
                  {d.orderIds.map((id, i) => (
                    <>
                      {i > 0 ? ", " : ""}
                      <a href={`/console/orders/${encodeURIComponent(id)}`}>{id}</a>
                    </>
                  ))}
                </dd>
              </>
            ) : null}
            {d.notice ? (
              <>
                <dt>{t.notice}</dt>
                <dd>{d.notice}</dd>
              </>
            ) : null}
          </dl>
        </section>
      ) : null}
    </Layout>
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
