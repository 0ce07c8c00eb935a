/**
 * The review queue: pending orders and pending amendments, oldest first, each with how long it has
 * waited, who entered it, what approving does in plain words (the new-order preview's text) and the
 * would-be impact (`service/impact.ts`: the joins of the last 30 days it would have refused), marked
 * when the reader entered it (four eyes: not theirs).
 */
import { withEnforcement } from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { orderPreview } from "../../i18n/console.js";
import { samePrincipal } from "../../kernel/roles.js";
import { type Impact, type PendingItem, scopeKey } from "../../service/impact.js";
import { ImpactText, impactNote, inputOf, pendingImpacts, refusesText } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import { type ConsoleApp, guard, pageContext, render } from "../request.js";

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
                    <a
                      href={`/console/orders/${encodeURIComponent(o.id)}${a ? `/amendments/${encodeURIComponent(a.id)}` : ""}`}
                    >
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
