/** The review queue: pending orders, each marked when the reader entered it (four eyes: not theirs). */
import { type Order, withEnforcement } from "../../engine/index.js";
import type { ServerServices } from "../../http/services.js";
import { formatDate } from "../../i18n/console.js";
import { refusesText } from "../components.js";
import { Layout, type PageContext } from "../layout.js";
import { type ConsoleApp, guard, pageContext, render } from "../request.js";

function ReviewPage(props: { ctx: PageContext; orders: Order[] }) {
  const { ctx } = props;
  const { t, lang } = ctx;
  return (
    <Layout ctx={ctx} title={t.reviewTitle}>
      {props.orders.length === 0 ? (
        <p>{t.reviewEmpty}</p>
      ) : (
        <ul>
          {props.orders.map((o) => (
            <li>
              <a
                href={`/console/orders/${encodeURIComponent(o.id)}`}
              >{`${o.reference} – ${o.authority.name}`}</a>{" "}
              ({t.refuses}: {refusesText(t, o, lang)}; {t.received} {formatDate(o.receivedAt, lang)})
              {o.createdBy === ctx.principal?.name ? <strong> – {t.yours}</strong> : null}
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}

export function registerReview(con: ConsoleApp, s: ServerServices): void {
  con.get("/review", guard("decideOrder"), async (c) => {
    const now = s.clock();
    const pending = (await s.orders.listOrders())
      .filter((o) => o.status === "pending")
      .map((o) => withEnforcement(o, now));
    return render(c, <ReviewPage ctx={pageContext(c)} orders={pending} />);
  });
}
