/**
 * Threshold suppression holds everywhere (issue 11, item 3): from the published JSON, CSV and HTML, a
 * reader who knows every relation between the report's counts (row and column sums, roll-ups, totals)
 * recovers no hidden cell. The solver here is written from the published shapes, not from `suppress.ts`.
 */
import { describe, expect, it } from "vitest";
import { lineage } from "../../src/engine/index.js";
import { accumulate } from "../../src/report/accumulate.js";
import { buildReport } from "../../src/report/build.js";
import { parsePeriod } from "../../src/report/periods.js";
import { renderCsv, renderHtml, renderJson } from "../../src/report/render.js";
import { halfYear } from "./half-year.js";
import { byMonth, generateHistory } from "./history.js";

/** The state a row's jurisdiction belongs to, read from the engine's table as a reader reads the page. */
const countryOfRow = (code: string): string => lineage(code).at(-1) ?? code;

const OUTCOMES = ["complied", "partially_complied", "shadow", "rejected", "withdrawn"];
type Json = Record<string, any>;

/** Relations a reader can write down from the published JSON: `total = sum(parts)`, as paths. */
function relations(j: Json): { total: string[]; parts: string[][] }[] {
  const out: { total: string[]; parts: string[][] }[] = [];
  const r = j.requests;
  out.push({ total: ["requests", "total"], parts: OUTCOMES.map((o) => ["requests", "byOutcome", o]) });
  for (const table of ["byCountry", "byAccountType", "byAccountLocation"]) {
    for (const o of OUTCOMES) {
      out.push({
        total: ["requests", "byOutcome", o],
        parts: Object.keys(r[table]).map((k) => ["requests", table, k, o]),
      });
    }
  }
  // Every jurisdiction and the country it rolls up to, as the page shows it (the jurisdiction table:
  // GP beneath France, GB-KEN beneath the United Kingdom).
  for (const c of Object.keys(r.byCountry)) {
    for (const o of OUTCOMES) {
      out.push({
        total: ["requests", "byCountry", c, o],
        parts: Object.keys(r.byJurisdiction)
          .filter((k) => countryOfRow(k) === c)
          .map((k) => ["requests", "byJurisdiction", k, o]),
      });
    }
  }
  out.push({
    total: ["requests", "byOutcome", "rejected"],
    parts: Object.keys(r.byReason).map((k) => ["requests", "byReason", k]),
  });
  out.push({
    total: ["requests", "pendingAtEnd", "count"],
    parts: Object.keys(r.pendingAtEnd.byJurisdiction).map((k) => [
      "requests",
      "pendingAtEnd",
      "byJurisdiction",
      k,
    ]),
  });
  const e = j.enforcement;
  for (const m of ["deniedJoins", "shadowMatches", "distinctMeetings", "distinctParticipants"]) {
    for (const c of Object.keys(e.byCountry)) {
      const codes = Object.keys(e.byJurisdiction).filter((k) => countryOfRow(k) === c);
      if (m.startsWith("distinct") && codes.length > 1) continue;
      out.push({
        total: ["enforcement", "byCountry", c, m],
        parts: codes.map((k) => ["enforcement", "byJurisdiction", k, m]),
      });
    }
  }
  return out;
}

const at = (j: Json, path: string[]) => path.reduce((o: any, k) => o?.[k], j);

/** Hidden cells a reader computes exactly (linear algebra over the rationals, and sums of 0). */
function recovered(j: Json, summaryTotals: Record<string, number | string>): string[] {
  const rels = relations(j);
  const value = (path: string[]): number | string =>
    path[0] === "enforcement" && path[1] === "total"
      ? (summaryTotals[path[2] as string] as number)
      : at(j, path);
  // Summary totals of denials and shadow matches, as the page shows them, are relations too.
  for (const m of ["deniedJoins", "shadowMatches"]) {
    rels.push({
      total: ["enforcement", "total", m],
      parts: Object.keys(j.enforcement.byCountry).map((c) => ["enforcement", "byCountry", c, m]),
    });
  }
  const unknowns: string[] = [];
  const idx = new Map<string, number>();
  const eqs: number[][] = [];
  for (const rel of rels) {
    const terms: [string[], number][] = [
      [rel.total, -1],
      ...rel.parts.map((p): [string[], number] => [p, 1]),
    ];
    const row = new Map<number, number>();
    let rhs = 0;
    for (const [path, sign] of terms) {
      const v = value(path);
      if (typeof v === "number") rhs -= sign * v;
      else {
        const key = path.join("/");
        if (!idx.has(key)) {
          idx.set(key, unknowns.length);
          unknowns.push(key);
        }
        const i = idx.get(key) as number;
        row.set(i, (row.get(i) ?? 0) + sign);
      }
    }
    if (row.size > 0) eqs.push([...[...row].flat(), Number.NaN, rhs]);
  }
  // Dense matrix, reduced row echelon form.
  const n = unknowns.length;
  const m: number[][] = eqs.map((e) => {
    const row: number[] = new Array(n + 1).fill(0);
    for (let k = 0; k < e.length - 2; k += 2) row[e[k] as number] = e[k + 1] as number;
    row[n] = e[e.length - 1] as number;
    return row;
  });
  let pr = 0;
  for (let c = 0; c < n && pr < m.length; c++) {
    const s = m.findIndex((row, i) => i >= pr && Math.abs(row[c] as number) > 1e-9);
    if (s < 0) continue;
    [m[pr], m[s]] = [m[s] as number[], m[pr] as number[]];
    const p = m[pr] as number[];
    const pv = p[c] as number;
    for (let k = 0; k <= n; k++) p[k] = (p[k] as number) / pv;
    for (let i = 0; i < m.length; i++) {
      const row = m[i] as number[];
      if (i === pr || Math.abs(row[c] as number) <= 1e-9) continue;
      const f = row[c] as number;
      for (let k = 0; k <= n; k++) row[k] = (row[k] as number) - f * (p[k] as number);
    }
    pr++;
  }
  const found = new Set<string>();
  for (const row of m) {
    const nz = row.slice(0, n).flatMap((v: number, i: number) => (Math.abs(v) > 1e-9 ? [i] : []));
    const at = (i: number) => row[i] as number;
    if (nz.length === 1) found.add(unknowns[nz[0] as number] as string);
    if (
      nz.length > 1 &&
      Math.abs(at(n)) < 1e-9 &&
      (nz.every((i) => at(i) > 0) || nz.every((i) => at(i) < 0))
    ) {
      for (const i of nz) found.add(unknowns[i] as string);
    }
  }
  return [...found];
}

/** Every count in the published JSON's tables: none below the threshold may be a number. */
function smallNumbers(j: Json, threshold: number): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string[]) => {
    if (typeof v === "number" && v < threshold) out.push(path.join("/"));
    else if (v !== null && typeof v === "object")
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(j.requests, ["requests"]);
  walk(j.enforcement, ["enforcement"]);
  return out;
}

function parseCsv(text: string): string[][] {
  return text
    .split("\r\n")
    .filter((l) => l !== "")
    .map((l) => l.split(","));
}

const H2 = parsePeriod("2023-H2") as NonNullable<ReturnType<typeof parsePeriod>>;
const history = generateHistory(424242, { orders: 400, records: 25_000 });
const months = [...byMonth(history.records, accumulate).values()];
const generated = (threshold: number) =>
  buildReport({
    period: H2,
    orders: history.orders,
    months,
    history: months,
    threshold,
    generatedAt: "2024-01-10T09:30:00Z",
  });

describe.each([
  ["the held-out half-year at threshold 3", () => halfYear(3), 3],
  ["the held-out half-year at threshold 10", () => halfYear(10), 10],
  ["a generated half-year at threshold 5", () => generated(5), 5],
  ["a generated half-year at threshold 10", () => generated(10), 10],
])("%s", (_name, build, threshold) => {
  const report = build();
  const json = JSON.parse(renderJson(report)) as Json;
  // The page shows the summary totals; when hidden there, the reader does not know them.
  const html = renderHtml(report, "en");
  const shownTotal = (label: string): number | string => {
    const dd = new RegExp(`<dt>${label}</dt>\\s*<dd>([^<]*)</dd>`).exec(html)?.[1] ?? "";
    return /^[\d,]+$/.test(dd) ? Number(dd.replaceAll(",", "")) : "hidden";
  };

  it("publishes no count below the threshold in the JSON", () => {
    expect(smallNumbers(json, threshold)).toEqual([]);
  });

  it("lets no hidden cell be recovered from the published relations", () => {
    const totals = {
      deniedJoins: shownTotal("Denied joins"),
      shadowMatches: shownTotal("Shadow matches"),
    };
    expect(recovered(json, totals)).toEqual([]);
  });

  it("withholds every dataset row that falls in a hidden cell, and shows small denied joins as <N", () => {
    const rows = parseCsv(renderCsv(report)).slice(1);
    for (const row of rows) {
      const [, authority, , , , , outcome, reason, type, location, , , denied] = row as string[];
      expect(typeof json.requests.byJurisdiction[authority as string][outcome as string]).toBe("number");
      expect(typeof json.requests.byAccountType[type || "unknown"][outcome as string]).toBe("number");
      expect(typeof json.requests.byAccountLocation[location || "unknown"][outcome as string]).toBe("number");
      if (reason) expect(typeof json.requests.byReason[reason]).toBe("number");
      expect(denied === `<${threshold}` || Number(denied) >= threshold).toBe(true);
    }
    // And a visible cell never counts fewer rows than the dataset shows for it.
    for (const row of rows) {
      const [, authority, , , , , outcome] = row as string[];
      const shown = rows.filter((r) => r[1] === authority && r[6] === outcome).length;
      expect(shown).toBeLessThanOrEqual(json.requests.byJurisdiction[authority as string][outcome as string]);
    }
  });

  it("shows the same hidden cells on the page as in the JSON", () => {
    for (const lang of ["en", "nl"] as const) {
      const page = renderHtml(report, lang);
      const cells = [...page.matchAll(/<td class="num">([^<]*)<\/td>/g)].map((m) => m[1] as string);
      for (const c of cells) {
        // "<N", and the comparison's change: a difference of two published counts, or "–".
        if (c.startsWith("&lt;") || c.startsWith("<") || /^[+−±–]/.test(c)) continue;
        expect(Number(c.replace(/[.,\u00a0\s]/g, ""))).toBeGreaterThanOrEqual(threshold);
      }
    }
  });
});

describe("suppression off", () => {
  it("publishes every count at threshold 0", () => {
    const json = JSON.parse(renderJson(halfYear(0)));
    expect(json.requests.byJurisdiction.RU.shadow).toBe(1);
    expect(json.suppressed ?? []).toEqual([]);
  });
});
