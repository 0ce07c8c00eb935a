/**
 * The orders list: filtered by status, enforcement and jurisdiction, searched by reference, authority,
 * meeting id and account id; sorted by received (newest first by default), reference, authority or
 * status; in pages of a chosen size with previous and next links. All through the query string: plain
 * forms and links, no script.
 */
import { Enforcement, isJurisdiction, type Order, OrderStatus } from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { formatDate } from "../../i18n/console.js";
import { VALIDATION } from "../../i18n/validation.js";
import { filterOrders } from "../../service/orders.js";
import { FormField, refusesText, Select, StatusBadge } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import { type ConsoleApp, guard, pageContext, render } from "../request.js";

/** The columns the list sorts by, and the page sizes it offers. */
const SORTS = ["received", "reference", "authority", "status"] as const;
type Sort = (typeof SORTS)[number];
const SIZES = ["10", "25", "50", "100"] as const;
const DEFAULT_SIZE = "25";
const STATUS_RANK: Record<Order["status"], number> = { pending: 0, approved: 1, rejected: 2, withdrawn: 3 };

interface ListQuery {
  status: string;
  enforcement: string;
  jurisdiction: string;
  q: string;
  authority: string;
  meetingId: string;
  accountId: string;
  sort: Sort;
  /** Ascending; the default (received) is newest first. */
  asc: boolean;
  size: string;
  page: number;
}

/** The list's address with `change` applied: the filters kept, so sorting and paging never lose them. */
function listHref(query: ListQuery, change: Partial<ListQuery>): string {
  const q = { ...query, ...change };
  const params = new URLSearchParams();
  for (const key of [
    "status",
    "enforcement",
    "jurisdiction",
    "q",
    "authority",
    "meetingId",
    "accountId",
  ] as const) {
    if (q[key]) params.set(key, q[key]);
  }
  if (q.sort !== "received" || q.asc) params.set("sort", q.sort);
  if (q.sort !== "received" || q.asc) params.set("dir", q.asc ? "asc" : "desc");
  if (q.size !== DEFAULT_SIZE) params.set("size", q.size);
  if (q.page > 1) params.set("page", String(q.page));
  const text = params.toString();
  return `/console/orders${text ? `?${text}` : ""}`;
}

function compare(sort: Sort): (a: Order, b: Order) => number {
  const received = (a: Order, b: Order) =>
    a.receivedAt.localeCompare(b.receivedAt) ||
    a.createdAt.localeCompare(b.createdAt) ||
    a.id.localeCompare(b.id);
  switch (sort) {
    case "received":
      return received;
    case "reference":
      return (a, b) => a.reference.localeCompare(b.reference, "en", { numeric: true }) || received(a, b);
    case "authority":
      return (a, b) => a.authority.name.localeCompare(b.authority.name, "en") || received(a, b);
    case "status":
      return (a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || received(a, b);
  }
}

/** A column head: a link that sorts by it (the other way when it is the current sort), and `aria-sort`. */
function SortHead(props: { ctx: PageContext; query: ListQuery; column: Sort; label: string }) {
  const { query, column, label } = props;
  const current = query.sort === column;
  // A fresh sort starts where a reader expects: the newest received first, A to Z otherwise.
  const asc = current ? !query.asc : column !== "received";
  return (
    <th scope="col" class="sort" aria-sort={current ? (query.asc ? "ascending" : "descending") : undefined}>
      <a href={listHref(query, { sort: column, asc, page: 1 })} aria-label={props.ctx.t.volSortBy(label)}>
        {label}
        {current ? <span aria-hidden="true">{query.asc ? " ▲" : " ▼"}</span> : null}
      </a>
    </th>
  );
}

function OrdersTable(props: { ctx: PageContext; orders: Order[]; caption: string; query: ListQuery }) {
  const { ctx, query } = props;
  const { t, lang } = ctx;
  const head = (column: Sort, label: string) => (
    <SortHead ctx={ctx} query={query} column={column} label={label} />
  );
  return (
    <table class="cards" id="orders">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {head("reference", t.reference)}
          {head("authority", t.authority)}
          <th scope="col">{t.refuses}</th>
          <th scope="col">{t.target}</th>
          {head("status", t.status)}
          {head("received", t.received)}
        </tr>
      </thead>
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
            <td data-label={t.status}>
              <StatusBadge t={t} order={o} />
            </td>
            <td data-label={t.received}>{formatDate(o.receivedAt, lang)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Links to the previous and next page (plain links: no script), under the list. */
function Pager(props: { ctx: PageContext; query: ListQuery; pages: number }) {
  const { ctx, query, pages } = props;
  const { t } = ctx;
  if (pages === 1) return null;
  return (
    <nav class="pager" aria-label={t.volPages}>
      <ul>
        {query.page > 1 ? (
          <li>
            <a href={listHref(query, { page: query.page - 1 })} rel="prev" id="previous-page">
              {t.volPrevious}
            </a>
          </li>
        ) : null}
        {query.page < pages ? (
          <li>
            <a href={listHref(query, { page: query.page + 1 })} rel="next" id="next-page">
              {t.volNext}
            </a>
          </li>
        ) : null}
      </ul>
    </nav>
  );
}

function OrdersPage(props: {
  ctx: PageContext;
  orders: Order[];
  total: number;
  pages: number;
  query: ListQuery;
  error?: string | undefined;
}) {
  const { ctx, query } = props;
  const { t } = ctx;
  const sortLabel = {
    received: t.received,
    reference: t.reference,
    authority: t.authority,
    status: t.status,
  }[query.sort];
  const text = (id: "q" | "authority" | "meetingId" | "accountId", label: string, type = "search") => (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        type={type}
        id={id}
        name={id}
        value={query[id]}
        maxlength={id === "q" || id === "authority" ? 200 : 128}
      />
    </div>
  );
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
          {text("q", t.search)}
          {text("authority", t.volAuthoritySearch)}
          {text("meetingId", t.volMeetingIdSearch, "text")}
          {text("accountId", t.volAccountIdSearch, "text")}
          <div class="field">
            <label for="size">{t.volPageSize}</label>
            <Select id="size" value={query.size} options={SIZES.map((n) => [n, n] as const)} />
          </div>
        </div>
        {/* The sort survives a new search; the page starts again at 1. */}
        {query.sort !== "received" || query.asc ? (
          <>
            <input type="hidden" name="sort" value={query.sort} />
            <input type="hidden" name="dir" value={query.asc ? "asc" : "desc"} />
          </>
        ) : null}
        <button type="submit">{t.apply}</button>
      </form>
      {props.total === 0 ? (
        <p>{t.noOrders}</p>
      ) : (
        <>
          <p id="page-of">{t.volPageOf(query.page, props.pages, props.total)}</p>
          <OrdersTable
            ctx={ctx}
            orders={props.orders}
            query={query}
            caption={`${t.ordersTitle} (${props.total}). ${t.volSortedBy(sortLabel, query.asc)}`}
          />
          <Pager ctx={ctx} query={query} pages={props.pages} />
        </>
      )}
    </Layout>
  );
}

export function registerOrders(con: ConsoleApp, s: ServerServices): void {
  con.get("/orders", guard("readOrders"), async (c) => {
    const status = OrderStatus.safeParse(c.req.query("status")).data;
    const enforcement = Enforcement.safeParse(c.req.query("enforcement")).data;
    const text = (key: string, max: number) => (c.req.query(key) ?? "").trim().slice(0, max);
    const sort = SORTS.find((x) => x === c.req.query("sort")) ?? "received";
    const size = SIZES.find((x) => x === c.req.query("size")) ?? DEFAULT_SIZE;
    const query: ListQuery = {
      status: status ?? "",
      enforcement: enforcement ?? "",
      jurisdiction: text("jurisdiction", 10).toUpperCase(),
      q: text("q", 200),
      authority: text("authority", 200),
      meetingId: text("meetingId", 128),
      accountId: text("accountId", 128),
      sort,
      asc: c.req.query("dir") === undefined ? sort !== "received" : c.req.query("dir") === "asc",
      size,
      page: 1,
    };
    const badJurisdiction = query.jurisdiction !== "" && !isJurisdiction(query.jurisdiction);
    // A value the list does not take (an address edited by hand, or an old link): the list uses its
    // default for it, and the page says which with a 400, as for a malformed jurisdiction.
    const takes: [string, (value: string) => boolean][] = [
      ["status", (v) => OrderStatus.safeParse(v).success],
      ["enforcement", (v) => Enforcement.safeParse(v).success],
      ["sort", (v) => SORTS.some((x) => x === v)],
      ["dir", (v) => v === "asc" || v === "desc"],
      ["size", (v) => SIZES.some((x) => x === v)],
      ["page", (v) => /^[1-9][0-9]{0,8}$/.test(v)],
    ];
    const unknown = takes.flatMap(([key, ok]) => {
      const value = c.req.query(key);
      return value === undefined || value === "" || ok(value) ? [] : [`${key}=${value.slice(0, 40)}`];
    });
    // The API's filters (the same service as GET /v1/orders), then the authority's name, which the
    // API does not search.
    const authority = query.authority.toLowerCase();
    const matching = filterOrders(
      await s.orders.listOrders(),
      {
        status,
        enforcement,
        // A malformed jurisdiction filters nothing; the page says what is wrong with it.
        jurisdiction: badJurisdiction ? undefined : query.jurisdiction || undefined,
        meetingId: query.meetingId || undefined,
        accountId: query.accountId || undefined,
        q: query.q,
      },
      s.clock(),
    ).filter((o) => !authority || o.authority.name.toLowerCase().includes(authority));
    const order = compare(sort);
    matching.sort(query.asc ? order : (a, b) => order(b, a));
    const perPage = Number(size);
    const pages = Math.max(1, Math.ceil(matching.length / perPage));
    const asked = Number.parseInt(c.req.query("page") ?? "1", 10);
    query.page = Math.min(pages, Math.max(1, Number.isFinite(asked) ? asked : 1));
    const shown = matching.slice((query.page - 1) * perPage, query.page * perPage);
    const words = VALIDATION[c.get("lang")];
    const problems = [
      ...(badJurisdiction ? [words.badJurisdictionFilter] : []),
      ...(unknown.length > 0 ? [words.unknownListValues(unknown)] : []),
    ];
    const error = problems.length > 0 ? problems.join(" ") : undefined;
    return render(
      c,
      <OrdersPage
        ctx={pageContext(c)}
        orders={shown}
        total={matching.length}
        pages={pages}
        query={query}
        error={error}
      />,
      problems.length > 0 ? 400 : 200,
    );
  });
}
