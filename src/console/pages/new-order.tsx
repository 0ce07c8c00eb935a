/**
 * The new-order form: fields with their hints and errors tied to them, an error summary linking to each
 * field in error, the country's regions on request, a plain-words preview, then submission for a second
 * person's approval (`submitOrder`, as in the API). Nothing is stored before the submit.
 */
import { normaliseBlocks, precisionWarnings } from "../../engine/index.js";
import { geoPrecision } from "../../geo/interface.js";
import type { ServerServices } from "../../http/services.js";
import { orderPreview, type Strings } from "../../i18n/console.js";
import { placeName } from "../../i18n/places.js";
import { CordonError } from "../../kernel/errors.js";
import { submitOrder } from "../../service/orders.js";
import {
  ActionChoice,
  Alert,
  Csrf,
  describedBy,
  ErrorSummary,
  FieldError,
  FormField,
  placeList,
  Select,
} from "../components.js";
import { pageErrorOf } from "../errors.js";
import { Layout, type PageContext } from "../layout.js";
import {
  countriesSorted,
  countryError,
  emptyForm,
  FIELDS,
  type Field,
  type FormErrors,
  type OrderForm,
  readForm,
  regionsOf,
  validate,
} from "../order-form.js";
import type { C, ConsoleApp, PageStatus } from "../request.js";
import { formField, guard, pageContext, principalOf, render, stringsOf } from "../request.js";

const LABELS = (t: Strings): Record<Field, string> => ({
  reference: t.reference,
  authorityName: t.authorityName,
  authorityKind: t.authorityKind,
  country: t.country,
  authorityJurisdiction: t.authorityJurisdiction,
  jurisdictions: t.jurisdictions,
  targetKind: t.targetKind,
  targetIds: t.targetIds,
  action: t.orderAction,
  exemptAccountIds: t.exemptAccountIds,
  receivedAt: t.receivedAt,
  effectiveFrom: t.effectiveFrom,
  effectiveUntil: t.effectiveUntil,
  mode: t.mode,
  accountType: t.accountType,
  accountLocation: t.accountLocation,
  notes: t.notes,
});

function FieldText(props: { id: Field; errors: FormErrors; hint?: string | undefined }) {
  return (
    <>
      {props.hint ? (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      <FieldError id={props.id} message={props.errors[props.id]} />
    </>
  );
}

/** A list of ids, one per line or comma separated: the order's targets, or the accounts it exempts. */
function IdsField(props: {
  id: "targetIds" | "exemptAccountIds";
  label: string;
  optional?: string;
  hint: string;
  form: OrderForm;
  errors: FormErrors;
}) {
  const { id, errors } = props;
  return (
    <FormField id={id} label={props.label} optional={props.optional}>
      <FieldText id={id} errors={errors} hint={props.hint} />
      <textarea
        id={id}
        name={id}
        aria-describedby={describedBy(id, errors, true)}
        aria-invalid={errors[id] ? "true" : undefined}
      >
        {props.form[id]}
      </textarea>
    </FormField>
  );
}

/** A country to choose, by name in the page's language, or `none` (the empty value). */
function CountrySelect(props: {
  id: "country" | "accountLocation";
  form: OrderForm;
  errors: FormErrors;
  none: string;
  hinted?: boolean;
  countries: readonly { code: string; name: string }[];
}) {
  const { id, errors } = props;
  return (
    <Select
      id={id}
      value={props.form[id]}
      options={[["", props.none], ...props.countries.map((c): [string, string] => [c.code, c.name])]}
      describedBy={describedBy(id, errors, props.hinted ?? false)}
      invalid={!!errors[id]}
    />
  );
}

/** One choice of a few, as radio buttons in a fieldset; `choices` maps each value to its label, in order. */
function Radios(props: { name: string; legend: string; value: string; choices: Record<string, string> }) {
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      {Object.entries(props.choices).map(([value, label]) => (
        <label>
          <input type="radio" name={props.name} value={value} checked={props.value === value} />
          {label}
        </label>
      ))}
    </fieldset>
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
        aria-describedby={describedBy(id, errors, !!props.hint)}
        aria-invalid={errors[id] ? "true" : undefined}
      />
    </div>
  );
}

function NewOrderPage(props: {
  ctx: PageContext;
  form: OrderForm;
  errors: FormErrors;
  preview?: string | undefined;
  /** The preview's line on exempt accounts, when the order has any. */
  exempt?: string | undefined;
  /** What the preview must warn of: blocks the configured location source cannot judge. */
  warnings?: string[] | undefined;
  error?: string | undefined;
}) {
  const { ctx, form, errors } = props;
  const { t, lang } = ctx;
  const labels = LABELS(t);
  const countries = countriesSorted(lang);
  // Regions only for a country that exists: a posted code that is not one is shown as an error instead.
  const country = errors.country ? "" : form.country;
  const regions = country ? regionsOf(country) : [];
  const jurisdictionOptions: [string, string][] = country
    ? [
        [form.country, placeName(form.country, lang)],
        ...regions.map((r): [string, string] => [r.code, placeName(r.code, lang)]),
      ]
    : [];
  return (
    <Layout ctx={ctx} title={t.newTitle}>
      <Alert message={props.error} />
      <ErrorSummary t={t} errors={errors} labels={labels} legends={["jurisdictions", "action"]} />
      {props.preview ? (
        <section class="preview" aria-labelledby="preview-title">
          <h2 id="preview-title">{t.previewTitle}</h2>
          <p id="preview-text">{props.preview}</p>
          {props.exempt ? <p id="preview-exempt">{props.exempt}</p> : null}
          {(props.warnings ?? []).map((w) => (
            <div class="alert" role="alert">
              {w}
            </div>
          ))}
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
            describedBy={describedBy("authorityKind", errors, false)}
            invalid={!!errors.authorityKind}
          />
        </div>
        <div class="field">
          <label for="country">{t.country}</label>
          <FieldText id="country" errors={errors} hint={t.countryHint} />
          <CountrySelect
            id="country"
            form={form}
            errors={errors}
            none={t.chooseCountry}
            hinted
            countries={countries}
          />
          <div class="actions">
            <button type="submit" name="intent" value="regions" class="secondary">
              {t.showRegions}
            </button>
          </div>
        </div>
        {country ? (
          <>
            <div class="field">
              <label for="authorityJurisdiction">{t.authorityJurisdiction}</label>
              <FieldText id="authorityJurisdiction" errors={errors} />
              <Select
                id="authorityJurisdiction"
                value={form.authorityJurisdiction || form.country}
                options={jurisdictionOptions}
                describedBy={describedBy("authorityJurisdiction", errors, false)}
                invalid={!!errors.authorityJurisdiction}
              />
            </div>
            <fieldset
              class="regions"
              aria-describedby={describedBy("jurisdictions", errors, true)}
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
        <Radios name="targetKind" legend={t.targetKind} value={form.targetKind} choices={t.targetKinds} />
        <IdsField id="targetIds" label={t.targetIds} hint={t.targetIdsHint} form={form} errors={errors} />
        <ActionChoice t={t} value={form.action} error={errors.action} />
        <IdsField
          id="exemptAccountIds"
          label={t.exemptAccountIds}
          optional={t.optional}
          hint={t.exemptHint}
          form={form}
          errors={errors}
        />
        {(
          [
            ["receivedAt", t.dateHint, undefined],
            ["effectiveFrom", t.effectiveFromHint, t.optional],
            ["effectiveUntil", t.effectiveUntilHint, t.optional],
          ] as const
        ).map(([id, hint, optional]) => (
          <TextInput
            id={id}
            type="date"
            label={t[id]}
            value={form[id]}
            errors={errors}
            hint={hint}
            optional={optional}
          />
        ))}
        <Radios name="mode" legend={t.mode} value={form.mode} choices={t.modes} />
        <FormField id="accountType" label={t.accountType} optional={t.optional}>
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
            describedBy={describedBy("accountType", errors, false)}
            invalid={!!errors.accountType}
          />
        </FormField>
        <FormField id="accountLocation" label={t.accountLocation} optional={t.optional}>
          <FieldText id="accountLocation" errors={errors} />
          <CountrySelect
            id="accountLocation"
            form={form}
            errors={errors}
            none={t.notSet}
            countries={countries}
          />
        </FormField>
        <FormField id="notes" label={t.notes} optional={t.optional}>
          <FieldText id="notes" errors={errors} />
          <textarea id="notes" name="notes" aria-describedby={describedBy("notes", errors, false)}>
            {form.notes}
          </textarea>
        </FormField>
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

export function registerNewOrder(con: ConsoleApp, s: ServerServices): void {
  const newOrderPage = (
    c: C,
    form = emptyForm(),
    opts: {
      errors?: FormErrors;
      preview?: string;
      exempt?: string | undefined;
      warnings?: string[];
      error?: string;
    } = {},
    status: PageStatus = 200,
  ) =>
    render(
      c,
      <NewOrderPage
        ctx={pageContext(c, "/console/orders/new")}
        form={form}
        errors={opts.errors ?? {}}
        preview={opts.preview}
        exempt={opts.exempt}
        warnings={opts.warnings}
        error={opts.error}
      />,
      status,
    );
  con.get("/orders/new", guard("createOrder"), (c) => newOrderPage(c));
  con.post("/orders/new", guard("createOrder"), async (c) => {
    const lang = c.get("lang");
    const form = readForm(c.get("form"));
    const intent = formField(c, "intent");
    if (intent === "regions") {
      const error = form.country ? countryError(form, lang) : undefined;
      return error ? newOrderPage(c, form, { errors: { country: error } }, 400) : newOrderPage(c, form);
    }
    const result = validate(form, lang);
    if (!result.ok) return newOrderPage(c, form, { errors: result.errors }, 400);
    if (intent !== "submit") {
      const t = stringsOf(c);
      const warnings = precisionWarnings(
        normaliseBlocks(result.input.jurisdictions),
        geoPrecision(s.geo),
      ).map((w) => t.needsCityDatabase(placeList(w.jurisdictions, lang)));
      const exempt = result.input.exemptAccountIds ?? [];
      return newOrderPage(c, form, {
        preview: orderPreview(result.input, lang),
        exempt: exempt.length > 0 ? t.exemptLine(exempt.join(", ")) : undefined,
        warnings,
      });
    }
    try {
      const order = await submitOrder(s, result.input, principalOf(c).name);
      return c.redirect(`/console/orders/${encodeURIComponent(order.id)}?done=created`, 303);
    } catch (err) {
      const shown = err instanceof CordonError ? pageErrorOf(err, stringsOf(c)) : undefined;
      if (!(err instanceof CordonError) || shown === undefined) throw err;
      // A rule broken at entry (I1) names the field it concerns: the message goes next to it.
      const field = FIELDS.find((f) => f === err.issues?.[0]?.path);
      return field
        ? newOrderPage(c, form, { errors: { [field]: shown.message } }, shown.status)
        : newOrderPage(c, form, { error: shown.message }, shown.status);
    }
  });
}
