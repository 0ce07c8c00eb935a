/** Pieces several console pages show: the CSRF field, alerts, fields and selects, an order's state and places. */
import type { Child } from "hono/jsx";
import type { Order } from "../engine/index.js";
import type { Strings } from "../i18n/console.js";
import type { Language } from "../i18n/language.js";
import { placeName } from "../i18n/places.js";
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
