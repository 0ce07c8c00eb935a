/** The orders list, filtered by status, enforcement, jurisdiction and reference, newest first. */
import { Enforcement, isJurisdiction, type Order, OrderStatus } from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { formatDate } from "../../i18n/console.js";
import { VALIDATION } from "../../i18n/validation.js";
import { filterOrders } from "../../service/orders.js";
import { ColumnHeads, FormField, refusesText, Select, statusText } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import { type ConsoleApp, guard, pageContext, render } from "../request.js";

interface ListQuery {
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
      <ColumnHeads labels={[t.reference, t.authority, t.refuses, t.target, t.status, t.received]} />
      <tbody>
        {props.orders.map((o) => (
          <tr>
            <td data-label={t.reference}>
              <a href={`/console/orders/${encodeURIComponent(o.id)}`}>{o.reference}</a>
            </td>
            <td data-label={t.authority}>{o.authority.name}</td>
            <td data-label={t.refuses}>{refusesText(t, o, lang)}</td>
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

function OrdersPage(props: {
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
          <FormField id="jurisdiction" label={t.jurisdiction} hint={t.jurisdictionFilterHint}>
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
          </FormField>
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

export function registerOrders(con: ConsoleApp, s: ServerServices): void {
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
    return render(
      c,
      <OrdersPage ctx={pageContext(c)} orders={orders} query={query} error={error} />,
      badJurisdiction ? 400 : 200,
    );
  });
}
