/**
 * The report's publications: the CSV dataset read back as a table, the JSON with exact numbers, and the
 * HTML page in English and Dutch, checked for structure, accessibility, the small-count threshold and
 * for what it must never contain (identifiers, addresses, external assets).
 */
import { describe, expect, it } from "vitest";
import { accumulate } from "../../src/report/accumulate.js";
import { buildReport } from "../../src/report/build.js";
import type { Report } from "../../src/report/model.js";
import { parsePeriod } from "../../src/report/periods.js";
import { CSV_HEADER, renderCsv, renderHtml, renderJson } from "../../src/report/render.js";
import { byMonth, generateHistory } from "./history.js";

const HEADER =
  "period,authority_jurisdiction,authority_kind,target_kind,requested_jurisdictions,block_jurisdictions,outcome,reason_code,account_type,account_location,received_date,completed_date,denied_joins,removed_participants";

const history = generateHistory(424242, { orders: 400, records: 25_000 });
const months = [...byMonth(history.records, accumulate).values()];
const H2 = parsePeriod("2023-H2");
if (!H2) throw new Error("fixture period must parse");

function report(threshold = 0): Report {
  return buildReport({
    period: H2 as NonNullable<typeof H2>,
    orders: history.orders,
    months,
    history: months,
    threshold,
    generatedAt: "2024-01-10T09:30:00Z",
  });
}

/** RFC 4180, strictly: records end in CRLF, quotes only around whole fields, doubled inside them. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') {
      if (field !== "" || wasQuoted) throw new Error(`quote inside an unquoted field at ${i}`);
      quoted = wasQuoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
      wasQuoted = false;
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      wasQuoted = false;
      i++;
    } else if (c === "\r" || c === "\n") {
      throw new Error(`bare line break at ${i}`);
    } else {
      if (wasQuoted) throw new Error(`text after a closing quote at ${i}`);
      field += c;
    }
  }
  if (quoted) throw new Error("unterminated quoted field");
  if (field !== "" || row.length > 0) throw new Error("the last record does not end in CRLF");
  return rows;
}

/** Tags that open and close in order, and no raw `<` or `>` left in text. */
function structureProblems(html: string): string[] {
  const VOID = new Set(["meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"]);
  const problems: string[] = [];
  const stack: string[] = [];
  const body = html.replace(/^<!doctype html>\n/, "").replace(/<style>[^<]*<\/style>/, "<style></style>");
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^<>]*?(\/?)>/g)) {
    const [, closing, name = "", selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
    } else if (!selfClosing && !VOID.has(name)) stack.push(name);
  }
  problems.push(...stack.map((name) => `<${name}> is not closed`));
  const text = body.replace(/<\/?[a-zA-Z][^<>]*>/g, "");
  if (/[<>]/.test(text)) problems.push("raw < or > in text");
  return problems;
}

/** The published counts of a page: table cells and chart labels after the first column. */
function publishedCounts(html: string): string[] {
  const cells = [...html.matchAll(/<td class="num">([^<]*)<\/td>/g)].map((m) => m[1] ?? "");
  const bars = [...html.matchAll(/<text x="[\d.]+" y="[\d.]+">([^<]*)<\/text>/g)].map((m) => m[1] ?? "");
  const summary = [...html.matchAll(/<dd>([^<]*)<\/dd>/g)]
    .map((m) => m[1] ?? "")
    .filter((v) => /\d/.test(v) && v.length < 20);
  return [...cells, ...bars.filter((b) => /^(&lt; )?[\d.,]+$/.test(b)), ...summary];
}

describe("renderCsv", () => {
  const r = report();
  const csv = renderCsv(r);
  const rows = parseCsv(csv);

  it("starts with exactly the documented header", () => {
    expect(csv.startsWith(`${HEADER}\r\n`)).toBe(true);
    expect(CSV_HEADER.join(",")).toBe(HEADER);
  });

  it("reads back as a table of one row per order completed in the period", () => {
    expect(rows[0]).toEqual(HEADER.split(","));
    const data = rows.slice(1);
    expect(data.length).toBe(r.requests.total);
    expect(data.length).toBeGreaterThan(50);
    for (const row of data) expect(row).toHaveLength(14);
    expect(data).toEqual(
      r.dataset.map((d) => [
        "2023-H2",
        d.authorityJurisdiction,
        d.authorityKind,
        d.targetKind,
        d.requestedJurisdictions.join(";"),
        d.blockJurisdictions.join(";"),
        d.outcome,
        d.reasonCode ?? "",
        d.accountType ?? "",
        d.accountLocation ?? "",
        d.receivedDate,
        d.completedDate,
        String(d.deniedJoins),
        String(d.removedParticipants),
      ]),
    );
  });

  it("writes dates as YYYY-MM-DD, completions inside the period, and empty cells for unknown values", () => {
    const data = rows.slice(1);
    for (const row of data) {
      expect(row[10]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(row[11]).toMatch(/^2023-(0[7-9]|1[0-2])-\d{2}$/);
      expect(["complied", "shadow", "rejected", "withdrawn"]).toContain(row[6]);
      expect(row[7]).toBe(row[6] === "rejected" ? "other" : "");
    }
    expect(data.some((row) => row[8] === "")).toBe(true);
    expect(data.some((row) => row[9] === "")).toBe(true);
    expect(data.some((row) => (row[5] ?? "").includes(";"))).toBe(true);
  });

  it("shows denied joins below the threshold as '<N', and withholds the rows of groups smaller than N", () => {
    const masked = report(5);
    const data = parseCsv(renderCsv(masked)).slice(1);
    expect(data.length).toBe(masked.dataset.length);
    expect(data.length).toBeLessThan(report(0).dataset.length);
    for (const row of data) expect(row[12] === "<5" || Number(row[12]) >= 5).toBe(true);
  });

  it("quotes fields holding a comma, a quote or a line break, and reads them back unchanged", () => {
    const odd = report();
    const first = odd.dataset[0];
    if (!first) throw new Error("the fixture has rows");
    odd.dataset = [
      { ...first, authorityJurisdiction: 'A,"B"', accountType: "line\nbreak", accountLocation: "cr\r" },
    ];
    const text = renderCsv(odd);
    expect(text).toContain('"A,""B"""');
    expect(parseCsv(text)[1]?.slice(1, 10)).toEqual([
      'A,"B"',
      first.authorityKind,
      first.targetKind,
      first.requestedJurisdictions.join(";"),
      first.blockJurisdictions.join(";"),
      first.outcome,
      first.reasonCode ?? "",
      "line\nbreak",
      "cr\r",
    ]);
  });

  it("carries no meeting, account or order ids, references or addresses", () => {
    expectNoIdentifiers(csv);
  });
});

describe("renderJson", () => {
  it("carries the exact numbers and the definitions without a threshold", () => {
    const r = report(0);
    const parsed = JSON.parse(renderJson(r));
    const { definitions, ...rest } = parsed;
    expect(rest).toEqual(r);
    expect(typeof definitions.deniedJoins).toBe("string");
    expect(r.dataset.some((d) => d.deniedJoins > 0 && d.deniedJoins < 5)).toBe(true);
  });

  it("publishes hidden counts as '<N' under a threshold, and says which", () => {
    const r = report(5);
    const parsed = JSON.parse(renderJson(r));
    expect(parsed.threshold).toBe(5);
    expect(parsed.suppressed.length).toBeGreaterThan(0);
    expect(JSON.stringify(parsed)).toContain('"<5"');
    expect(parsed.enforcement.byOrder).toEqual({});
  });
});

describe.each(["en", "nl"] as const)("renderHtml in %s", (lang) => {
  const html = renderHtml(report(), lang);

  it("is a complete page in the chosen language", () => {
    expect(html.startsWith("<!doctype html>\n")).toBe(true);
    expect(html).toContain(`<html lang="${lang}">`);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(structureProblems(html)).toEqual([]);
  });

  it("draws three accessible bar charts as inline SVG, each followed by a table of the same numbers", () => {
    const charts = [
      ...html.matchAll(
        /<svg role="img" aria-label="([^"]+)"[^>]*>\n<title id="([^"]+)">([^<]+)<\/title>\n<desc id="[^"]+">[^<]+<\/desc>/g,
      ),
    ];
    expect(charts).toHaveLength(3);
    for (const [, label, , title] of charts) expect(label).toBe(title);
    expect((html.match(/<table>/g) ?? []).length).toBeGreaterThanOrEqual(5);
    expect(html).toMatch(/<rect x="\d+" y="[\d.]+" width="[\d.]+"/);
  });

  it("loads nothing from outside the page", () => {
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\b(src|xlink:href)\s*=/i);
    // One link only: to the dataset beside the page (a relative address: a download, not a load).
    expect(html.match(/\bhref\s*=\s*"[^"]*"/gi)).toEqual(['href="?format=csv"']);
    expect(html).not.toMatch(/<(link|script|img|iframe|object|embed)\b/i);
    expect(html).not.toMatch(/url\(|@import/i);
  });

  it("carries no meeting, account or order ids, references or addresses", () => {
    expectNoIdentifiers(html);
    expectNoIdentifiers(renderHtml(report(5), lang));
  });

  it("applies the threshold to every count below it", () => {
    const masked = renderHtml(report(5), lang);
    const counts = publishedCounts(masked);
    expect(counts.length).toBeGreaterThan(50);
    expect(counts).toContain("&lt; 5");
    for (const value of counts) {
      // The comparison's change column: a difference of two published counts, or "–".
      if (value === "&lt; 5" || /^[+−±–]/.test(value)) continue;
      expect(Number(value.replace(/[.,]/g, "")), value).toBeGreaterThanOrEqual(5);
    }
    // Without a threshold, small counts are shown as they are.
    expect(publishedCounts(html)).not.toContain("&lt; 5");
    expect(publishedCounts(html)).toContain("1");
  });
});

describe("renderHtml's language", () => {
  const en = renderHtml(report(5), "en");
  const nl = renderHtml(report(5), "nl");

  it("writes the English page in English", () => {
    for (const heading of [
      "Summary",
      "Requests by requesting jurisdiction",
      "Denied joins by jurisdiction",
      "Definitions",
    ]) {
      expect(en).toContain(`>${heading}</h2>`);
    }
    expect(en).toContain("Second half of 2023");
    expect(en).toContain("Russia (RU)");
    expect(en).toContain("Counts below 5 are shown as");
  });

  it("writes the Dutch page in Dutch, headings, outcomes, place names and definitions", () => {
    for (const heading of [
      "Samenvatting",
      "Verzoeken per rechtsgebied van de verzoekende instantie",
      "Verzoeken per soort account",
      "Geweigerde deelnames per rechtsgebied",
      "Begrippen",
    ]) {
      expect(nl).toContain(`>${heading}</h2>`);
    }
    for (const word of [
      "Opgevolgd",
      "Afgewezen",
      "Ingetrokken",
      "Tweede helft van 2023",
      "Rusland (RU)",
      "Duitsland (DE)",
    ]) {
      expect(nl).toContain(word);
    }
    expect(nl).toContain("Aantallen onder 5 worden weergegeven als");
    expect(nl).toContain("hash van het netwerkadres");
    for (const english of [
      "Summary",
      "Complied",
      "Rejected",
      "Withdrawn",
      "Denied joins",
      "Definitions",
      "Russia",
    ]) {
      expect(nl).not.toContain(english);
    }
  });

  it("names subdivisions with their country and code", () => {
    expect(en).toMatch(/Mah.r.shtra, India \(IN-MH\)/);
    expect(nl).toMatch(/Mah.r.shtra, India \(IN-MH\)/);
  });

  it("explains the outcomes and the keyed hash in the footer", () => {
    const footer = en.slice(en.indexOf("<footer>"));
    expect(footer).toContain("Complied");
    expect(footer).toContain("withdraws the order and the block is lifted");
    expect(footer).toContain("keyed hash");
  });
});

describe("renderHtml's escaping and empty periods", () => {
  it("escapes every value it prints", () => {
    const r = report();
    r.requests.byAccountType = {
      '<img src=x onerror="alert(1)">': {
        complied: 1,
        partially_complied: 0,
        shadow: 0,
        rejected: 0,
        withdrawn: 0,
      },
    };
    r.period = "<b>";
    const html = renderHtml(r, "en");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(structureProblems(html)).toEqual([]);
  });

  it("says so when a period has nothing to report", () => {
    const empty = buildReport({
      period: parsePeriod("2021-H1") as NonNullable<ReturnType<typeof parsePeriod>>,
      orders: [],
      months: [],
      generatedAt: "2024-01-10T09:30:00Z",
    });
    const en = renderHtml(empty, "en");
    const nl = renderHtml(empty, "nl");
    expect(en).toContain("None in this period.");
    expect(nl).toContain("Geen in deze periode.");
    expect(en).not.toContain("<svg");
    expect(structureProblems(en)).toEqual([]);
    expect(renderCsv(empty)).toBe(`${HEADER}\r\n`);
  });
});

function expectNoIdentifiers(text: string): void {
  const leaks = [
    ...history.meetingPool,
    ...history.accountPool,
    ...history.ipHashes,
    ...history.ipPrefixes,
    ...history.ipPrefixes.map((p) => p.slice(0, p.indexOf("/"))),
    ...history.truth.map((t) => t.id),
    ...history.truth.map((t) => t.reference),
    ...history.records.map((r) => r.decisionId),
  ].filter((id) => text.includes(id));
  expect(leaks).toEqual([]);
}
