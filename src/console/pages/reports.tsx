/**
 * The auditor's pages: the reporting periods with their state (open, provisional, finalized), a period's
 * report as published (the report's own HTML page, framed, under the console's banner saying whether it
 * may still change), finalizing a period (a confirmation, and in plain words when it may be done), and
 * the signed manifest with how to verify it. Everything goes through `ReportService`, as the API does:
 * the frame shows the same bytes `GET /v1/reports/{period}?format=html` serves.
 */
import type { Child } from "hono/jsx";
import type { ServerServices } from "../../http/services.js";
import { formatDate, formatTime, type Strings } from "../../i18n/console.js";
import type { Language } from "../../i18n/language.js";
import { CordonError } from "../../kernel/errors.js";
import { mayAccess } from "../../kernel/roles.js";
import type { Manifest } from "../../report/frozen.js";
import { type Period, parsePeriod } from "../../report/periods.js";
import type { PeriodState } from "../../service/reports.js";
import { Alert, ColumnHeads, Csrf } from "../components.js";
import { pageErrorOf } from "../errors.js";
import { Layout, type PageContext } from "../layout.js";
import type { C, ConsoleApp, PageStatus } from "../request.js";
import { formField, guard, pageContext, render, showError, stringsOf } from "../request.js";

const DAY_MS = 86_400_000;

/** The framed report's own policy: its inline styles, nothing fetched, framed only by the console. */
export const REPORT_FRAME_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

const periodPath = (p: Period) => `/console/reports/${encodeURIComponent(p.id)}`;

/** "First half of 2026", "Quarter 3 of 2026", "July 2026". */
export function periodName(p: Period, t: Strings, lang: Language): string {
  const year = p.id.slice(0, 4);
  if (p.kind === "half") return t.periodHalf(p.id.slice(6), year);
  if (p.kind === "quarter") return t.periodQuarter(p.id.slice(6), year);
  return new Intl.DateTimeFormat(lang === "nl" ? "nl-NL" : "en-GB", {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  }).format(p.start);
}

const iso = (ms: number) => new Date(ms).toISOString();
/** The first and last day it covers. */
const coversText = (p: Period, t: Strings, lang: Language) =>
  t.periodSpan(formatDate(iso(p.start), lang), formatDate(iso(p.end - DAY_MS), lang));

/** When a period may be finalized, in plain words: its end plus the grace days. */
function finalizeFromText(p: Period, graceDays: number, t: Strings, lang: Language) {
  return {
    from: formatDate(iso(p.end + graceDays * DAY_MS), lang),
    end: formatDate(iso(p.end), lang),
    days: t.graceDays(graceDays),
  };
}

function PeriodsPage(props: { ctx: PageContext; periods: { period: Period; state: PeriodState }[] }) {
  const { ctx } = props;
  const { t, lang, principal } = ctx;
  const heads = [t.reportPeriod, t.reportCovers, t.reportState, t.reportLinks];
  return (
    <Layout ctx={ctx} title={t.reportsTitle}>
      <p>{t.reportsIntro}</p>
      {props.periods.length === 0 ? (
        <p>{t.reportsNone}</p>
      ) : (
        <table class="cards" id="periods">
          <ColumnHeads labels={heads} />
          <tbody>
            {props.periods.map(({ period: p, state }) => (
              <tr data-period={p.id}>
                <td data-label={heads[0]}>
                  {periodName(p, t, lang)} <code>{p.id}</code>
                </td>
                <td data-label={heads[1]}>{coversText(p, t, lang)}</td>
                <td data-label={heads[2]}>
                  <span class={`badge state-${state}`}>{t.reportStates[state]}</span>
                </td>
                <td data-label={heads[3]}>
                  <ul class="inline">
                    <li>
                      <a href={periodPath(p)} aria-label={`${t.reportPreview}: ${p.id}`}>
                        {t.reportPreview}
                      </a>
                    </li>
                    {state === "finalized" ? (
                      <li>
                        <a href={`${periodPath(p)}/manifest`} aria-label={`${t.reportManifest}: ${p.id}`}>
                          {t.reportManifest}
                        </a>
                      </li>
                    ) : null}
                    {state === "provisional" && mayAccess(principal, "finalizeReports") ? (
                      <li>
                        <a href={`${periodPath(p)}/finalize`} aria-label={`${t.reportFinalize}: ${p.id}`}>
                          {t.reportFinalize}
                        </a>
                      </li>
                    ) : null}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}

function PreviewPage(props: {
  ctx: PageContext;
  period: Period;
  state: PeriodState;
  manifest?: Manifest | undefined;
}) {
  const { ctx, period: p, state } = props;
  const { t, lang, principal } = ctx;
  const frame = `${periodPath(p)}/report.html?lang=${lang}`;
  return (
    <Layout ctx={ctx} title={t.reportTitle(periodName(p, t, lang))}>
      <p>
        <span class={`badge state-${state}`}>{t.reportStates[state]}</span> <code>{p.id}</code> –{" "}
        {coversText(p, t, lang)}
      </p>
      {props.manifest ? (
        <p class="flash" id="report-banner">
          {t.reportFinalizedBanner(formatTime(props.manifest.finalizedAt, lang))}
        </p>
      ) : (
        <p class="alert" id="report-banner">
          {t.reportProvisional}
        </p>
      )}
      <ul class="inline">
        <li>
          <a href={frame}>{t.reportOpenAlone}</a>
        </li>
        {props.manifest ? (
          <li>
            <a href={`${periodPath(p)}/manifest`}>{t.reportManifest}</a>
          </li>
        ) : null}
        {!props.manifest && state === "provisional" && mayAccess(principal, "finalizeReports") ? (
          <li>
            <a href={`${periodPath(p)}/finalize`}>{t.reportFinalize}</a>
          </li>
        ) : null}
        <li>
          <a href="/console/reports">{t.reportBackToList}</a>
        </li>
      </ul>
      <iframe class="report-frame" id="report-frame" src={frame} title={t.reportFrameTitle(p.id)} />
    </Layout>
  );
}

function FinalizePage(props: {
  ctx: PageContext;
  period: Period;
  graceDays: number;
  now: number;
  finalized: boolean;
  error?: string | undefined;
  invalid?: boolean;
}) {
  const { ctx, period: p } = props;
  const { t, lang } = ctx;
  const when = finalizeFromText(p, props.graceDays, t, lang);
  const ready = props.now >= p.end + props.graceDays * DAY_MS;
  return (
    <Layout ctx={ctx} title={t.finalizeTitle(p.id)}>
      <Alert message={props.error} />
      {props.finalized ? (
        <>
          <p>{t.finalizeAlready(p.id)}</p>
          <p>
            <a href={`${periodPath(p)}/manifest`}>{t.reportManifest}</a>
          </p>
        </>
      ) : (
        <>
          <p>{t.finalizeIntro}</p>
          <p id="finalize-when">
            {t.finalizeFrom(when.from, when.end, when.days)} {ready ? t.finalizeReady : t.finalizeNotYet}
          </p>
          <p>
            <a href={periodPath(p)}>{t.reportPreview}</a>
          </p>
          <form method="post" action={`${periodPath(p)}/finalize`} class="decide" novalidate>
            <Csrf ctx={ctx} />
            <div class="field">
              <label class="check">
                <input
                  type="checkbox"
                  name="confirm"
                  value="yes"
                  id="confirm"
                  aria-invalid={props.invalid ? "true" : undefined}
                  aria-describedby={props.invalid ? "confirm-error" : undefined}
                />
                {t.finalizeConfirm}
              </label>
              {props.invalid ? (
                <p class="error-text" id="confirm-error">
                  {t.finalizeConfirmMissing}
                </p>
              ) : null}
            </div>
            <button type="submit" class="danger">
              {t.finalizeButton(p.id)}
            </button>
          </form>
        </>
      )}
      <p>
        <a href="/console/reports">{t.reportBackToList}</a>
      </p>
    </Layout>
  );
}

function ManifestPage(props: {
  ctx: PageContext;
  period: Period;
  manifest: Manifest;
  flash?: string | undefined;
}) {
  const { ctx, period: p, manifest: m } = props;
  const { t, lang } = ctx;
  const row = (label: string, value: Child) => (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
  const formats = Object.entries(m.sha256);
  const command = `npm run cli -- verify-report --data-dir ./data --public-key ${m.signer.publicKey} ${p.id}`;
  return (
    <Layout ctx={ctx} title={t.manifestTitle(p.id)}>
      <Alert message={props.flash} kind="flash" />
      <p>{t.manifestIntro}</p>
      <dl class="fields" id="manifest-fields">
        {row(t.reportPeriod, `${periodName(p, t, lang)} (${p.id})`)}
        {row(t.manifestFinalizedAt, formatTime(m.finalizedAt, lang))}
        {row(
          t.manifestRecords,
          <code>{t.manifestMerkle(String(m.records.count), m.records.merkleRoot)}</code>,
        )}
        {row(t.manifestLate, <code>{t.manifestMerkle(String(m.late.count), m.late.merkleRoot)}</code>)}
        {row(t.manifestAudit, <code>{t.manifestAuditHead(String(m.audit.seq), m.audit.hash)}</code>)}
        {row(t.manifestSigner, `${m.signer.alg}`)}
        {row(t.manifestKeyId, <code>{m.signer.keyId}</code>)}
        {row(t.manifestPublicKey, <code id="public-key">{m.signer.publicKey}</code>)}
        {row(t.manifestSignature, <code id="signature">{m.signature}</code>)}
      </dl>
      <h2 id="hashes-title">{t.manifestHashes}</h2>
      <table class="cards" id="manifest-hashes" aria-labelledby="hashes-title">
        <ColumnHeads labels={[t.manifestFormat, "SHA-256"]} />
        <tbody>
          {formats.map(([format, hash]) => (
            <tr>
              <td data-label={t.manifestFormat}>{format}</td>
              <td data-label="SHA-256">
                <code>{hash}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t.manifestCounts}</h2>
      <dl class="fields" id="manifest-counts">
        {row(t.manifestRequests, String(m.counts.requests))}
        {row(t.manifestPendingAtEnd, String(m.counts.pendingAtEnd))}
        {row(t.deniedJoins, String(m.counts.deniedJoins))}
        {row(t.shadowMatches, String(m.counts.shadowMatches))}
        {row(t.manifestLate, String(m.counts.lateRecords))}
      </dl>
      <h2 id="verify-title">{t.manifestVerifyTitle}</h2>
      <p>{t.manifestVerifyCli}</p>
      <pre class="command" id="verify-command">
        <code>{command}</code>
      </pre>
      <p>{t.manifestVerifyRedis}</p>
      <p>{t.manifestVerifyByHand}</p>
      <ul class="inline">
        <li>
          <a href={`${periodPath(p)}/manifest.json`} download={`cordon-${p.id}-manifest.json`}>
            {t.manifestDownload}
          </a>
        </li>
        <li>
          <a href={periodPath(p)}>{t.reportPreview}</a>
        </li>
        <li>
          <a href="/console/reports">{t.reportBackToList}</a>
        </li>
      </ul>
    </Layout>
  );
}

export function registerReports(con: ConsoleApp, s: ServerServices): void {
  /** The period the path names, or the error page (404: no such report). */
  const periodParam = (c: C): Period | undefined => parsePeriod(c.req.param("period") ?? "");
  const noPeriod = (c: C) => showError(c, stringsOf(c).reportNoSuchPeriod, 404);
  const notStarted = (c: C, p: Period) => showError(c, stringsOf(c).finalizeNotStarted(p.id), 404);

  const stateOf = async (p: Period): Promise<{ state: PeriodState; manifest?: Manifest }> => {
    const manifest = await s.reports.manifest(p);
    if (manifest) return { state: "finalized", manifest };
    return { state: s.clock() < p.end ? "open" : "provisional" };
  };

  con.get("/reports", guard("readReports"), async (c) => {
    const periods = (await s.reports.periods()).flatMap(({ period, state }) => {
      const p = parsePeriod(period);
      return p ? [{ period: p, state }] : [];
    });
    return render(c, <PeriodsPage ctx={pageContext(c)} periods={periods} />);
  });

  con.get("/reports/:period", guard("readReports"), async (c) => {
    const p = periodParam(c);
    if (!p) return noPeriod(c);
    if (p.start > s.clock()) return notStarted(c, p);
    const { state, manifest } = await stateOf(p);
    return render(c, <PreviewPage ctx={pageContext(c)} period={p} state={state} manifest={manifest} />);
  });

  // The report's own standalone page, as the API serves it, for the preview's frame.
  con.get("/reports/:period/report.html", guard("readReports"), async (c) => {
    const p = periodParam(c);
    if (!p) return noPeriod(c);
    if (p.start > s.clock()) return notStarted(c, p);
    const published = await s.reports.publication(p, { format: "html", lang: c.get("lang") });
    return c.body(published.text, 200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": REPORT_FRAME_CSP,
      "x-frame-options": "SAMEORIGIN",
      "x-cordon-provisional": String(published.provisional),
    });
  });

  const finalizePage = async (
    c: C,
    p: Period,
    opts: { error?: string; invalid?: boolean; status?: PageStatus } = {},
  ) => {
    const { state } = await stateOf(p);
    return render(
      c,
      <FinalizePage
        ctx={pageContext(c, `${periodPath(p)}/finalize`)}
        period={p}
        graceDays={s.reports.graceDays}
        now={s.clock()}
        finalized={state === "finalized"}
        error={opts.error}
        invalid={opts.invalid ?? false}
      />,
      opts.status ?? 200,
    );
  };

  con.get("/reports/:period/finalize", guard("finalizeReports"), async (c) => {
    const p = periodParam(c);
    if (!p) return noPeriod(c);
    if (p.start > s.clock()) return notStarted(c, p);
    return finalizePage(c, p);
  });

  con.post("/reports/:period/finalize", guard("finalizeReports"), async (c) => {
    const p = periodParam(c);
    if (!p) return noPeriod(c);
    const t = stringsOf(c);
    if (p.start > s.clock()) return notStarted(c, p);
    if (formField(c, "confirm") !== "yes") {
      return finalizePage(c, p, { error: t.finalizeConfirmMissing, invalid: true, status: 400 });
    }
    try {
      await s.reports.finalize(p);
    } catch (err) {
      if (err instanceof CordonError && err.code === "FINALIZE_TOO_EARLY") {
        const when = finalizeFromText(p, s.reports.graceDays, t, c.get("lang"));
        return finalizePage(c, p, {
          error: t.finalizeTooEarly(p.id, when.from, when.end, when.days),
          status: 409,
        });
      }
      const shown = err instanceof CordonError ? pageErrorOf(err, t) : undefined;
      if (shown === undefined) throw err;
      return finalizePage(c, p, { error: shown.message, status: shown.status });
    }
    return c.redirect(`${periodPath(p)}/manifest?done=finalized`, 303);
  });

  con.get("/reports/:period/manifest", guard("readReports"), async (c) => {
    const p = periodParam(c);
    if (!p) return noPeriod(c);
    if (p.start > s.clock()) return notStarted(c, p);
    const manifest = await s.reports.manifest(p);
    const t = stringsOf(c);
    if (!manifest) return showError(c, t.manifestNotFinalized(p.id), 404);
    const flash = c.req.query("done") === "finalized" ? t.finalizeDone(p.id) : undefined;
    return render(c, <ManifestPage ctx={pageContext(c)} period={p} manifest={manifest} flash={flash} />);
  });

  con.get("/reports/:period/manifest.json", guard("readReports"), async (c) => {
    const p = periodParam(c);
    if (!p) return noPeriod(c);
    if (p.start > s.clock()) return notStarted(c, p);
    const manifest = await s.reports.manifest(p);
    if (!manifest) return showError(c, stringsOf(c).manifestNotFinalized(p.id), 404);
    return c.body(`${JSON.stringify(manifest, null, 2)}\n`, 200, {
      "content-type": "application/json; charset=utf-8",
      "content-disposition": `attachment; filename="cordon-${p.id}-manifest.json"`,
    });
  });
}
