/**
 * The review queue: pending orders and pending amendments, oldest first, each with how long it has
 * waited, who entered it, what approving does in plain words (the new-order preview's text) and the
 * would-be impact (`service/impact.ts`: the joins of the last 30 days it would have refused), marked
 * when the reader entered it (four eyes: not theirs).
 */
import { type Order, type OrderInput, withEnforcement } from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { formatTime, orderPreview, type Strings } from "../../i18n/console.js";
import type { Language } from "../../i18n/language.js";
import { samePrincipal } from "../../kernel/roles.js";
import {
  IMPACT_DAYS,
  type Impact,
  type ImpactScope,
  impactServiceFor,
  type PendingItem,
  pendingItems,
  scopeKey,
} from "../../service/impact.js";
import { refusesText } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import { type ConsoleApp, guard, pageContext, render } from "../request.js";

/** The input an approval would enforce: the order's, or the order's with the amendment's changes. */
export function inputOf(item: Pick<PendingItem, "order" | "amendment">): OrderInput {
  const input: Record<string, unknown> = { ...item.order };
  for (const [key, value] of Object.entries(item.amendment?.changes ?? {})) {
    if (value === null) delete input[key];
    else if (value !== undefined) input[key] = value;
  }
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

function ReviewPage(props: {
  ctx: PageContext;
  items: PendingItem[];
  impacts: Map<string, Impact>;
  now: number;
}) {
  const { ctx } = props;
  const { t, lang } = ctx;
  // Every impact comes from the same reading of the log: one note for all of them.
  const first = props.items[0] && props.impacts.get(scopeKey(props.items[0].scope));
  return (
    <Layout ctx={ctx} title={t.reviewTitle}>
      {props.items.length === 0 ? (
        <p>{t.reviewEmpty}</p>
      ) : (
        <>
          {first ? (
            <p class="hint" id="impact-note">
              {impactNote(t, lang, first)}
            </p>
          ) : null}
          <p id="review-count">{`${t.reviewTitle}: ${props.items.length}`}</p>
          <ul class="queue" id="review">
            {props.items.map((item) => {
              const { order: o, amendment: a } = item;
              const since = a ? a.proposedAt : o.createdAt;
              const by = a ? a.proposedBy : o.createdBy;
              const yours = ctx.principal !== undefined && samePrincipal(ctx.principal.name, by);
              const id = `${o.id}${a ? `-${a.id}` : ""}`;
              return (
                <li id={`item-${id}`}>
                  <h2>
                    <a href={`/console/orders/${encodeURIComponent(o.id)}`}>
                      {`${a ? t.volAmendmentOf(o.reference) : o.reference} – ${o.authority.name}`}
                    </a>
                  </h2>
                  <p class="hint">
                    {t.refuses}: {refusesText(t, withEnforcement(o, props.now), lang)}
                  </p>
                  <dl class="fields">
                    <dt>{t.volKind}</dt>
                    <dd class="kind">{a ? t.volAmendment : t.volNewOrder}</dd>
                    <dt>{t.volAge}</dt>
                    <dd class="age">{t.volAgeText(props.now - Date.parse(since))}</dd>
                    <dt>{a ? t.volProposer : t.volCreator}</dt>
                    <dd class="creator">
                      {by}
                      {yours ? <strong> – {t.yours}</strong> : null}
                    </dd>
                    <dt>{t.volEffect}</dt>
                    <dd class="effect">{orderPreview(inputOf(item), lang)}</dd>
                    <dt>{t.volImpact}</dt>
                    <dd class="would-refuse">
                      <ImpactText t={t} lang={lang} impact={props.impacts.get(scopeKey(item.scope))} />
                    </dd>
                  </dl>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </Layout>
  );
}

export function registerReview(con: ConsoleApp, s: ServerServices): void {
  con.get("/review", guard("decideOrder"), async (c) => {
    const { items, impacts } = await pendingImpacts(s, await s.orders.listOrders());
    // Oldest first: what has waited longest is reviewed first.
    const since = (i: PendingItem) => (i.amendment ? i.amendment.proposedAt : i.order.createdAt);
    items.sort((a, b) => since(a).localeCompare(since(b)));
    return render(c, <ReviewPage ctx={pageContext(c)} items={items} impacts={impacts} now={s.clock()} />);
  });
}
