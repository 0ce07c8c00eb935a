/**
 * Amendments in the console: a responder proposes a change to a pending or approved order (what it blocks,
 * whom it names, what it does, its exemptions, its window, its mode), sees what changes in plain words
 * before submitting, and a second person approves or rejects it on the amendment's own page, which shows
 * the order before and after (four eyes, I7: the proposer is told why no form is offered, and the server
 * refuses regardless). Every step goes through `amendOrder` / `decideOnAmendment`, as the API does; the
 * form validates with the new-order form's own rules (`order-form.ts`) so its messages are the same plain
 * words, and the order page lists the amendments (`AmendmentsSection`).
 */
import type { Child } from "hono/jsx";
import {
  type Amendment,
  type AmendmentChanges,
  AmendmentRequest,
  ApproveAmendmentRequest,
  beyondRequest,
  countryOf,
  type Order,
  type OrderInput,
  RejectAmendmentRequest,
} from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { formatDate, formatTime, orderPreview, type Strings } from "../../i18n/console.js";
import type { Language } from "../../i18n/language.js";
import { placeName } from "../../i18n/places.js";
import { translateMessage } from "../../i18n/validation.js";
import { CordonError, NotFoundError } from "../../kernel/errors.js";
import { mayAccess, samePrincipal } from "../../kernel/roles.js";
import { amendOrder, decideOnAmendment } from "../../service/orders.js";
import {
  ActionChoice,
  Alert,
  ColumnHeads,
  Csrf,
  describedBy,
  ErrorSummary,
  FieldError,
  FormField,
  placeList,
} from "../components.js";
import { pageErrorOf } from "../errors.js";
import { Layout, type PageContext } from "../layout.js";
import { exemptIdsOf, type OrderForm, regionsOf, targetIdsOf, validate } from "../order-form.js";
import type { C, ConsoleApp, PageStatus } from "../request.js";
import { formField, guard, pageContext, principalOf, render, stringsOf } from "../request.js";

/** The fields the console's amendment form changes (the API can change the others too). */
const EDITABLE = [
  "jurisdictions",
  "targetIds",
  "action",
  "exemptAccountIds",
  "effectiveFrom",
  "effectiveUntil",
  "mode",
] as const;
type Editable = (typeof EDITABLE)[number];
type AmendField = Editable | "reason";
type AmendErrors = Partial<Record<AmendField, string>>;

const orderPath = (o: { id: string }) => `/console/orders/${encodeURIComponent(o.id)}`;
const amendmentPath = (orderId: string, aid: string) =>
  `/console/orders/${encodeURIComponent(orderId)}/amendments/${encodeURIComponent(aid)}`;

/** The order as the new-order form would hold it: what the amendment form starts from. */
function formOf(o: Order): OrderForm {
  const date = (iso: string | undefined) => (iso ? iso.slice(0, 10) : "");
  return {
    reference: o.reference,
    authorityName: o.authority.name,
    authorityKind: o.authority.kind,
    country: countryOf(o.authority.jurisdiction),
    authorityJurisdiction: o.authority.jurisdiction,
    jurisdictions: [...o.jurisdictions],
    targetKind: o.target.kind,
    targetIds: (o.target.kind === "meeting" ? o.target.meetingIds : o.target.accountIds).join("\n"),
    action: o.action ?? "geoblock",
    exemptAccountIds: (o.exemptAccountIds ?? []).join("\n"),
    receivedAt: date(o.receivedAt),
    effectiveFrom: date(o.effectiveFrom),
    effectiveUntil: date(o.effectiveUntil),
    mode: o.mode,
    accountType: o.accountType ?? "",
    accountLocation: o.accountLocation ?? "",
    notes: o.notes ?? "",
  };
}

/** The posted amendment form over the order's own values: only the editable fields are read. */
function postedForm(c: C, base: OrderForm): OrderForm {
  const body = c.get("form");
  const raw = body.jurisdictions;
  const jurisdictions = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .map((j) => j.trim())
    .filter(Boolean);
  return {
    ...base,
    jurisdictions,
    targetIds: formField(c, "targetIds"),
    action: formField(c, "action") || base.action,
    exemptAccountIds: formField(c, "exemptAccountIds"),
    effectiveFrom: formField(c, "effectiveFrom"),
    effectiveUntil: formField(c, "effectiveUntil"),
    mode: formField(c, "mode") || base.mode,
  };
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");

/** The changes the form makes, as the API takes them: only what differs from the order. */
function changesOf(form: OrderForm, base: OrderForm, input: OrderInput): AmendmentChanges {
  const changes: AmendmentChanges = {};
  if (!sameSet(form.jurisdictions, base.jurisdictions)) changes.jurisdictions = input.jurisdictions;
  if (!sameSet(targetIdsOf(form), targetIdsOf(base))) changes.target = input.target;
  if (form.action !== base.action) changes.action = input.action;
  if (!sameSet(exemptIdsOf(form), exemptIdsOf(base)))
    changes.exemptAccountIds = input.exemptAccountIds ?? null;
  if (form.effectiveFrom !== base.effectiveFrom) changes.effectiveFrom = input.effectiveFrom ?? null;
  if (form.effectiveUntil !== base.effectiveUntil) changes.effectiveUntil = input.effectiveUntil ?? null;
  if (form.mode !== base.mode) changes.mode = input.mode;
  return changes;
}

/** The order's fields with the changes applied (`null` removes one): what an approval would make it. */
function applied(o: Order, changes: AmendmentChanges): Order {
  const out: Record<string, unknown> = { ...o };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete out[key];
    else if (value !== undefined) out[key] = value;
  }
  return out as Order;
}

/** A message for a field in plain words: never an API field's name. */
function plain(field: AmendField, message: string, t: Strings): string {
  if (field === "effectiveUntil" && /effectiveFrom|the start date|ingangsdatum/.test(message))
    return t.amendUntilBeforeFrom;
  return message;
}

/** The form's field for an engine issue's path (`changes.target.meetingIds.0`, or a schema path). */
function fieldOfPath(path: string): AmendField | undefined {
  const head = path.replace(/^changes\./, "").split(".")[0];
  if (head === "target") return "targetIds";
  return (EDITABLE as readonly string[]).includes(head ?? "") ? (head as Editable) : undefined;
}

type Judged =
  | { ok: true; changes: AmendmentChanges; reason: string; after: Order }
  | { ok: false; errors: AmendErrors; error?: string };

/**
 * Judges the posted form as the engine will: the new-order form's rules (schema, I1, exemptions), then
 * the authority's request (I10), then that something changes and a reason is given.
 */
function judge(c: C, order: Order, form: OrderForm, base: OrderForm): Judged {
  const lang = c.get("lang");
  const t = stringsOf(c);
  const errors: AmendErrors = {};
  let error: string | undefined;
  const validated = validate(form, lang);
  if (!validated.ok) {
    for (const [field, message] of Object.entries(validated.errors)) {
      if (message === undefined) continue;
      const f = field as AmendField;
      if ((EDITABLE as readonly string[]).includes(field)) errors[f] ??= plain(f, message, t);
      else error ??= message;
    }
  }
  // I10 as the engine judges it, on what the form names (even when another field is wrong).
  const requested = order.requested ?? { jurisdictions: order.jurisdictions, target: order.target };
  const ids = targetIdsOf(form);
  const granted = {
    jurisdictions: form.jurisdictions,
    target:
      order.target.kind === "meeting"
        ? { kind: "meeting" as const, meetingIds: ids }
        : { kind: "account" as const, accountIds: ids },
  };
  const beyond = beyondRequest(granted, requested);
  const places = beyond
    .filter((i) => i.path[0] === "jurisdictions")
    .flatMap((i) => form.jurisdictions[Number(i.path[1])] ?? []);
  const named = beyond
    .filter((i) => i.path[0] === "target" && i.path.length === 3)
    .flatMap((i) => ids[Number(i.path[2])] ?? []);
  if (places.length > 0) errors.jurisdictions ??= t.amendBeyondRequest(placeList(places, lang));
  if (named.length > 0) errors.targetIds ??= t.amendTargetBeyondRequest(named.join(", "));
  const reason = formField(c, "reason").slice(0, 2000);
  if (!reason) errors.reason = t.amendReasonMissing;
  if (Object.keys(errors).length > 0 || error !== undefined || !validated.ok) {
    return { ok: false, errors, ...(error === undefined ? {} : { error }) };
  }
  const changes = changesOf(form, base, validated.input);
  if (Object.keys(changes).length === 0) return { ok: false, errors: {}, error: t.amendNothing };
  const body = AmendmentRequest.safeParse({ changes, reason });
  if (!body.success) {
    for (const issue of body.error.issues) {
      const path = issue.path.map(String).join(".");
      const field: AmendField | undefined = path === "reason" ? "reason" : fieldOfPath(path);
      const message = translateMessage(issue.message, lang);
      if (field) errors[field] ??= plain(field, message, t);
      else error ??= message;
    }
    return { ok: false, errors, ...(error === undefined ? {} : { error }) };
  }
  return {
    ok: true,
    changes: body.data.changes,
    reason: body.data.reason,
    after: applied(order, body.data.changes),
  };
}

/** Labels of every field an amendment can change (the API's too), for the before/after table. */
function labelOf(key: keyof AmendmentChanges, o: Order, t: Strings): string {
  switch (key) {
    case "reference":
      return t.reference;
    case "authority":
      return t.authority;
    case "jurisdictions":
      return t.blocks;
    case "target":
      return o.target.kind === "meeting" ? t.meetings : t.accounts;
    case "requested":
      return t.amendRequested;
    case "receivedAt":
      return t.received;
    case "effectiveFrom":
      return t.effectiveFrom;
    case "effectiveUntil":
      return t.effectiveUntil;
    case "mode":
      return t.mode;
    case "action":
      return t.orderAction;
    case "exemptAccountIds":
      return t.exemptAccountIds;
    case "accountType":
      return t.accountType;
    case "accountLocation":
      return t.accountLocation;
    case "notes":
      return t.notes;
  }
}

/** A field's value in plain words. */
function fieldText(key: keyof AmendmentChanges, o: Order, t: Strings, lang: Language): string {
  switch (key) {
    case "reference":
      return o.reference;
    case "authority":
      return `${o.authority.name} (${t.kinds[o.authority.kind]}, ${placeName(o.authority.jurisdiction, lang)})`;
    case "jurisdictions":
      return placeList(o.jurisdictions, lang);
    case "target":
      return (o.target.kind === "meeting" ? o.target.meetingIds : o.target.accountIds).join(", ");
    case "requested":
      return o.requested ? placeList(o.requested.jurisdictions, lang) : t.amendAsGranted;
    case "receivedAt":
      return formatDate(o.receivedAt, lang);
    case "effectiveFrom":
      return o.effectiveFrom ? formatDate(o.effectiveFrom, lang) : t.fromApproval;
    case "effectiveUntil":
      return o.effectiveUntil ? formatDate(o.effectiveUntil, lang) : t.noEnd;
    case "mode":
      return t.modes[o.mode];
    case "action":
      return t.orderActions[o.action ?? "geoblock"];
    case "exemptAccountIds":
      return o.exemptAccountIds?.length ? o.exemptAccountIds.join(", ") : t.noExemptions;
    case "accountType":
      return o.accountType ?? t.notSet;
    case "accountLocation":
      return o.accountLocation ? placeName(o.accountLocation, lang) : t.notSet;
    case "notes":
      return o.notes ?? t.notSet;
  }
}

/** What the amendment changes, field by field: the order before and after it. */
function ChangeTable(props: {
  ctx: PageContext;
  before: Order;
  after: Order;
  changes: AmendmentChanges;
  beforeLabel: string;
}) {
  const { t, lang } = props.ctx;
  const keys = (Object.keys(props.changes) as (keyof AmendmentChanges)[]).filter(
    (k) => props.changes[k] !== undefined,
  );
  return (
    <table class="cards" id="amendment-changes" aria-labelledby="changes-title">
      <ColumnHeads labels={[t.amendField, props.beforeLabel, t.amendAfter]} />
      <tbody>
        {keys.map((k) => (
          <tr>
            <th scope="row" data-label={t.amendField}>
              {labelOf(k, props.before, t)}
            </th>
            <td data-label={props.beforeLabel}>{fieldText(k, props.before, t, lang)}</td>
            <td data-label={t.amendAfter}>{fieldText(k, props.after, t, lang)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The amended order in plain words (the new-order preview's sentence) and its exemptions. An approved
 * order without a start date has been in force since its approval: the sentence names that date.
 */
function AfterWords(props: { ctx: PageContext; after: Order }) {
  const { t, lang } = props.ctx;
  const { after } = props;
  const exempt = after.exemptAccountIds ?? [];
  const since = after.status === "approved" ? after.decidedAt : undefined;
  const words = orderPreview({ ...after, effectiveFrom: after.effectiveFrom ?? since } as OrderInput, lang);
  return (
    <>
      <h2 id="after-title">{t.amendAfterTitle}</h2>
      <p id="after-text">{words}</p>
      {exempt.length > 0 ? <p id="after-exempt">{t.exemptLine(exempt.join(", "))}</p> : null}
    </>
  );
}

function AmendPage(props: {
  ctx: PageContext;
  order: Order;
  form: OrderForm;
  reason: string;
  errors: AmendErrors;
  error?: string | undefined;
  preview?: { changes: AmendmentChanges; after: Order } | undefined;
}) {
  const { ctx, order, form, errors } = props;
  const { t, lang } = ctx;
  const labels: Record<AmendField, string> = {
    jurisdictions: t.jurisdictions,
    targetIds: t.targetIds,
    action: t.orderAction,
    exemptAccountIds: t.exemptAccountIds,
    effectiveFrom: t.effectiveFrom,
    effectiveUntil: t.effectiveUntil,
    mode: t.mode,
    reason: t.amendReason,
  };
  const country = countryOf(order.authority.jurisdiction);
  const places = [country, ...regionsOf(country).map((r) => r.code)];
  // A block the picker does not list (a territory under its state) stays offered as it is.
  for (const j of order.jurisdictions) if (!places.includes(j)) places.push(j);
  const depth = new Map(regionsOf(country).map((r) => [r.code, r.depth]));
  return (
    <Layout ctx={ctx} title={t.amendTitle(order.reference)}>
      <p>{t.amendIntro}</p>
      <Alert message={props.error} />
      <ErrorSummary t={t} errors={errors} labels={labels} legends={["jurisdictions", "action", "mode"]} />
      {props.preview ? (
        <section class="preview" aria-labelledby="changes-title">
          <h2 id="changes-title">{t.amendPreviewTitle}</h2>
          <ChangeTable
            ctx={ctx}
            before={order}
            after={props.preview.after}
            changes={props.preview.changes}
            beforeLabel={t.amendBefore}
          />
          <AfterWords ctx={ctx} after={props.preview.after} />
          <p class="hint">{t.amendPreviewNote}</p>
        </section>
      ) : null}
      <form method="post" action={`${orderPath(order)}/amend`} novalidate>
        <Csrf ctx={ctx} />
        <fieldset
          class="regions"
          aria-describedby={describedBy("jurisdictions", errors, true)}
          aria-invalid={errors.jurisdictions ? "true" : undefined}
        >
          <legend id="jurisdictions-legend" tabindex={-1}>
            {t.jurisdictions}
          </legend>
          <p class="hint" id="jurisdictions-hint">
            {t.jurisdictionsHint}
          </p>
          <FieldError id="jurisdictions" message={errors.jurisdictions} />
          {places.map((code) => (
            <label class={depth.has(code) ? `depth-${depth.get(code)}` : undefined}>
              <input
                type="checkbox"
                name="jurisdictions"
                value={code}
                checked={form.jurisdictions.includes(code)}
              />
              {code === country
                ? t.wholeCountry(placeName(code, lang))
                : `${placeName(code, lang).split(", ")[0]} (${code})`}
            </label>
          ))}
        </fieldset>
        <FormField id="targetIds" label={`${t.targetIds} (${t.targetKinds[order.target.kind]})`}>
          <p class="hint" id="targetIds-hint">
            {t.targetIdsHint}
          </p>
          <FieldError id="targetIds" message={errors.targetIds} />
          <textarea
            id="targetIds"
            name="targetIds"
            aria-describedby={describedBy("targetIds", errors, true)}
            aria-invalid={errors.targetIds ? "true" : undefined}
          >
            {form.targetIds}
          </textarea>
        </FormField>
        <ActionChoice t={t} value={form.action} error={errors.action} />
        <FormField id="exemptAccountIds" label={t.exemptAccountIds} optional={t.optional}>
          <p class="hint" id="exemptAccountIds-hint">
            {t.exemptHint}
          </p>
          <FieldError id="exemptAccountIds" message={errors.exemptAccountIds} />
          <textarea
            id="exemptAccountIds"
            name="exemptAccountIds"
            aria-describedby={describedBy("exemptAccountIds", errors, true)}
            aria-invalid={errors.exemptAccountIds ? "true" : undefined}
          >
            {form.exemptAccountIds}
          </textarea>
        </FormField>
        {(
          [
            ["effectiveFrom", t.effectiveFromHint],
            ["effectiveUntil", t.effectiveUntilHint],
          ] as const
        ).map(([id, hint]) => (
          <FormField id={id} label={t[id]} optional={t.optional}>
            <p class="hint" id={`${id}-hint`}>
              {`${hint} ${t.dateHint}`}
            </p>
            <FieldError id={id} message={errors[id]} />
            <input
              type="date"
              id={id}
              name={id}
              value={form[id]}
              aria-describedby={describedBy(id, errors, true)}
              aria-invalid={errors[id] ? "true" : undefined}
            />
          </FormField>
        ))}
        <fieldset>
          <legend id="mode-legend" tabindex={-1}>
            {t.mode}
          </legend>
          <FieldError id="mode" message={errors.mode} />
          {Object.entries(t.modes).map(([value, label]) => (
            <label>
              <input type="radio" name="mode" value={value} checked={form.mode === value} />
              {label}
            </label>
          ))}
        </fieldset>
        <FormField id="reason" label={t.amendReason}>
          <p class="hint" id="reason-hint">
            {t.amendReasonHint}
          </p>
          <FieldError id="reason" message={errors.reason} />
          <textarea
            id="reason"
            name="reason"
            maxlength={2000}
            aria-describedby={describedBy("reason", errors, true)}
            aria-invalid={errors.reason ? "true" : undefined}
          >
            {props.reason}
          </textarea>
        </FormField>
        <div class="actions">
          <button type="submit" name="intent" value="preview" class={props.preview ? "secondary" : undefined}>
            {t.preview}
          </button>
          {props.preview ? (
            <button type="submit" name="intent" value="submit">
              {t.amendSubmit}
            </button>
          ) : null}
        </div>
      </form>
      <p>
        <a href={orderPath(order)}>{t.amendOrderLink}</a>
      </p>
    </Layout>
  );
}

/** Why the order cannot take a proposal now, or undefined. */
function blocked(o: Order, t: Strings): { message: string; pending?: Amendment } | undefined {
  if (o.status !== "pending" && o.status !== "approved")
    return { message: t.amendNotAmendable(t.statuses[o.status]) };
  const pending = (o.amendmentLog ?? []).find((a) => a.status === "pending");
  return pending ? { message: t.amendPending(pending.id), pending } : undefined;
}

function BlockedPage(props: {
  ctx: PageContext;
  order: Order;
  message: string;
  pending?: Amendment | undefined;
}) {
  const { ctx, order } = props;
  return (
    <Layout ctx={ctx} title={ctx.t.amendTitle(order.reference)}>
      <p class="alert" role="alert">
        {props.message}
      </p>
      <ul>
        {props.pending ? (
          <li>
            <a href={amendmentPath(order.id, props.pending.id)}>{props.pending.id}</a>
          </li>
        ) : null}
        <li>
          <a href={orderPath(order)}>{ctx.t.amendOrderLink}</a>
        </li>
      </ul>
    </Layout>
  );
}

function ReviewPage(props: {
  ctx: PageContext;
  order: Order;
  amendment: Amendment;
  before: Order;
  error?: string | undefined;
  flash?: string | undefined;
}) {
  const { ctx, order, amendment: a, before } = props;
  const { t, lang, principal } = ctx;
  const after = applied(before, a.changes);
  const decider = mayAccess(principal, "decideAmendment") && a.status === "pending";
  const isProposer = principal !== undefined && samePrincipal(principal.name, a.proposedBy);
  const row = (label: string, value: Child) => (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
  const base = amendmentPath(order.id, a.id);
  return (
    <Layout ctx={ctx} title={t.amendReviewTitle(a.id, order.reference)}>
      <Alert message={props.error} />
      <Alert message={props.flash} kind="flash" />
      <dl class="fields">
        {row(t.amendStatus, <span class="badge">{t.amendStatuses[a.status]}</span>)}
        {row(t.amendProposedBy, `${a.proposedBy}, ${formatTime(a.proposedAt, lang)}`)}
        {row(t.reasonLabel, a.reason)}
        {a.decidedBy ? row(t.amendDecidedBy, `${a.decidedBy}, ${formatTime(a.decidedAt ?? "", lang)}`) : null}
        {a.note ? row(t.noteLabel, a.note) : null}
        {a.rejectionReason ? row(t.rejectReason, a.rejectionReason) : null}
      </dl>
      {a.status === "lapsed" ? <p>{t.amendLapsed}</p> : null}
      <h2 id="changes-title">{t.amendPreviewTitle}</h2>
      <ChangeTable
        ctx={ctx}
        before={before}
        after={after}
        changes={a.changes}
        beforeLabel={a.status === "pending" ? t.amendBefore : t.amendWas}
      />
      <AfterWords ctx={ctx} after={after} />
      {decider && isProposer ? (
        <p class="alert" id="four-eyes">
          {t.amendProposerCannotDecide}
        </p>
      ) : null}
      {decider && !isProposer ? (
        <>
          <form method="post" action={`${base}/approve`} class="decide">
            <Csrf ctx={ctx} />
            <div class="field">
              <label for="approve-note">{t.approveNote}</label>
              <textarea id="approve-note" name="note" maxlength={2000} />
            </div>
            <button type="submit">{t.amendApprove}</button>
          </form>
          <form method="post" action={`${base}/reject`} class="decide" novalidate>
            <Csrf ctx={ctx} />
            <div class="field">
              <label for="reject-reason">{t.amendRejectReason}</label>
              <textarea id="reject-reason" name="reason" required maxlength={2000} />
            </div>
            <button type="submit" class="danger">
              {t.amendReject}
            </button>
          </form>
        </>
      ) : null}
      <p>
        <a href={orderPath(order)}>{t.amendOrderLink}</a>
      </p>
    </Layout>
  );
}

/** The order page's section: its amendments, each linked, and the link to propose one when it can be. */
export function AmendmentsSection(props: {
  ctx: PageContext;
  order: Order;
  amendments: readonly Amendment[];
}) {
  const { ctx, order: o } = props;
  const { t, lang, principal } = ctx;
  const log = props.amendments;
  const canPropose =
    mayAccess(principal, "amendOrder") && blocked({ ...o, amendmentLog: [...log] }, t) === undefined;
  return (
    <section aria-labelledby="amendments-title">
      <h2 id="amendments-title">{t.amendments}</h2>
      {log.length === 0 ? (
        <p id="no-amendments">{t.amendNone}</p>
      ) : (
        <ul id="amendments">
          {log.map((a) => (
            <li>
              <a href={amendmentPath(o.id, a.id)}>{a.id}</a>
              {` – ${t.amendStatuses[a.status]} – ${a.proposedBy}, ${formatTime(a.proposedAt, lang)}: ${a.reason}`}
            </li>
          ))}
        </ul>
      )}
      {canPropose ? (
        <p>
          <a href={`${orderPath(o)}/amend`} id="propose-amendment">
            {t.amendPropose}
          </a>
        </p>
      ) : null}
    </section>
  );
}

export function registerAmendments(con: ConsoleApp, s: ServerServices): void {
  const load = async (id: string): Promise<Order> => {
    const order = await s.orders.getOrder(id);
    if (!order) throw new NotFoundError(`no order ${id}`);
    return order;
  };

  const amendPage = (
    c: C,
    order: Order,
    opts: {
      form?: OrderForm;
      reason?: string;
      errors?: AmendErrors;
      error?: string | undefined;
      preview?: { changes: AmendmentChanges; after: Order };
    } = {},
    status: PageStatus = 200,
  ) =>
    render(
      c,
      <AmendPage
        ctx={pageContext(c, `${orderPath(order)}/amend`)}
        order={order}
        form={opts.form ?? formOf(order)}
        reason={opts.reason ?? ""}
        errors={opts.errors ?? {}}
        error={opts.error}
        preview={opts.preview}
      />,
      status,
    );

  const blockedPage = (c: C, order: Order, why: { message: string; pending?: Amendment }) =>
    render(
      c,
      <BlockedPage
        ctx={pageContext(c, `${orderPath(order)}/amend`)}
        order={order}
        message={why.message}
        pending={why.pending}
      />,
      409,
    );

  con.get("/orders/:id/amend", guard("amendOrder"), async (c) => {
    const order = await load(c.req.param("id"));
    const why = blocked(order, stringsOf(c));
    return why ? blockedPage(c, order, why) : amendPage(c, order);
  });

  con.post("/orders/:id/amend", guard("amendOrder"), async (c) => {
    const order = await load(c.req.param("id"));
    const t = stringsOf(c);
    const why = blocked(order, t);
    if (why) return blockedPage(c, order, why);
    const base = formOf(order);
    const form = postedForm(c, base);
    const reason = formField(c, "reason").slice(0, 2000);
    const judged = judge(c, order, form, base);
    if (!judged.ok)
      return amendPage(c, order, { form, reason, errors: judged.errors, error: judged.error }, 400);
    const preview = { changes: judged.changes, after: judged.after };
    if (formField(c, "intent") !== "submit") return amendPage(c, order, { form, reason, preview });
    try {
      const amendment = await amendOrder(
        s,
        order.id,
        { changes: judged.changes, reason: judged.reason },
        principalOf(c).name,
      );
      return c.redirect(`${amendmentPath(order.id, amendment.id)}?done=proposed`, 303);
    } catch (err) {
      const shown = err instanceof CordonError ? pageErrorOf(err, t) : undefined;
      if (!(err instanceof CordonError) || shown === undefined || shown.status === 404) throw err;
      // The engine judges again (another amendment may have landed meanwhile): its issues go next to
      // their fields, in the page's words.
      const errors: AmendErrors = {};
      for (const issue of err.issues ?? []) {
        const field = fieldOfPath(issue.path);
        if (field) errors[field] ??= plain(field, translateMessage(issue.message, c.get("lang")), t);
      }
      const error = Object.keys(errors).length > 0 ? undefined : shown.message;
      return amendPage(c, order, { form, reason, errors, error }, shown.status);
    }
  });

  const reviewPage = async (
    c: C,
    orderId: string,
    aid: string,
    opts: { error?: string; status?: PageStatus; flash?: string } = {},
  ) => {
    const order = await load(orderId);
    const amendment = (order.amendmentLog ?? []).find((a) => a.id === aid);
    if (!amendment) throw new NotFoundError(`no amendment ${aid} on order ${orderId}`);
    // The order as it stood when the amendment was proposed: the audit entry of the proposal.
    const audit = await s.orders.readAudit({ orderId });
    const proposed = audit.find((e) => e.action === "propose_amendment" && e.at === amendment.proposedAt);
    const before = amendment.status === "pending" ? order : (proposed?.order ?? order);
    return render(
      c,
      <ReviewPage
        ctx={pageContext(c, amendmentPath(orderId, aid))}
        order={order}
        amendment={amendment}
        before={before}
        error={opts.error}
        flash={opts.flash}
      />,
      opts.status ?? 200,
    );
  };

  const FLASH = { proposed: "amendProposed", approved: "amendApproved", rejected: "amendRejected" } as const;
  con.get("/orders/:id/amendments/:aid", guard("readOrders"), (c) => {
    const done = c.req.query("done");
    const key = done === "proposed" || done === "approved" || done === "rejected" ? FLASH[done] : undefined;
    return reviewPage(c, c.req.param("id"), c.req.param("aid"), key ? { flash: stringsOf(c)[key] } : {});
  });

  for (const type of ["approve", "reject"] as const) {
    con.post(`/orders/:id/amendments/:aid/${type}`, guard("decideAmendment"), async (c) => {
      const id = c.req.param("id");
      const aid = c.req.param("aid");
      const t = stringsOf(c);
      const text = formField(c, type === "approve" ? "note" : "reason").slice(0, 2000);
      if (type === "reject" && !text)
        return reviewPage(c, id, aid, { error: t.amendRejectMissing, status: 400 });
      const parsed =
        type === "approve"
          ? ApproveAmendmentRequest.safeParse(text ? { note: text } : {})
          : RejectAmendmentRequest.safeParse({ reason: text });
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => translateMessage(i.message, c.get("lang"))).join("; ");
        return reviewPage(c, id, aid, { error: message, status: 400 });
      }
      try {
        await decideOnAmendment(
          s,
          id,
          aid,
          type === "approve" ? { type, ...(text ? { note: text } : {}) } : { type, reason: text },
          principalOf(c).name,
        );
      } catch (err) {
        const shown = err instanceof CordonError ? pageErrorOf(err, t) : undefined;
        if (!(err instanceof CordonError) || shown === undefined || shown.status === 404) throw err;
        const message =
          err.code === "FOUR_EYES"
            ? t.amendProposerCannotDecide
            : err.code === "BAD_REQUEST"
              ? (err.issues ?? []).map((i) => translateMessage(i.message, c.get("lang"))).join("; ") ||
                shown.message
              : shown.message;
        return reviewPage(c, id, aid, { error: message, status: shown.status });
      }
      return c.redirect(
        `${amendmentPath(id, aid)}?done=${type === "approve" ? "approved" : "rejected"}`,
        303,
      );
    });
  }
}
