/**
 * One order: its state and fields, what it enforced so far (from the report's aggregates, so the page
 * and the report count alike), the enforcement events its block gave (from the event store, newest
 * first), its audit history, and the approve, reject and withdraw forms the reader's role may use. Changes go through `changeOrder`, as in the API (roles, four eyes, audit).
 */
import type { Child } from "hono/jsx";
import {
  type Amendment,
  ApproveRequest,
  type Order,
  type OrderStep,
  ReasonCode,
  RejectRequest,
  WithdrawRequest,
  withEnforcement,
  withWarnings,
} from "../../engine/index.js";
import { geoPrecision } from "../../geo/interface.js";
import type { ServerServices } from "../../http/services.js";
import {
  enforcementEventText,
  formatDate,
  formatTime,
  orderPreview,
  type Strings,
} from "../../i18n/console.js";
import { placeName } from "../../i18n/places.js";
import { CordonError, NotFoundError } from "../../kernel/errors.js";
import { type Access, mayAccess, samePrincipal } from "../../kernel/roles.js";
import type { OrderTotals } from "../../report/model.js";
import { type Impact, orderScope, scopeKey } from "../../service/impact.js";
import { changeOrder } from "../../service/orders.js";
import type { OrderEvents } from "../../store/enforcement-events.js";
import type { AuditEntry } from "../../store/interface.js";
import {
  Alert,
  ColumnHeads,
  Csrf,
  ImpactText,
  inputOf,
  pendingImpacts,
  placeList,
  StatusBadge,
} from "../components.js";
import { pageErrorOf } from "../errors.js";
import { Layout, type PageContext } from "../layout.js";
import type { C, ConsoleApp, PageStatus } from "../request.js";
import { formField, guard, pageContext, principalOf, render, stringsOf } from "../request.js";
import { AmendmentsSection } from "./amendments.js";

/** Each life-cycle form's wording and weight: approving takes an optional note, the others a reason. */
const REASON_FORMS = {
  approve: (t: Strings) => ({ label: t.approveNote, button: t.approve, required: false, danger: false }),
  reject: (t: Strings) => ({ label: t.rejectReason, button: t.reject, required: true, danger: true }),
  withdraw: (t: Strings) => ({ label: t.withdrawReason, button: t.withdraw, required: true, danger: true }),
};

function ReasonForm(props: { ctx: PageContext; order: Order; action: keyof typeof REASON_FORMS }) {
  const form = REASON_FORMS[props.action](props.ctx.t);
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
        <label for={id}>{form.label}</label>
        <textarea id={id} name={name} required={form.required} maxlength={2000} />
      </div>
      {props.action === "reject" ? (
        <div class="field">
          <label for="reject-reason-code">{props.ctx.t.reasonCodeLabel}</label>
          <select id="reject-reason-code" name="reasonCode">
            {ReasonCode.options.map((code) => (
              <option value={code} selected={code === "other"}>
                {props.ctx.t.reasonCodes[code]}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <button type="submit" class={form.danger ? "danger" : undefined}>
        {form.button}
      </button>
    </form>
  );
}

/** The newest events the page lists; an order gives one or two per change, so this is years of them. */
const EVENT_LIMIT = 100;

/**
 * The order's enforcement events, newest first, or why there are none. When the store has dropped
 * events past its retention and the order was approved before that window, the list says what it covers.
 */
function EnforcementEvents(props: {
  ctx: PageContext;
  order: Order;
  events: OrderEvents;
  retentionMs: number;
  now: number;
}) {
  const { t, lang } = props.ctx;
  const { events, more, trimmed } = props.events;
  const since = props.now - props.retentionMs;
  // Only an approved order can have given events (withdrawn: possibly before it was withdrawn).
  const { status, decidedAt } = props.order;
  const enforced = (status === "approved" || status === "withdrawn") && decidedAt !== undefined;
  const partial = trimmed && enforced && Date.parse(decidedAt) < since;
  const kept = partial
    ? t.eventsKept(
        t.hoursSpan(Math.round(props.retentionMs / 3_600_000)),
        formatTime(new Date(since).toISOString(), lang),
      )
    : undefined;
  const action = props.order.action ?? "geoblock";
  return (
    <>
      <h2 id="events-title">{t.enforcementEvents}</h2>
      <p class="hint">{t.eventsNote}</p>
      {events.length === 0 ? (
        kept === undefined ? (
          <p id="no-events">{props.order.mode === "shadow" ? t.noEventsShadow : t.noEvents}</p>
        ) : null
      ) : (
        <table class="cards" id="enforcement-events" aria-labelledby="events-title">
          <ColumnHeads labels={[t.when, t.eventWhat, t.rulesetVersion]} />
          <tbody>
            {events.map((e) => (
              <tr>
                <td data-label={t.when}>{formatTime(e.at, lang)}</td>
                <td data-label={t.eventWhat}>{enforcementEventText(e, action, lang)}</td>
                <td data-label={t.rulesetVersion}>{String(e.rulesetVersion)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {kept === undefined && !more ? null : (
        <p class="hint" id="events-window">
          {[kept, more ? t.eventsNewest(EVENT_LIMIT) : undefined].filter(Boolean).join(" ")}
        </p>
      )}
    </>
  );
}

/** The order's exempt accounts: how many, what that means, and each id. */
function Exemptions(props: { t: Strings; ids: readonly string[] }) {
  if (props.ids.length === 0) return <>{props.t.noExemptions}</>;
  return (
    <>
      {props.t.exemptCount(props.ids.length)}
      <ul id="exempt-accounts">
        {props.ids.map((id) => (
          <li>
            <code>{id}</code>
          </li>
        ))}
      </ul>
    </>
  );
}

function OrderPage(props: {
  ctx: PageContext;
  order: Order;
  audit: AuditEntry[];
  counts: OrderTotals;
  events: OrderEvents;
  /** The order's amendments (the shown order, `withEnforcement`, no longer carries them). */
  amendments: readonly Amendment[];
  retentionMs: number;
  now: number;
  error?: string | undefined;
  flash?: string | undefined;
  /** What approving would do, for the approver (a pending order only). */
  approval?: { effect: string; impact: Impact | undefined } | undefined;
}) {
  const { ctx, order: o } = props;
  const { t, lang, principal } = ctx;
  const decider = mayAccess(principal, "decideOrder") && o.status === "pending";
  // The creator and the importer may not decide (I7): the forms are not offered to them.
  const isCreator =
    principal !== undefined &&
    (samePrincipal(principal.name, o.createdBy) ||
      (o.importedBy !== undefined && samePrincipal(principal.name, o.importedBy)));
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
      {(o.warnings ?? []).map((w) => (
        <Alert message={t.needsCityDatabase(placeList(w.jurisdictions, lang))} />
      ))}
      <h2>{t.state}</h2>
      <p>
        <StatusBadge t={t} order={o} />
      </p>
      <h2>{t.fields}</h2>
      <dl class="fields">
        {row(t.reference, o.reference)}
        {row(
          t.authority,
          `${o.authority.name} (${t.kinds[o.authority.kind]}, ${placeName(o.authority.jurisdiction, lang)})`,
        )}
        {row(t.blocks, placeList(o.jurisdictions, lang))}
        {row(t.orderAction, t.orderActions[o.action ?? "geoblock"])}
        {row(t.exemptAccountIds, <Exemptions t={t} ids={o.exemptAccountIds ?? []} />)}
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
        {o.reasonCode ? row(t.reasonCodeLabel, t.reasonCodes[o.reasonCode]) : null}
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
        {row(t.removedParticipants, String(props.counts.removedParticipants ?? 0))}
        {row(t.shadowMatches, String(props.counts.shadowMatches))}
        {row(
          t.hostedWhere,
          props.counts.meetingsHostedInside === undefined
            ? t.hostedUnknown
            : t.hostedCounts(props.counts.meetingsHostedInside, props.counts.meetingsHostedOutside ?? 0),
        )}
      </dl>
      <p class="hint">{t.countsNote}</p>
      <EnforcementEvents
        ctx={ctx}
        order={o}
        events={props.events}
        retentionMs={props.retentionMs}
        now={props.now}
      />
      <AmendmentsSection ctx={ctx} order={o} amendments={props.amendments} />
      <h2 id="history-title">{t.history}</h2>
      <table class="cards" id="audit-history" aria-labelledby="history-title">
        <ColumnHeads labels={[t.when, t.who, t.action, t.reasonLabel]} />
        <tbody>
          {props.audit.map((e) => (
            <tr>
              <td data-label={t.when}>{formatTime(e.at, lang)}</td>
              <td data-label={t.who}>{e.actor}</td>
              <td data-label={t.action}>{t.actions[e.action]}</td>
              <td data-label={t.reasonLabel}>{historyText(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {decider && isCreator ? <p class="alert">{t.creatorCannotDecide}</p> : null}
      {decider && !isCreator ? (
        <>
          {props.approval ? (
            <section class="preview" id="approve-summary" aria-labelledby="approve-summary-title">
              <h2 id="approve-summary-title">{t.volApproveSummary}</h2>
              <dl class="fields">
                {row(t.volEffect, <span id="approve-effect">{props.approval.effect}</span>)}
                {row(
                  t.volImpact,
                  <ImpactText t={t} lang={lang} impact={props.approval.impact} id="approve-impact" note />,
                )}
              </dl>
            </section>
          ) : null}
          <ReasonForm ctx={ctx} order={o} action="approve" />
          <ReasonForm ctx={ctx} order={o} action="reject" />
        </>
      ) : null}
      {mayAccess(principal, "withdrawOrder") && (o.status === "pending" || o.status === "approved") ? (
        <ReasonForm ctx={ctx} order={o} action="withdraw" />
      ) : null}
    </Layout>
  );
}

const DONE = ["approved", "rejected", "withdrawn", "created"] as const;
type Done = (typeof DONE)[number];

const TRANSITIONS: [OrderStep["type"], Access, Done][] = [
  ["approve", "decideOrder", "approved"],
  ["reject", "decideOrder", "rejected"],
  ["withdraw", "withdrawOrder", "withdrawn"],
];

export function registerOrder(con: ConsoleApp, s: ServerServices): void {
  const orderPage = async (c: C, id: string, opts: { error?: string; status?: PageStatus } = {}) => {
    const order = await s.orders.getOrder(id);
    if (!order) throw new NotFoundError(`no order ${id}`);
    const [audit, counts, events] = await Promise.all([
      s.orders.readAudit({ orderId: id }),
      s.reports.orderTotals(id),
      s.enforcementEvents.eventsFor(id, EVENT_LIMIT),
    ]);
    const now = s.clock();
    const done = DONE.find((d) => d === c.req.query("done"));
    // The approver sees what approving does before the button: the effect and the would-be impact.
    const approval =
      order.status === "pending" && mayAccess(c.get("session")?.principal, "decideOrder")
        ? {
            effect: orderPreview(inputOf({ order }), c.get("lang")),
            impact: (await pendingImpacts(s, await s.orders.listOrders())).impacts.get(
              scopeKey(orderScope(order)),
            ),
          }
        : undefined;
    return render(
      c,
      <OrderPage
        ctx={pageContext(c, `/console/orders/${id}`)}
        order={withWarnings(withEnforcement(order, now), geoPrecision(s.geo))}
        audit={audit}
        counts={counts}
        events={events}
        amendments={order.amendmentLog ?? []}
        retentionMs={s.enforcementEvents.retentionMs}
        now={now}
        error={opts.error}
        flash={done === undefined ? undefined : stringsOf(c)[done]}
        approval={approval}
      />,
      opts.status ?? 200,
    );
  };
  con.get("/orders/:id", guard("readOrders"), (c) => orderPage(c, c.req.param("id")));

  for (const [type, access, done] of TRANSITIONS) {
    con.post(`/orders/:id/${type}`, guard(access), async (c) => {
      const id = c.req.param("id");
      const t = stringsOf(c);
      const text = formField(c, type === "approve" ? "note" : "reason").slice(0, 2000);
      if (type !== "approve" && !text) return orderPage(c, id, { error: t.reasonRequired, status: 400 });
      // The API's body schemas judge the form too: free text without control or bidi characters.
      const parsed = parseBody(type, text, formField(c, "reasonCode"));
      if (!parsed.ok) return orderPage(c, id, { error: parsed.error, status: 400 });
      const action = parsed.action;
      try {
        await changeOrder(s, id, action, principalOf(c).name);
      } catch (err) {
        const shown = err instanceof CordonError ? pageErrorOf(err, t) : undefined;
        // Not found has no order page to show it on: the error page (the console's onError) says it.
        if (shown === undefined || shown.status === 404) throw err;
        return orderPage(c, id, { error: shown.message, status: shown.status });
      }
      return c.redirect(`/console/orders/${encodeURIComponent(id)}?done=${done}`, 303);
    });
  }
}

/** A life-cycle form as the API's body schema reads it: the action, or the first problem. */
function parseBody(
  type: OrderStep["type"],
  text: string,
  reasonCode: string,
): { ok: true; action: OrderStep } | { ok: false; error: string } {
  const fail = (issues: { path: PropertyKey[]; message: string }[]) => ({
    ok: false as const,
    error: issues.map((i) => `${i.path.map(String).join(".")}: ${i.message}`).join("; "),
  });
  switch (type) {
    case "approve": {
      const body = ApproveRequest.safeParse(text ? { note: text } : {});
      return body.success ? { ok: true, action: { type, ...body.data } } : fail(body.error.issues);
    }
    case "reject": {
      const body = RejectRequest.safeParse({ reason: text, ...(reasonCode ? { reasonCode } : {}) });
      return body.success ? { ok: true, action: { type, ...body.data } } : fail(body.error.issues);
    }
    case "withdraw": {
      const body = WithdrawRequest.safeParse({ reason: text });
      return body.success ? { ok: true, action: { type, ...body.data } } : fail(body.error.issues);
    }
  }
}

/** The words that went with an audit entry: the reason or note of the step it records. */
function historyText(e: AuditEntry): string {
  switch (e.action) {
    case "reject":
    case "withdraw":
      return e.order.reason ?? "";
    case "create":
    case "approve":
      return e.order.note ?? "";
    case "propose_amendment":
    case "approve_amendment":
    case "reject_amendment": {
      // The amendment this step touched: the one proposed or decided at the entry's instant.
      const a = e.order.amendmentLog?.findLast((x) => x.proposedAt === e.at || x.decidedAt === e.at);
      if (!a) return "";
      if (e.action === "propose_amendment") return a.reason;
      return e.action === "approve_amendment" ? (a.note ?? "") : (a.rejectionReason ?? "");
    }
  }
}
