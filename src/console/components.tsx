/**
 * Pieces several console pages show: the CSRF field, alerts, fields and selects, an order's state and
 * places, and what approving a pending order or amendment does (its input, its would-be impact).
 */
import type { Child } from "hono/jsx";
import { type Order, OrderAction, type OrderInput } from "../engine/index.js";
import type { ServerServices } from "../http/services.js";
import { formatTime, type Strings } from "../i18n/console.js";
import type { Language } from "../i18n/language.js";
import { placeName } from "../i18n/places.js";
import {
  IMPACT_DAYS,
  type Impact,
  type ImpactScope,
  impactServiceFor,
  type PendingItem,
  pendingItems,
} from "../service/impact.js";
import type { PageContext } from "./layout.js";

export const Csrf = (props: { ctx: PageContext }) => (
  <input type="hidden" name="csrf" value={props.ctx.csrf} />
);

export const Alert = (props: { message?: string | undefined; kind?: "flash" | "alert" }) =>
  props.message ? (
    <div class={props.kind ?? "alert"} role={props.kind === "flash" ? "status" : "alert"}>
      {props.message}
    </div>
  ) : null;

export function Select(props: {
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

/** "approved · active": the status, and for an approved order where its enforcement stands. */
export const statusText = (t: Strings, o: Order) =>
  `${t.statuses[o.status]}${o.status === "approved" ? ` · ${t.enforcements[o.enforcement]}` : ""}`;

/**
 * The order's status as a badge: its words (`statusText`) always, and a colour per status as a second
 * carrier (`.status-<status>` in assets.ts, each at least 4.5:1 against its text), never the only one.
 */
export const StatusBadge = (props: { t: Strings; order: Order }) => (
  <span class={`badge status-${props.order.status}`}>{statusText(props.t, props.order)}</span>
);

/** Whom an order refuses, where ("hosts located in Mahārāshtra, India"), and that a shadow order refuses nobody. */
export const refusesText = (t: Strings, o: Order, lang: Language) =>
  `${t.refusedWhere(o.action ?? "geoblock", placeList(o.jurisdictions, lang))}${o.mode === "shadow" ? ` (${t.shadowOnly})` : ""}`;

export const placeList = (codes: readonly string[], lang: Language) =>
  codes.map((c) => placeName(c, lang)).join("; ");

/** A table's column headers (the `cards` tables repeat each one as its cells' `data-label` at phone width). */
export const ColumnHeads = (props: { labels: readonly string[] }) => (
  <thead>
    <tr>
      {props.labels.map((label) => (
        <th scope="col">{label}</th>
      ))}
    </tr>
  </thead>
);

/**
 * A form field: its label (with the form's "optional" word, when given), a hint when it has one
 * (`<id>-hint`, for `aria-describedby`), and its controls.
 */
export function FormField(props: {
  id: string;
  label: string;
  optional?: string;
  hint?: Child;
  children?: Child;
}) {
  return (
    <div class="field">
      <label for={props.id}>
        {props.label}
        {props.optional === undefined ? null : ` ${props.optional}`}
      </label>
      {props.hint === undefined ? null : (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.children}
    </div>
  );
}

/**
 * The input an approval would enforce: the order's, or the order's with the amendment's changes. An
 * approved order without a start date has been in force since its approval: the amended input names that
 * date (as the amendment page's sentence does), not "from the moment it is approved".
 */
export function inputOf(item: Pick<PendingItem, "order" | "amendment">): OrderInput {
  const input: Record<string, unknown> = { ...item.order };
  for (const [key, value] of Object.entries(item.amendment?.changes ?? {})) {
    if (value === null) delete input[key];
    else if (value !== undefined) input[key] = value;
  }
  if (item.amendment && item.order.status === "approved") input.effectiveFrom ??= item.order.decidedAt;
  return input as OrderInput;
}

/** How the would-be impact was counted, when, up to which check, and whether it is still counting. */
export function impactNote(t: Strings, lang: Language, impact: Impact): string {
  const note = t.volImpactNote(
    formatTime(new Date(impact.computedAt).toISOString(), lang),
    impact.through === undefined ? undefined : formatTime(impact.through, lang),
  );
  return impact.complete ? note : `${note} ${t.volImpactPartial}`;
}

/** The would-be impact in words: the count, and (`note`) when and from which checks it was computed. */
export function ImpactText(props: {
  t: Strings;
  lang: Language;
  impact: Impact | undefined;
  id?: string;
  note?: boolean;
}) {
  const { t, lang, impact } = props;
  if (!impact) return null;
  return (
    <>
      <span class="impact" id={props.id}>
        {t.volImpactText(impact.joins, IMPACT_DAYS)}
      </span>
      {props.note ? <span class="hint"> {impactNote(t, lang, impact)}</span> : null}
    </>
  );
}

/** The impact of every pending order and amendment, computed together (the service tracks them all). */
export async function pendingImpacts(
  s: ServerServices,
  orders: readonly Order[],
): Promise<{ items: PendingItem[]; impacts: Map<string, Impact> }> {
  const items = pendingItems(orders);
  const scopes: ImpactScope[] = items.map((i) => i.scope);
  const impacts = await impactServiceFor(s.decisions, s.clock).impacts(scopes);
  return { items, impacts };
}

/** aria-describedby for a field: its hint, then its error (the ids `FieldError` and the hints use). */
export const describedBy = (
  id: string,
  errors: Readonly<Record<string, string | undefined>>,
  hint: boolean,
) => [hint ? `${id}-hint` : "", errors[id] ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;

/** A field's error in words, `<id>-error`, named by the field's aria-describedby. */
export function FieldError(props: { id: string; message?: string | undefined }) {
  return props.message ? (
    <p class="error-text" id={`${props.id}-error`}>
      {props.message}
    </p>
  ) : null;
}

/** The order's action (geoblock, prevent hosting) as radio choices, each with its hint: new order and amendment. */
export function ActionChoice(props: { t: Strings; value: string; error?: string | undefined }) {
  const { t, error } = props;
  return (
    <fieldset aria-describedby={error ? "action-error" : undefined} aria-invalid={error ? "true" : undefined}>
      <legend id="action-legend" tabindex={-1}>
        {t.orderAction}
      </legend>
      <FieldError id="action" message={error} />
      {OrderAction.options.map((action) => (
        <div class="choice">
          <label>
            <input
              type="radio"
              name="action"
              value={action}
              checked={props.value === action}
              aria-describedby={`action-${action}-hint`}
            />
            {t.orderActions[action]}
          </label>
          <p class="hint" id={`action-${action}-hint`}>
            {t.orderActionHints[action]}
          </p>
        </div>
      ))}
    </fieldset>
  );
}

/**
 * The error summary above a form: each field's error, linked to its control, or for a group of choices
 * (`legends`) to the group's legend (`<field>-legend`).
 */
export function ErrorSummary<F extends string>(props: {
  t: Strings;
  errors: Partial<Record<F, string>>;
  labels: Record<F, string>;
  legends: readonly F[];
}) {
  const { errors, labels } = props;
  const fields = (Object.keys(errors) as F[]).filter((f) => errors[f]);
  if (fields.length === 0) return null;
  return (
    <div class="summary" role="alert" aria-labelledby="error-summary-title">
      <h2 id="error-summary-title">{props.t.errorSummary}</h2>
      <ul>
        {fields.map((f) => (
          <li>
            <a href={`#${props.legends.includes(f) ? `${f}-legend` : f}`}>{`${labels[f]}: ${errors[f]}`}</a>
          </li>
        ))}
      </ul>
    </div>
  );
}
