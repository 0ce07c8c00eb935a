/**
 * The check simulator: what a join would get right now, through the same `evaluate` as the check
 * route, with the participant's address or a dial-in caller's number validated by the same `Ip` and
 * `Phone` schemas and the same exactly-one rule (`requireOneLocator`), for a participant or a host.
 * Nothing is written.
 */
import { z } from "zod";
import { AccountId, CheckRole, type Decision, MeetingId } from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { placeName } from "../../i18n/places.js";
import { translateMessage, VALIDATION } from "../../i18n/validation.js";
import { evaluate, Ip, located, Phone, requireOneLocator } from "../../service/check.js";
import { Csrf } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import type { Field, FormErrors } from "../order-form.js";
import { type ConsoleApp, formField, guard, pageContext, render, stringsOf } from "../request.js";

const SimulateInput = z
  .object({
    meetingId: MeetingId,
    ip: Ip.optional(),
    phone: Phone.optional(),
    accountId: AccountId.optional(),
    role: CheckRole,
  })
  .superRefine(requireOneLocator);

interface SimulateValues {
  meetingId: string;
  ip: string;
  phone: string;
  accountId: string;
  role: CheckRole;
}

function SimulatePage(props: {
  ctx: PageContext;
  values: SimulateValues;
  errors: Partial<Record<keyof SimulateValues, string>>;
  decision?: Decision | undefined;
  /** The authority's case reference of each order the decision names, by order id (people know those). */
  references?: ReadonlyMap<string, string>;
}) {
  const { ctx, values, decision: d } = props;
  const { t, lang } = ctx;
  const errors = props.errors as FormErrors;
  const input = (
    id: Exclude<keyof SimulateValues, "role">,
    label: string,
    optional?: string,
    /** `own`: the locator hint is shown here; `shared`: the field is described by the one above. */
    hint?: "own" | "shared",
  ) => (
    <div class="field">
      <label for={id}>
        {label} {optional ?? ""}
      </label>
      {hint === "own" ? (
        <p class="hint" id="locator-hint">
          {t.locatorHint}
        </p>
      ) : null}
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
        aria-describedby={
          [hint ? "locator-hint" : "", errors[id as Field] ? `${id}-error` : ""].filter(Boolean).join(" ") ||
          undefined
        }
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
        {input("ip", t.ip, undefined, "own")}
        {input("phone", t.phone, undefined, "shared")}
        {input("accountId", t.accountId, t.optional)}
        <fieldset>
          <legend>{t.checkRole}</legend>
          {CheckRole.options.map((role) => (
            <label>
              <input type="radio" name="role" value={role} checked={values.role === role} />
              {t.checkRoles[role]}
            </label>
          ))}
        </fieldset>
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
            <dt>{t.geoSource}</dt>
            <dd id="geo-source">{t.geoSources[d.geo.source]}</dd>
            <dt>{t.explanation}</dt>
            <dd id="explanation">
              {d.code === "BLOCKED" && values.role === "host" ? t.hostBlocked : t.codes[d.code]}
              {d.jurisdiction ? ` (${placeName(d.jurisdiction, lang)})` : ""}
            </dd>
            {d.orderIds.length > 0 ? (
              <>
                <dt>{t.orderIds}</dt>
                <dd>
                  {d.orderIds.map((id, i) => (
                    <>
                      {i > 0 ? ", " : ""}
                      <a href={`/console/orders/${encodeURIComponent(id)}`}>
                        {props.references?.get(id) ?? id}
                      </a>
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

export function registerSimulate(con: ConsoleApp, s: ServerServices): void {
  const empty: SimulateValues = { meetingId: "", ip: "", phone: "", accountId: "", role: "participant" };
  con.get("/simulate", guard("readOrders"), (c) =>
    render(c, <SimulatePage ctx={pageContext(c)} values={empty} errors={{}} />),
  );
  con.post("/simulate", guard("readOrders"), async (c) => {
    const values: SimulateValues = {
      meetingId: formField(c, "meetingId"),
      ip: formField(c, "ip"),
      phone: formField(c, "phone"),
      accountId: formField(c, "accountId"),
      role: formField(c, "role") === "host" ? "host" : "participant",
    };
    const parsed = SimulateInput.safeParse({
      meetingId: values.meetingId,
      role: values.role,
      ...(values.ip ? { ip: values.ip } : {}),
      ...(values.phone ? { phone: values.phone } : {}),
      ...(values.accountId ? { accountId: values.accountId } : {}),
    });
    if (!parsed.success) {
      const t = stringsOf(c);
      const errors: Partial<Record<keyof SimulateValues, string>> = {};
      for (const issue of parsed.error.issues) {
        const key = issue.path[0] as keyof SimulateValues;
        // The exactly-one rule speaks of API fields (`ip`, `phone`): the page says it in plain words.
        const locator =
          key === "ip" && values.ip === "" && values.phone === ""
            ? t.locatorMissing
            : key === "phone" && values.ip !== "" && values.phone !== ""
              ? t.locatorBoth
              : undefined;
        errors[key] ??=
          locator ??
          (issue.code === "invalid_type" || values[key] === ""
            ? VALIDATION[c.get("lang")].required
            : translateMessage(issue.message, c.get("lang")));
      }
      return render(c, <SimulatePage ctx={pageContext(c)} values={values} errors={errors} />, 400);
    }
    // The record `evaluate` builds is dropped on purpose: a simulation is not a join and must not count
    // in the decision log or any report (I5 counts real checks only).
    const { decision } = await evaluate(
      s,
      s.rulesets.current(),
      located(parsed.data),
      s.clock(),
      c.get("lang"),
    );
    const references = new Map<string, string>();
    for (const id of decision.orderIds) {
      const order = await s.orders.getOrder(id);
      if (order) references.set(id, order.reference);
    }
    return render(
      c,
      <SimulatePage
        ctx={pageContext(c)}
        values={values}
        errors={{}}
        decision={decision}
        references={references}
      />,
    );
  });
}
