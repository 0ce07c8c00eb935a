/**
 * The report's three publications: JSON (exact numbers and the threshold, for auditors and tooling),
 * the CSV dataset (one row per order completed in the period) and a standalone HTML page in English or
 * Dutch with inline SVG bar charts. CSV and HTML apply the small-count threshold; none of them carries a
 * meeting id, account id, network address, order id or case reference, except the JSON's per-order
 * enforcement, which is keyed by order id for the auditors who can already read the orders. Pure.
 */
import { countryOf, jurisdictionName } from "../engine/index.js";
import type { EnforcementCounts, Outcome, Report } from "./model.js";
import { parsePeriod } from "./periods.js";

export type ReportLanguage = "en" | "nl";

const OUTCOMES: readonly Outcome[] = ["complied", "rejected", "withdrawn"];

// ---------------------------------------------------------------------------------------------------
// JSON

/** What the report's fields mean, carried in the JSON so the file explains itself. */
export const DEFINITIONS = {
  requests:
    "Orders completed in the period (start inclusive, end exclusive, UTC), by requesting authority's jurisdiction, account type and account location; a missing account type or location counts as 'unknown'.",
  complied: "Approved; stays complied when the authority later withdraws the order and the block is lifted.",
  rejected: "Rejected after review.",
  withdrawn: "Withdrawn by the authority before a decision.",
  pendingAtEnd: "Orders received before the period's end and not completed before it.",
  enforcement:
    "Decision records in the period: deniedJoins (BLOCKED), shadowMatches (SHADOW_MATCH), and the distinct meetings and participants (by keyed hash of the address) among them; per block jurisdiction that matched and per order. A record naming two orders counts for each order.",
  deniedJoins:
    "In the dataset: the BLOCKED records naming the order from the start of the decision history up to the period's end.",
  threshold: "CSV and HTML show counts below the threshold as '< N'; this JSON carries exact numbers.",
} as const;

export function renderJson(report: Report): string {
  return `${JSON.stringify({ ...report, definitions: DEFINITIONS }, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------
// CSV

export const CSV_HEADER = [
  "period",
  "authority_jurisdiction",
  "block_jurisdictions",
  "outcome",
  "account_type",
  "account_location",
  "received_date",
  "completed_date",
  "denied_joins",
] as const;

/**
 * RFC 4180: every record, the last included, ends in CRLF (the RFC's line break, and what spreadsheet
 * programs expect); a field containing a comma, a double quote, CR or LF is quoted with its quotes
 * doubled. Unknown values are empty fields. `denied_joins` below the threshold is "< N".
 */
export function renderCsv(report: Report): string {
  const lines = [CSV_HEADER.join(",")];
  for (const row of report.dataset) {
    lines.push(
      [
        row.period,
        row.authorityJurisdiction,
        row.blockJurisdictions.join(";"),
        row.outcome,
        row.accountType ?? "",
        row.accountLocation ?? "",
        row.receivedDate,
        row.completedDate,
        masked(row.deniedJoins, report.threshold, String),
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A count as published: "< N" below the threshold, else the number formatted. */
function masked(count: number, threshold: number, format: (n: number) => string): string {
  return count < threshold ? `< ${format(threshold)}` : format(count);
}

// ---------------------------------------------------------------------------------------------------
// HTML

interface Strings {
  title: string;
  period: string;
  generated: string;
  periodName: (kind: "half" | "quarter" | "month", year: number, index: number, monthName: string) => string;
  summary: string;
  completedRequests: string;
  outcome: Record<Outcome, string>;
  pendingAtEnd: string;
  deniedJoins: string;
  shadowMatches: string;
  distinctMeetings: string;
  distinctParticipants: string;
  jurisdiction: string;
  blockJurisdiction: string;
  accountType: string;
  accountLocation: string;
  accountTypes: Record<string, string>;
  unknown: string;
  requestsByJurisdiction: string;
  requestsByJurisdictionDesc: string;
  requestsByAccountType: string;
  requestsByAccountTypeDesc: string;
  requestsByAccountLocation: string;
  pendingByJurisdiction: string;
  deniedByJurisdiction: string;
  deniedByJurisdictionDesc: string;
  enforcementByJurisdiction: string;
  tableFollows: string;
  none: string;
  definitions: string;
  definitionItems: (threshold: string | undefined) => [string, string][];
}

const TEXT: Record<ReportLanguage, Strings> = {
  en: {
    title: "Transparency report: government orders to restrict access to meetings",
    period: "Period",
    generated: "Generated",
    periodName: (kind, year, index, monthName) =>
      kind === "half"
        ? `${index === 1 ? "First" : "Second"} half of ${year}`
        : kind === "quarter"
          ? `${["First", "Second", "Third", "Fourth"][index - 1]} quarter of ${year}`
          : `${monthName} ${year}`,
    summary: "Summary",
    completedRequests: "Requests completed",
    outcome: { complied: "Complied", rejected: "Rejected", withdrawn: "Withdrawn" },
    pendingAtEnd: "Pending at the end of the period",
    deniedJoins: "Denied joins",
    shadowMatches: "Shadow matches",
    distinctMeetings: "Distinct meetings",
    distinctParticipants: "Distinct participants",
    jurisdiction: "Jurisdiction",
    blockJurisdiction: "Jurisdiction of the block",
    accountType: "Account type",
    accountLocation: "Account location",
    accountTypes: {
      basic: "Basic",
      business: "Business",
      education: "Education",
      enterprise: "Enterprise",
      no_account: "No account",
      pro: "Pro",
      phone: "Phone (dial-in)",
    },
    unknown: "Unknown",
    requestsByJurisdiction: "Requests by requesting jurisdiction",
    requestsByJurisdictionDesc:
      "Bar chart of the requests completed in the period for each jurisdiction of the requesting authority, with one bar each for complied, rejected and withdrawn.",
    requestsByAccountType: "Requests by account type",
    requestsByAccountTypeDesc:
      "Bar chart of the requests completed in the period for each type of account concerned, with one bar each for complied, rejected and withdrawn.",
    requestsByAccountLocation: "Requests by account location",
    pendingByJurisdiction: "Requests pending at the end of the period",
    deniedByJurisdiction: "Denied joins by jurisdiction",
    deniedByJurisdictionDesc:
      "Bar chart of the attempts to join a meeting that were refused because of an order, for each jurisdiction where the block applied.",
    enforcementByJurisdiction: "Enforcement by jurisdiction",
    tableFollows: "The table below gives the same numbers.",
    none: "None in this period.",
    definitions: "Definitions",
    definitionItems: (threshold) => [
      [
        "Request",
        "A government order to restrict access to meetings or accounts. A request counts in the period in which it was completed: approved, rejected, or withdrawn by the authority before a decision. All dates and times are in UTC.",
      ],
      [
        "Complied",
        "The order was approved and the block applied, only for participants located inside the jurisdiction of the requesting authority. It stays counted as complied when the authority later withdraws the order and the block is lifted.",
      ],
      ["Rejected", "The order was reviewed and rejected; nothing was blocked."],
      ["Withdrawn", "The authority withdrew the order before a decision was made; nothing was blocked."],
      ["Pending", "Received before the end of the period and not completed before it."],
      [
        "Denied joins",
        "Attempts to join a meeting that were refused because of an approved order, counted under the jurisdiction where the block applied.",
      ],
      [
        "Shadow matches",
        "Attempts to join that an order in trial (shadow) mode would have refused; these participants were let in.",
      ],
      [
        "Distinct participants",
        "Counted by a keyed hash of the participant's network address; addresses themselves are not kept. Distinct meetings and participants are counted once over the whole period.",
      ],
      ...(threshold === undefined
        ? []
        : ([["Small counts", `Counts below ${threshold} are shown as “< ${threshold}”.`]] as [
            string,
            string,
          ][])),
      [
        "Not published",
        "This report contains no meeting or account identifiers, network addresses, order identifiers or case references.",
      ],
    ],
  },
  nl: {
    title: "Transparantierapport: overheidsbevelen om de toegang tot vergaderingen te beperken",
    period: "Periode",
    generated: "Opgesteld",
    periodName: (kind, year, index, monthName) =>
      kind === "half"
        ? `${index === 1 ? "Eerste" : "Tweede"} helft van ${year}`
        : kind === "quarter"
          ? `${["Eerste", "Tweede", "Derde", "Vierde"][index - 1]} kwartaal van ${year}`
          : `${monthName.charAt(0).toUpperCase()}${monthName.slice(1)} ${year}`,
    summary: "Samenvatting",
    completedRequests: "Afgehandelde verzoeken",
    outcome: { complied: "Opgevolgd", rejected: "Afgewezen", withdrawn: "Ingetrokken" },
    pendingAtEnd: "Openstaand aan het einde van de periode",
    deniedJoins: "Geweigerde deelnames",
    shadowMatches: "Treffers in schaduwmodus",
    distinctMeetings: "Unieke vergaderingen",
    distinctParticipants: "Unieke deelnemers",
    jurisdiction: "Rechtsgebied",
    blockJurisdiction: "Rechtsgebied van de blokkade",
    accountType: "Soort account",
    accountLocation: "Land van het account",
    accountTypes: {
      basic: "Basis",
      business: "Zakelijk",
      education: "Onderwijs",
      enterprise: "Enterprise",
      no_account: "Geen account",
      pro: "Pro",
      phone: "Telefoon (inbellen)",
    },
    unknown: "Onbekend",
    requestsByJurisdiction: "Verzoeken per rechtsgebied van de verzoekende instantie",
    requestsByJurisdictionDesc:
      "Staafdiagram van de in deze periode afgehandelde verzoeken per rechtsgebied van de verzoekende instantie, met een staaf voor opgevolgd, afgewezen en ingetrokken.",
    requestsByAccountType: "Verzoeken per soort account",
    requestsByAccountTypeDesc:
      "Staafdiagram van de in deze periode afgehandelde verzoeken per soort account, met een staaf voor opgevolgd, afgewezen en ingetrokken.",
    requestsByAccountLocation: "Verzoeken per land van het account",
    pendingByJurisdiction: "Openstaande verzoeken aan het einde van de periode",
    deniedByJurisdiction: "Geweigerde deelnames per rechtsgebied",
    deniedByJurisdictionDesc:
      "Staafdiagram van de pogingen om aan een vergadering deel te nemen die vanwege een bevel zijn geweigerd, per rechtsgebied waar de blokkade gold.",
    enforcementByJurisdiction: "Handhaving per rechtsgebied",
    tableFollows: "De tabel hieronder bevat dezelfde cijfers.",
    none: "Geen in deze periode.",
    definitions: "Begrippen",
    definitionItems: (threshold) => [
      [
        "Verzoek",
        "Een bevel van een overheidsinstantie om de toegang tot vergaderingen of accounts te beperken. Een verzoek telt mee in de periode waarin het is afgehandeld: goedgekeurd, afgewezen, of door de instantie ingetrokken voordat er een besluit was. Alle datums en tijden zijn in UTC.",
      ],
      [
        "Opgevolgd",
        "Het bevel is goedgekeurd en de blokkade is toegepast, alleen voor deelnemers die zich in het rechtsgebied van de verzoekende instantie bevinden. Het blijft als opgevolgd geteld wanneer de instantie het bevel later intrekt en de blokkade wordt opgeheven.",
      ],
      ["Afgewezen", "Het bevel is beoordeeld en afgewezen; er is niets geblokkeerd."],
      [
        "Ingetrokken",
        "De instantie heeft het bevel ingetrokken voordat er een besluit was; er is niets geblokkeerd.",
      ],
      ["Openstaand", "Ontvangen vóór het einde van de periode en niet vóór dat einde afgehandeld."],
      [
        "Geweigerde deelnames",
        "Pogingen om aan een vergadering deel te nemen die zijn geweigerd vanwege een goedgekeurd bevel, geteld onder het rechtsgebied waar de blokkade gold.",
      ],
      [
        "Treffers in schaduwmodus",
        "Pogingen tot deelname die een bevel in proefmodus (schaduwmodus) zou hebben geweigerd; deze deelnemers zijn toegelaten.",
      ],
      [
        "Unieke deelnemers",
        "Geteld aan de hand van een met een geheime sleutel berekende hash van het netwerkadres; de adressen zelf worden niet bewaard. Unieke vergaderingen en deelnemers worden over de hele periode één keer geteld.",
      ],
      ...(threshold === undefined
        ? []
        : ([
            ["Kleine aantallen", `Aantallen onder ${threshold} worden weergegeven als “< ${threshold}”.`],
          ] as [string, string][])),
      [
        "Niet gepubliceerd",
        "Dit rapport bevat geen vergader- of account-id's, netwerkadressen, kenmerken van bevelen of zaaknummers.",
      ],
    ],
  },
};

/** Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. */
const OUTCOME_COLOURS: Record<Outcome, string> = {
  complied: "#0072B2",
  rejected: "#D55E00",
  withdrawn: "#E69F00",
};
const DENIED_COLOUR = "#CC79A7";

/** Long-lived: one formatter per language, built once per module load. */
const regionNames: Record<ReportLanguage, Intl.DisplayNames> = {
  en: new Intl.DisplayNames(["en"], { type: "region" }),
  nl: new Intl.DisplayNames(["nl"], { type: "region" }),
};

/** A standalone page (no external assets, scripts or links) in the given language. */
export function renderHtml(report: Report, lang: ReportLanguage): string {
  const t = TEXT[lang];
  const numbers = new Intl.NumberFormat(lang);
  const fmt = (n: number) => numbers.format(n);
  const count = (n: number) => masked(n, report.threshold, fmt);
  const collator = new Intl.Collator(lang);
  // "unknown": no account type or location on the order; "": an order the list no longer has.
  const isUnknown = (code: string) => code === "unknown" || code === "";
  const place = (code: string) => (isUnknown(code) ? t.unknown : placeLabel(code, lang));
  const accountType = (code: string) => t.accountTypes[code] ?? (isUnknown(code) ? t.unknown : code);
  // Rows in reading order for the page's language: places by country name, a country before its
  // subdivisions; account types by name; unknown last.
  const byPlace = (a: string, b: string) =>
    collator.compare(countryName(countryOf(a), lang), countryName(countryOf(b), lang)) ||
    a.length - b.length ||
    (a < b ? -1 : a > b ? 1 : 0);
  const byName = (a: string, b: string) => collator.compare(accountType(a), accountType(b));
  const rowsOf = <T>(
    record: Record<string, T>,
    label: (code: string) => string,
    order: (a: string, b: string) => number,
  ): [string, T][] =>
    Object.entries(record)
      .sort(([a], [b]) => Number(isUnknown(a)) - Number(isUnknown(b)) || order(a, b))
      .map(([code, value]): [string, T] => [label(code), value]);

  const r = report.requests;
  const totals = Object.fromEntries(
    OUTCOMES.map((o) => [o, Object.values(r.byJurisdiction).reduce((sum, c) => sum + c[o], 0)]),
  ) as Record<Outcome, number>;
  const sum = (key: keyof EnforcementCounts) =>
    Object.values(report.enforcement.byJurisdiction).reduce((s, c) => s + c[key], 0);

  const outcomeSeries = OUTCOMES.map((o) => ({ name: t.outcome[o], colour: OUTCOME_COLOURS[o] }));
  const outcomeRows = (
    record: Record<string, Record<Outcome, number>>,
    label: (code: string) => string,
    order: (a: string, b: string) => number,
  ) => rowsOf(record, label, order).map(([name, c]) => ({ label: name, values: OUTCOMES.map((o) => c[o]) }));
  const jurisdictionRows = outcomeRows(r.byJurisdiction, place, byPlace);
  const accountTypeRows = outcomeRows(r.byAccountType, accountType, byName);
  const accountLocationRows = outcomeRows(r.byAccountLocation, place, byPlace);
  const pendingRows = rowsOf(r.pendingAtEnd.byJurisdiction, place, byPlace);
  const enforcementRows = rowsOf(report.enforcement.byJurisdiction, place, byPlace);

  const chart = (id: string, title: string, desc: string, rows: ChartRow[], series: Series[]) =>
    barChart({
      id,
      title,
      desc: `${desc} ${t.tableFollows}`,
      rows,
      series,
      threshold: report.threshold,
      count,
    });
  const outcomeTable = (first: string, rows: ChartRow[]) =>
    table(
      [first, ...OUTCOMES.map((o) => t.outcome[o])],
      rows.map((row) => [row.label, ...row.values.map(count)]),
    );

  const period = parsePeriod(report.period);
  const start = Date.parse(report.start);
  const end = Date.parse(report.end);
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "long", timeZone: "UTC" });
  const moment = new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short", timeZone: "UTC" });
  const periodTitle = period
    ? t.periodName(
        period.kind,
        Number(report.period.slice(0, 4)),
        Number(report.period.slice(6)),
        new Intl.DateTimeFormat(lang, { month: "long", timeZone: "UTC" }).format(start),
      )
    : report.period;
  const generated = Date.parse(report.generatedAt);

  const section = (id: string, heading: string, body: string) =>
    `<section aria-labelledby="${id}">\n<h2 id="${id}">${esc(heading)}</h2>\n${body}\n</section>`;
  const orNone = (rows: unknown[], body: () => string) =>
    rows.length === 0 ? `<p>${esc(t.none)}</p>` : body();

  const summary: [string, string][] = [
    [t.completedRequests, count(r.total)],
    ...OUTCOMES.map((o): [string, string] => [t.outcome[o], count(totals[o])]),
    [t.pendingAtEnd, count(r.pendingAtEnd.count)],
    [t.deniedJoins, count(sum("deniedJoins"))],
    [t.shadowMatches, count(sum("shadowMatches"))],
  ];

  const body = [
    `<header>\n<h1>${esc(t.title)}</h1>`,
    `<p class="period">${esc(t.period)}: <strong>${esc(periodTitle)}</strong> (${esc(day.format(start))} – ${esc(day.format(end - 1))}, UTC)</p>`,
    Number.isNaN(generated)
      ? ""
      : `<p class="generated">${esc(t.generated)}: ${esc(moment.format(generated))} UTC</p>`,
    "</header>",
    section(
      "summary",
      t.summary,
      `<dl class="summary">\n${summary.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("\n")}\n</dl>`,
    ),
    section(
      "requests-jurisdiction",
      t.requestsByJurisdiction,
      orNone(
        jurisdictionRows,
        () =>
          `${chart("chart-requests-jurisdiction", t.requestsByJurisdiction, t.requestsByJurisdictionDesc, jurisdictionRows, outcomeSeries)}\n${outcomeTable(t.jurisdiction, jurisdictionRows)}`,
      ),
    ),
    section(
      "requests-account-type",
      t.requestsByAccountType,
      orNone(
        accountTypeRows,
        () =>
          `${chart("chart-requests-account-type", t.requestsByAccountType, t.requestsByAccountTypeDesc, accountTypeRows, outcomeSeries)}\n${outcomeTable(t.accountType, accountTypeRows)}`,
      ),
    ),
    section(
      "requests-account-location",
      t.requestsByAccountLocation,
      orNone(accountLocationRows, () => outcomeTable(t.accountLocation, accountLocationRows)),
    ),
    section(
      "pending",
      t.pendingByJurisdiction,
      orNone(pendingRows, () =>
        table(
          [t.jurisdiction, t.pendingAtEnd],
          pendingRows.map(([name, n]) => [name, count(n)]),
        ),
      ),
    ),
    section(
      "denied-jurisdiction",
      t.deniedByJurisdiction,
      orNone(
        enforcementRows,
        () =>
          `${chart(
            "chart-denied-jurisdiction",
            t.deniedByJurisdiction,
            t.deniedByJurisdictionDesc,
            enforcementRows.map(([name, c]) => ({ label: name, values: [c.deniedJoins] })),
            [{ name: t.deniedJoins, colour: DENIED_COLOUR }],
          )}\n${table(
            [t.blockJurisdiction, t.deniedJoins, t.shadowMatches, t.distinctMeetings, t.distinctParticipants],
            enforcementRows.map(([name, c]) => [
              name,
              count(c.deniedJoins),
              count(c.shadowMatches),
              count(c.distinctMeetings),
              count(c.distinctParticipants),
            ]),
            t.enforcementByJurisdiction,
          )}`,
      ),
    ),
    `<footer>\n<h2 id="definitions">${esc(t.definitions)}</h2>\n<dl class="definitions">\n${t
      .definitionItems(report.threshold > 0 ? fmt(report.threshold) : undefined)
      .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
      .join("\n")}\n</dl>\n</footer>`,
  ]
    .filter((part) => part !== "")
    .join("\n");

  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`${t.title} — ${periodTitle}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.45}
main{max-width:52rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}
dl.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.75rem}
dl.summary div{border:1px solid #ccc;border-radius:4px;padding:.5rem .75rem}
dl.summary dd{margin:0;font-size:1.4rem;font-weight:600}
dl.definitions dt{font-weight:600;margin-top:.5rem}dl.definitions dd{margin-left:0}
table{border-collapse:collapse;margin:1rem 0;width:100%}
@media (max-width:40rem){table{display:block;overflow-x:auto}main{padding:1rem}}
th,td{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600}
figure{margin:1rem 0;overflow-x:auto}
svg{max-width:100%;min-width:34rem;height:auto}svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#1a1a1a}
footer{margin-top:2.5rem;border-top:1px solid #ccc;font-size:.9rem}
`;

interface Series {
  name: string;
  colour: string;
}

interface ChartRow {
  label: string;
  values: number[];
}

const WIDTH = 720;
const LABEL_WIDTH = 250;
const PLOT_WIDTH = 380;
const BAR = 14;
const GAP = 10;
const LEGEND = 28;
const LABEL_MAX = 38;

/**
 * A horizontal grouped bar chart: one group per row, one bar per series. Grouped rather than stacked so
 * that no bar end or total gives away a count the threshold hides: a masked count draws no bar and is
 * labelled "< N", and the scale is set by the published counts only.
 */
function barChart(options: {
  id: string;
  title: string;
  desc: string;
  rows: ChartRow[];
  series: Series[];
  threshold: number;
  count: (n: number) => string;
}): string {
  const { id, rows, series, threshold } = options;
  const group = series.length * BAR + GAP;
  const legend = series.length > 1 ? LEGEND : 0;
  const height = legend + rows.length * group + GAP;
  const shown = rows.flatMap((row) => row.values.filter((v) => v >= threshold));
  const max = Math.max(1, ...shown);
  const parts: string[] = [];
  if (legend > 0) {
    series.forEach((s, i) => {
      const x = LABEL_WIDTH + i * 130;
      parts.push(
        `<rect x="${x}" y="6" width="12" height="12" fill="${s.colour}"/><text x="${x + 16}" y="16">${esc(s.name)}</text>`,
      );
    });
  }
  rows.forEach((row, r) => {
    const top = legend + r * group + GAP / 2;
    parts.push(
      `<text x="${LABEL_WIDTH - 8}" y="${top + (series.length * BAR) / 2 + 4}" text-anchor="end">${esc(truncate(row.label))}</text>`,
    );
    row.values.forEach((value, i) => {
      const s = series[i] as Series;
      const y = top + i * BAR;
      const width = value < threshold ? 0 : Math.round((value / max) * PLOT_WIDTH * 10) / 10;
      if (width > 0) {
        parts.push(
          `<rect x="${LABEL_WIDTH}" y="${y + 1}" width="${width}" height="${BAR - 2}" fill="${s.colour}"/>`,
        );
      }
      parts.push(
        `<text x="${LABEL_WIDTH + width + 4}" y="${y + BAR - 3}">${esc(options.count(value))}</text>`,
      );
    });
  });
  return `<figure>
<svg role="img" aria-label="${esc(options.title)}" aria-labelledby="${id}-title" aria-describedby="${id}-desc" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}">
<title id="${id}-title">${esc(options.title)}</title>
<desc id="${id}-desc">${esc(options.desc)}</desc>
${parts.join("\n")}
</svg>
</figure>`;
}

function table(headers: string[], rows: string[][], caption?: string): string {
  const cell = (tag: "td" | "th", value: string, i: number) =>
    i === 0
      ? `<${tag}${tag === "th" ? ' scope="col"' : ""}>${esc(value)}</${tag}>`
      : `<${tag} class="num"${tag === "th" ? ' scope="col"' : ""}>${esc(value)}</${tag}>`;
  return `<table>${caption ? `\n<caption>${esc(caption)}</caption>` : ""}
<thead><tr>${headers.map((h, i) => cell("th", h, i)).join("")}</tr></thead>
<tbody>
${rows.map((row) => `<tr>${row.map((v, i) => (i === 0 ? `<th scope="row">${esc(v)}</th>` : cell("td", v, i))).join("")}</tr>`).join("\n")}
</tbody>
</table>`;
}

/**
 * "India (IN)", "Mahārāshtra, India (IN-MH)": the country in the page's language from the runtime's
 * CLDR data; ISO 3166-2 publishes subdivision names in their local form only, so those are not
 * translated. The code is always shown, so a reader can match the CSV.
 */
function placeLabel(code: string, lang: ReportLanguage): string {
  const country = countryOf(code);
  const name =
    code === country
      ? countryName(country, lang)
      : `${jurisdictionName(code) ?? code}, ${countryName(country, lang)}`;
  return `${name} (${code})`;
}

function countryName(country: string, lang: ReportLanguage): string {
  // DisplayNames throws on a malformed code and echoes one it does not know.
  const localised = /^[A-Z]{2}$/.test(country) ? regionNames[lang].of(country) : undefined;
  return localised !== undefined && localised !== country
    ? localised
    : (jurisdictionName(country) ?? country);
}

/** Shortens a chart label, keeping a trailing "(code)" so the bar still matches its table row. */
function truncate(label: string): string {
  if (label.length <= LABEL_MAX) return label;
  const code = / \([A-Z0-9-]+\)$/.exec(label)?.[0] ?? "";
  return `${label.slice(0, Math.max(1, LABEL_MAX - code.length - 1))}…${code}`;
}

function esc(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}
