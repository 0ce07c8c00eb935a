/**
 * The report's HTML page: standalone (no external assets, scripts or links), in English or Dutch, with
 * inline SVG bar charts, each followed by a table of the same numbers. Every count below the threshold
 * is shown as "< N". No meeting id, account id, network address, order id or case reference appears.
 * Rendered with Hono's JSX like the console, so every value is escaped. Pure.
 */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import { countryOf } from "../../engine/index.js";
import type { Language } from "../../i18n/language.js";
import { countryName, placeLabel } from "../../i18n/places.js";
import { REPORT_FINALITY_STRINGS, REPORT_FORMATS, REPORT_STRINGS } from "../../i18n/report.js";
import { sha256Hex } from "../../store/merkle.js";
import { hiddenLookup, masked } from "../masked.js";
import { type EnforcementCounts, OUTCOMES, type Outcome, type Report } from "../model.js";
import { parsePeriod } from "../periods.js";
import { renderCsv } from "../render-csv.js";
import { rollUpOf } from "../roll-up.js";
import { BarChart, type ChartRow, type Series } from "./chart.js";
import { lines } from "./lines.js";
import { REPORT_CSS } from "./style.js";
import { CountTable } from "./table.js";

/** Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. */
const OUTCOME_COLOURS: Record<Outcome, string> = {
  complied: "#0072B2",
  partially_complied: "#56B4E9",
  shadow: "#999999",
  rejected: "#D55E00",
  withdrawn: "#E69F00",
};
const DENIED_COLOUR = "#CC79A7";

/**
 * HTML5's void elements without XHTML's closing slash (JSX would add it): a constant, nothing from the
 * report goes into it.
 */
const META = raw(
  '<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">',
);

/** A standalone page in the given language. */
export function renderHtml(report: Report, lang: Language): string {
  // Every component of the page is synchronous, so the element renders to its string at once.
  return `<!doctype html>\n${<ReportPage report={report} lang={lang} />}\n`;
}

function ReportPage({ report, lang }: { report: Report; lang: Language }) {
  const t = REPORT_STRINGS[lang];
  const fin = REPORT_FINALITY_STRINGS[lang];
  const f = REPORT_FORMATS[lang];
  const fmt = (n: number) => f.number.format(n);
  const count = (n: number) => masked(n, report.threshold, fmt);
  const isHidden = hiddenLookup(report.suppressed);
  /** A count as published: "< N" below the threshold or where suppression hides it (`suppress.ts`). */
  const show = (n: number, hidden = false) => (hidden ? masked(-1, report.threshold, fmt) : count(n));
  // "unknown": no account type or location on the order; "": an order the list no longer has.
  const isUnknown = (code: string) => code === "unknown" || code === "";
  const place = (code: string) => (isUnknown(code) ? t.unknown : placeLabel(code, lang));
  const accountType = (code: string) => t.accountTypes[code] ?? (isUnknown(code) ? t.unknown : code);
  // Rows in reading order for the page's language: places by country name, a country before its
  // subdivisions; account types by name; unknown last.
  const byPlace = (a: string, b: string) =>
    f.collator.compare(countryName(countryOf(a), lang), countryName(countryOf(b), lang)) ||
    a.length - b.length ||
    (a < b ? -1 : a > b ? 1 : 0);
  const byName = (a: string, b: string) => f.collator.compare(accountType(a), accountType(b));
  const rowsOf = <T,>(
    record: Record<string, T>,
    label: (code: string) => string,
    order: (a: string, b: string) => number,
  ): [string, T, string][] =>
    Object.entries(record)
      .sort(([a], [b]) => Number(isUnknown(a)) - Number(isUnknown(b)) || order(a, b))
      .map(([code, value]): [string, T, string] => [label(code), value, code]);

  /**
   * Rows keyed by jurisdiction, rolled up: each country's own row, its subdivisions beneath it, and its
   * total (`byCountry`) when it has subdivision rows. A report without the roll-up (built before it)
   * lists its rows as they are.
   */
  const rolledUp = <T,>(
    byCode: Record<string, T>,
    byCountry: Record<string, T> | undefined,
  ): { label: string; value: T; cls?: string; table: "byJurisdiction" | "byCountry"; code: string }[] => {
    const countries = [...new Set(Object.keys(byCode).map(rollUpOf))].sort(
      (a, b) => Number(isUnknown(a)) - Number(isUnknown(b)) || byPlace(a, b),
    );
    const out: {
      label: string;
      value: T;
      cls?: string;
      table: "byJurisdiction" | "byCountry";
      code: string;
    }[] = [];
    for (const c of countries) {
      const subs = Object.keys(byCode)
        .filter((k) => k !== c && rollUpOf(k) === c)
        .sort(byPlace);
      const own = byCode[c];
      const total = byCountry?.[c];
      if (own !== undefined) out.push({ label: place(c), value: own, table: "byJurisdiction", code: c });
      for (const s of subs) {
        out.push({ label: place(s), value: byCode[s] as T, cls: "sub", table: "byJurisdiction", code: s });
      }
      if (subs.length > 0 && total !== undefined) {
        out.push({
          label: t.countryTotal(place(c)),
          value: total,
          cls: "total",
          table: "byCountry",
          code: c,
        });
      }
    }
    return out;
  };

  const r = report.requests;
  const totals: Record<Outcome, number> =
    r.byOutcome ??
    (Object.fromEntries(
      OUTCOMES.map((o) => [o, Object.values(r.byJurisdiction).reduce((sum, c) => sum + c[o], 0)]),
    ) as Record<Outcome, number>);
  const sum = (key: keyof EnforcementCounts) =>
    Object.values(report.enforcement.byJurisdiction).reduce((s, c) => s + c[key], 0);

  const outcomeSeries: Series[] = OUTCOMES.map((o) => ({ name: t.outcome[o], colour: OUTCOME_COLOURS[o] }));
  const outcomeRows = (
    record: Record<string, Record<Outcome, number>>,
    label: (code: string) => string,
    order: (a: string, b: string) => number,
    table: string,
  ): ChartRow[] =>
    rowsOf(record, label, order).map(([name, c, code]) => ({
      label: name,
      values: OUTCOMES.map((o) => c[o]),
      hidden: OUTCOMES.map((o) => isHidden("requests", table, code, o)),
    }));
  const rolledRequests = rolledUp(r.byJurisdiction, r.byCountry);
  const jurisdictionRows: ChartRow[] = rolledRequests.map(({ label, value, table, code }) => ({
    label,
    values: OUTCOMES.map((o) => value[o]),
    hidden: OUTCOMES.map((o) => isHidden("requests", table, code, o)),
  }));
  const jurisdictionClasses = rolledRequests.map((row) => row.cls);
  const accountTypeRows = outcomeRows(r.byAccountType, accountType, byName, "byAccountType");
  const accountLocationRows = outcomeRows(r.byAccountLocation, place, byPlace, "byAccountLocation");
  const pendingRows = rowsOf(r.pendingAtEnd.byJurisdiction, place, byPlace);
  const rolledEnforcement = rolledUp(report.enforcement.byJurisdiction, report.enforcement.byCountry);
  const enforcementCell = (row: (typeof rolledEnforcement)[number], metric: keyof EnforcementCounts) =>
    // A report frozen before removals were counted apart has none: 0, as it counted them with the denials.
    show(row.value[metric] ?? 0, isHidden("enforcement", row.table, row.code, metric));
  const reasonRows = Object.entries(r.byReason ?? {}).map(([code, n]): [string, string] => [
    t.reasons[code] ?? code,
    show(n, isHidden("requests", "byReason", code)),
  ]);

  const chart = (id: string, title: string, desc: string, rows: ChartRow[], series: Series[]) => (
    <BarChart
      id={id}
      title={title}
      desc={`${desc} ${t.tableFollows}`}
      rows={rows}
      series={series}
      threshold={report.threshold}
      count={count}
    />
  );
  const outcomeTable = (first: string, rows: ChartRow[], rowClasses?: (string | undefined)[]) => (
    <CountTable
      headers={[first, ...OUTCOMES.map((o) => t.outcome[o])]}
      rows={rows.map((row) => [row.label, ...row.values.map((v, i) => show(v, row.hidden?.[i]))])}
      {...(rowClasses === undefined ? {} : { rowClasses })}
    />
  );
  const orNone = (rows: unknown[], body: () => Child[]): Child[] =>
    rows.length === 0 ? [<p>{t.none}</p>] : body();
  /** Requests by some key and outcome: a chart and a table of the same numbers, or "none". */
  const outcomeSection = (
    id: string,
    heading: string,
    desc: string,
    first: string,
    rows: ChartRow[],
    rowClasses?: (string | undefined)[],
  ) => (
    <Section id={id} heading={heading}>
      {orNone(rows, () => [
        chart(`chart-${id}`, heading, desc, rows, outcomeSeries),
        outcomeTable(first, rows, rowClasses),
      ])}
    </Section>
  );

  const period = parsePeriod(report.period);
  const start = Date.parse(report.start);
  const end = Date.parse(report.end);
  const periodTitle = period
    ? t.periodName(
        period.kind,
        Number(report.period.slice(0, 4)),
        Number(report.period.slice(6)),
        f.month.format(start),
      )
    : report.period;
  const generated = Date.parse(report.generatedAt);

  const summary: [string, string][] = [
    [t.completedRequests, show(r.total, isHidden("requests", "total"))],
    ...OUTCOMES.map((o): [string, string] => [
      t.outcome[o],
      show(totals[o], isHidden("requests", "byOutcome", o)),
    ]),
    [t.pendingAtEnd, show(r.pendingAtEnd.count, isHidden("requests", "pendingAtEnd", "count"))],
    [t.deniedJoins, show(sum("deniedJoins"), isHidden("enforcement", "total", "deniedJoins"))],
    [t.shadowMatches, show(sum("shadowMatches"), isHidden("enforcement", "total", "shadowMatches"))],
    ...(report.late.records > 0
      ? [[fin.lateRecords, show(report.late.records, isHidden("late", "records"))] as [string, string]]
      : []),
  ];
  // Not yet finalized (I9): said at the top, before any number. "running" while the period lasts.
  const banner = report.provisional
    ? fin.provisional(generated < end ? "running" : "ended", f.day.format(end - 1))
    : undefined;
  const publisher = report.publisher ?? t.defaultPublisher;
  const datasetSha = sha256Hex(renderCsv(report));
  const datasetHref = `?format=csv${report.threshold > 0 ? `&threshold=${report.threshold}` : ""}`;
  const prev = report.previous;
  const prevPeriod = prev === undefined ? undefined : parsePeriod(prev.period);
  const prevTitle =
    prev === undefined || prevPeriod === undefined
      ? ""
      : `${t.periodName(
          prevPeriod.kind,
          Number(prev.period.slice(0, 4)),
          Number(prev.period.slice(6)),
          f.month.format(prevPeriod.start),
        )} (${f.day.format(prevPeriod.start)} – ${f.day.format(prevPeriod.end - 1)})`;
  /** A comparison row: the change only where both counts are published. */
  const compare = (
    label: string,
    now: number,
    nowHidden: boolean,
    then: number | null,
    thenHidden: boolean,
  ) => {
    const both =
      !nowHidden && !thenHidden && then !== null && now >= report.threshold && then >= report.threshold;
    const diff = both ? now - (then as number) : undefined;
    return [
      label,
      show(now, nowHidden),
      then === null ? "–" : show(then, thenHidden),
      diff === undefined ? "–" : `${diff > 0 ? "+" : diff < 0 ? "−" : "±"}${fmt(Math.abs(diff))}`,
    ];
  };
  const comparisonRows =
    prev === undefined
      ? []
      : [
          compare(
            t.completedRequests,
            r.total,
            isHidden("requests", "total"),
            prev.total,
            isHidden("previous", "total"),
          ),
          ...OUTCOMES.map((o) =>
            compare(
              t.outcome[o],
              totals[o],
              isHidden("requests", "byOutcome", o),
              prev.byOutcome[o],
              isHidden("previous", "byOutcome", o),
            ),
          ),
          compare(
            t.deniedJoins,
            sum("deniedJoins"),
            isHidden("enforcement", "total", "deniedJoins"),
            prev.deniedJoins,
            isHidden("previous", "deniedJoins"),
          ),
        ];
  const definitions = [
    ...t.definitionItems(report.threshold > 0 ? fmt(report.threshold) : undefined),
    ...(report.late.records > 0 ? [fin.lateDefinition] : []),
  ];

  return (
    <html lang={lang}>
      {lines(
        <head>
          {lines(
            META,
            <title>{`${t.title} — ${periodTitle}`}</title>,
            <style dangerouslySetInnerHTML={{ __html: REPORT_CSS }} />,
          )}
        </head>,
        <body>
          {lines(
            <main>
              {lines(
                <header>
                  {lines(
                    <h1>{t.title}</h1>,
                    <p class="period">
                      {`${t.period}: `}
                      <strong>{periodTitle}</strong>
                      {` (${f.day.format(start)} – ${f.day.format(end - 1)}, UTC)`}
                    </p>,
                    <p class="publisher">{t.publishedBy(publisher.name, publisher.service)}</p>,
                    Number.isNaN(generated) ? null : (
                      <p class="generated">{`${t.generated}: ${f.moment.format(generated)} UTC`}</p>
                    ),
                    banner === undefined ? null : (
                      <p class="provisional" role="note">
                        {banner}
                      </p>
                    ),
                  )}
                </header>,
                <Section id="summary" heading={t.summary}>
                  <dl class="summary">
                    {lines(
                      ...summary.map(([k, v]) => (
                        <div>
                          <dt>{k}</dt>
                          <dd>{v}</dd>
                        </div>
                      )),
                    )}
                  </dl>
                </Section>,
                prev === undefined ? null : (
                  <Section id="comparison" heading={t.comparison}>
                    {[
                      <p>{t.comparisonDesc(prevTitle)}</p>,
                      <CountTable
                        headers={["", t.thisPeriod, t.previousPeriod, t.change]}
                        rows={comparisonRows}
                      />,
                    ]}
                  </Section>
                ),
                outcomeSection(
                  "requests-jurisdiction",
                  t.requestsByJurisdiction,
                  t.requestsByJurisdictionDesc,
                  t.jurisdiction,
                  jurisdictionRows,
                  jurisdictionClasses,
                ),
                <Section id="rejection-reasons" heading={t.rejectionReasons}>
                  {orNone(reasonRows, () => [
                    <CountTable headers={[t.reason, t.outcome.rejected]} rows={reasonRows} />,
                  ])}
                </Section>,
                outcomeSection(
                  "requests-account-type",
                  t.requestsByAccountType,
                  t.requestsByAccountTypeDesc,
                  t.accountType,
                  accountTypeRows,
                ),
                <Section id="requests-account-location" heading={t.requestsByAccountLocation}>
                  {orNone(accountLocationRows, () => [outcomeTable(t.accountLocation, accountLocationRows)])}
                </Section>,
                <Section id="pending" heading={t.pendingByJurisdiction}>
                  {orNone(pendingRows, () => [
                    <CountTable
                      headers={[t.jurisdiction, t.pendingAtEnd]}
                      rows={pendingRows.map(([name, n, code]) => [
                        name,
                        show(n, isHidden("requests", "pendingAtEnd", "byJurisdiction", code)),
                      ])}
                    />,
                  ])}
                </Section>,
                <Section id="denied-jurisdiction" heading={t.deniedByJurisdiction}>
                  {orNone(rolledEnforcement, () => [
                    chart(
                      "chart-denied-jurisdiction",
                      t.deniedByJurisdiction,
                      t.deniedByJurisdictionDesc,
                      rolledEnforcement.map((row) => ({
                        label: row.label,
                        values: [row.value.deniedJoins],
                        hidden: [isHidden("enforcement", row.table, row.code, "deniedJoins")],
                      })),
                      [{ name: t.deniedJoins, colour: DENIED_COLOUR }],
                    ),
                    <CountTable
                      headers={[
                        t.blockJurisdiction,
                        t.deniedJoins,
                        t.removedParticipants,
                        t.shadowMatches,
                        t.distinctMeetings,
                        t.distinctParticipants,
                      ]}
                      rows={rolledEnforcement.map((row) => [
                        row.label,
                        enforcementCell(row, "deniedJoins"),
                        enforcementCell(row, "removedParticipants"),
                        enforcementCell(row, "shadowMatches"),
                        enforcementCell(row, "distinctMeetings"),
                        enforcementCell(row, "distinctParticipants"),
                      ])}
                      caption={t.enforcementByJurisdiction}
                      rowClasses={rolledEnforcement.map((row) => row.cls)}
                    />,
                  ])}
                </Section>,
                <Section id="methodology" heading={t.methodology}>
                  <dl class="definitions">
                    {lines(
                      ...t.methodologyItems.map(([k, v]) => (
                        <>
                          <dt>{k}</dt>
                          <dd>{v}</dd>
                        </>
                      )),
                    )}
                  </dl>
                </Section>,
                <Section id="dataset" heading={t.dataset}>
                  {[
                    <p>{t.datasetText}</p>,
                    <p>
                      <a href={datasetHref} download={`${report.period}.csv`}>
                        {t.datasetLink}
                      </a>
                    </p>,
                    <p class="sha">
                      {`${t.datasetSha}: `}
                      <code>{datasetSha}</code>
                    </p>,
                  ]}
                </Section>,
                <footer>
                  {lines(
                    <h2 id="definitions">{t.definitions}</h2>,
                    <dl class="definitions">
                      {lines(
                        ...definitions.map(([k, v]) => (
                          <>
                            <dt>{k}</dt>
                            <dd>{v}</dd>
                          </>
                        )),
                      )}
                    </dl>,
                  )}
                </footer>,
              )}
            </main>,
          )}
        </body>,
      )}
    </html>
  );
}

/** A section of the page, labelled by its heading; its children one per line. */
function Section(props: { id: string; heading: string; children?: Child }) {
  const body = Array.isArray(props.children) ? props.children : [props.children];
  return (
    <section aria-labelledby={props.id}>{lines(<h2 id={props.id}>{props.heading}</h2>, ...body)}</section>
  );
}
