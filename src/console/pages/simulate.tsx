/**
 * The check simulator: what a join would get right now, through the same `evaluate` as the check
 * route, with the participant's address validated by the same `Ip` schema. Nothing is written.
 */
import { z } from "zod";
import { AccountId, type Decision, MeetingId } from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { placeName } from "../../i18n/places.js";
import { VALIDATION } from "../../i18n/validation.js";
import { evaluate, Ip } from "../../service/check.js";
import { Csrf } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import type { Field, FormErrors } from "../order-form.js";
import { type ConsoleApp, formField, guard, pageContext, render } from "../request.js";

const SimulateInput = z.object({ meetingId: MeetingId, ip: Ip, accountId: AccountId.optional() });

interface SimulateValues {
  meetingId: string;
  ip: string;
  accountId: string;
}

function SimulatePage(props: {
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

export function registerSimulate(con: ConsoleApp, s: ServerServices): void {
  const empty: SimulateValues = { meetingId: "", ip: "", accountId: "" };
  con.get("/simulate", guard("readOrders"), (c) =>
    render(c, <SimulatePage ctx={pageContext(c)} values={empty} errors={{}} />),
  );
  con.post("/simulate", guard("readOrders"), async (c) => {
    const values: SimulateValues = {
      meetingId: formField(c, "meetingId"),
      ip: formField(c, "ip"),
      accountId: formField(c, "accountId"),
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
      return render(c, <SimulatePage ctx={pageContext(c)} values={values} errors={errors} />, 400);
    }
    // The record `evaluate` builds is dropped on purpose: a simulation is not a join and must not count
    // in the decision log or any report (I5 counts real checks only).
    const { decision } = await evaluate(s, s.rulesets.current(), parsed.data, s.clock(), c.get("lang"));
    return render(c, <SimulatePage ctx={pageContext(c)} values={values} errors={{}} decision={decision} />);
  });
}
