/**
 * Small-count suppression of a published report (`threshold=N`, DESIGN.md "Report"): which counts are
 * hidden, so that none below N can be read or recovered by subtraction from what is published. Pure.
 *
 * 1. Primary: every count below N (zeros included) in every table and total.
 * 2. Complementary: the report's additive relations (each line: a total = the sum of its parts: outcome
 *    columns over jurisdictions, account types and locations; country roll-ups over their codes;
 *    rejections per reason = rejected; pending per jurisdiction = pending; denials and shadow matches
 *    over jurisdictions and countries) are solved as a linear system over the hidden cells. While some
 *    hidden cell is determined by it (exactly, or as 0 by a sum of hidden cells equal to 0), the smallest
 *    visible cell of a line through that cell is hidden too. It ends: each round hides one more cell.
 * 3. Per-order counts (JSON `enforcement.byOrder`) are not published under a threshold.
 * 4. The dataset: a row is published only when every table cell it counts in is visible and at least N
 *    rows share all its categorical columns; the others are withheld (their number is not published:
 *    it would be a count). A row's `denied_joins` (and `removed_participants`) is hidden below N and
 *    wherever a block jurisdiction's count of the same kind is hidden.
 * Distinct meetings and participants are not sums (a participant can be in two places), so they get
 * primary suppression only.
 */
import { type EnforcementCounts, OUTCOMES, type Report } from "./model.js";
import { rollUpOf } from "./roll-up.js";

/**
 * A count of an enforcement row; 0 where the row has none (`removedParticipants` in a report frozen
 * before removals were counted apart).
 */
const count = (row: Partial<EnforcementCounts> | undefined, metric: keyof EnforcementCounts): number =>
  row?.[metric] ?? 0;

/** A cell's address in the report, as a key: the JSON path of its number. */
export const cellKey = (...path: (string | number)[]): string => JSON.stringify(path);

interface Line {
  total: string;
  parts: string[];
}

/** The report's published counts and their additive relations. */
export function cellsOf(report: Report): { cells: Map<string, number>; lines: Line[] } {
  const cells = new Map<string, number>();
  const lines: Line[] = [];
  const add = (value: number, ...path: (string | number)[]) => {
    const key = cellKey(...path);
    cells.set(key, value);
    return key;
  };
  const r = report.requests;
  const byCountry = r.byCountry ?? {};
  const byOutcome: Partial<Record<string, number>> = r.byOutcome ?? {};
  const totalKey = add(r.total, "requests", "total");
  const outcomeKeys = OUTCOMES.map((o) => add(byOutcome[o] ?? 0, "requests", "byOutcome", o));
  lines.push({ total: totalKey, parts: outcomeKeys });
  for (const table of ["byCountry", "byAccountType", "byAccountLocation"] as const) {
    const rows = table === "byCountry" ? byCountry : r[table];
    OUTCOMES.forEach((o, i) => {
      const parts = Object.entries(rows).map(([k, c]) => add(c[o], "requests", table, k, o));
      lines.push({ total: outcomeKeys[i] as string, parts });
    });
  }
  for (const [k, c] of Object.entries(r.byJurisdiction)) {
    for (const o of OUTCOMES) add(c[o], "requests", "byJurisdiction", k, o);
  }
  for (const country of Object.keys(byCountry)) {
    const codes = Object.keys(r.byJurisdiction).filter((k) => rollUpOf(k) === country);
    for (const o of OUTCOMES) {
      const parts = codes.map((k) => cellKey("requests", "byJurisdiction", k, o));
      lines.push({ total: cellKey("requests", "byCountry", country, o), parts });
    }
  }
  if (r.byReason !== undefined) {
    const parts = Object.entries(r.byReason).map(([k, n]) => add(n, "requests", "byReason", k));
    lines.push({ total: cellKey("requests", "byOutcome", "rejected"), parts });
  }
  const pendingTotal = add(r.pendingAtEnd.count, "requests", "pendingAtEnd", "count");
  lines.push({
    total: pendingTotal,
    parts: Object.entries(r.pendingAtEnd.byJurisdiction).map(([k, n]) =>
      add(n, "requests", "pendingAtEnd", "byJurisdiction", k),
    ),
  });

  const e = report.enforcement;
  const eCountry = e.byCountry ?? {};
  for (const metric of [
    "deniedJoins",
    "removedParticipants",
    "shadowMatches",
    "distinctMeetings",
    "distinctParticipants",
  ] as const) {
    const summed = metric === "deniedJoins" || metric === "removedParticipants" || metric === "shadowMatches";
    const total = summed
      ? add(
          Object.values(e.byJurisdiction).reduce((s, c) => s + count(c, metric), 0),
          "enforcement",
          "total",
          metric,
        )
      : undefined;
    const countryParts: string[] = [];
    for (const [country, c] of Object.entries(eCountry)) {
      const countryKey = add(count(c, metric), "enforcement", "byCountry", country, metric);
      countryParts.push(countryKey);
      const codes = Object.keys(e.byJurisdiction).filter((k) => rollUpOf(k) === country);
      const parts = codes.map((k) =>
        add(count(e.byJurisdiction[k], metric), "enforcement", "byJurisdiction", k, metric),
      );
      // Distinct counts add up only where the country has a single row (then they are equal).
      if (summed || parts.length === 1) lines.push({ total: countryKey, parts });
    }
    for (const [k, c] of Object.entries(e.byJurisdiction))
      add(count(c, metric), "enforcement", "byJurisdiction", k, metric);
    if (total !== undefined) {
      lines.push({ total, parts: countryParts });
      lines.push({
        total,
        parts: Object.keys(e.byJurisdiction).map((k) => cellKey("enforcement", "byJurisdiction", k, metric)),
      });
    }
  }
  if (report.late.records > 0) add(report.late.records, "late", "records");
  const prev = report.previous;
  if (prev !== undefined) {
    const total = add(prev.total, "previous", "total");
    lines.push({ total, parts: OUTCOMES.map((o) => add(prev.byOutcome[o], "previous", "byOutcome", o)) });
    if (prev.deniedJoins !== null) add(prev.deniedJoins, "previous", "deniedJoins");
  }
  return { cells, lines };
}

/**
 * The hidden cells (keys of `cellsOf`), by the algorithm of the module's header; none for threshold 0.
 */
export function hiddenCells(report: Report): Set<string> {
  const threshold = report.threshold;
  const hidden = new Set<string>();
  if (threshold <= 0) return hidden;
  const { cells, lines } = cellsOf(report);
  for (const [key, value] of cells) if (value < threshold) hidden.add(key);
  for (let round = 0; round < cells.size; round++) {
    const exposed = recoverable(cells, lines, hidden);
    if (exposed.length === 0) break;
    let added = false;
    for (const key of exposed) {
      // The smallest visible cell of a line through the exposed cell.
      let best: string | undefined;
      for (const line of lines) {
        const members = [line.total, ...line.parts];
        if (!members.includes(key)) continue;
        for (const m of members) {
          if (hidden.has(m)) continue;
          if (best === undefined || (cells.get(m) as number) < (cells.get(best) as number)) best = m;
        }
      }
      if (best !== undefined) {
        hidden.add(best);
        added = true;
        break;
      }
    }
    if (!added) break;
  }
  return hidden;
}

/**
 * The hidden cells a reader can compute from the visible ones and the lines: Gaussian elimination over
 * the hidden cells; a cell is recovered when its unit vector lies in the row space, or when a row with
 * only positive coefficients sums to 0 (counts are never negative). Exported for the tests' cross-check.
 */
export function recoverable(
  cells: ReadonlyMap<string, number>,
  lines: readonly Line[],
  hidden: ReadonlySet<string>,
): string[] {
  const vars = [...hidden].filter((k) => cells.has(k));
  const index = new Map(vars.map((k, i) => [k, i]));
  const rows: number[][] = [];
  for (const line of lines) {
    const row = new Array<number>(vars.length + 1).fill(0);
    let any = false;
    const term = (key: string, sign: number) => {
      const i = index.get(key);
      if (i === undefined) row[vars.length] = (row[vars.length] as number) - sign * (cells.get(key) ?? 0);
      else {
        row[i] = (row[i] as number) + sign;
        any = true;
      }
    };
    term(line.total, -1);
    for (const p of line.parts) term(p, 1);
    // row: sum(hidden parts) - hidden total = rhs
    if (any) rows.push(row);
  }
  const out = new Set<string>();
  const eps = 1e-9;
  let pivotRow = 0;
  const pivots: number[] = [];
  for (let col = 0; col < vars.length && pivotRow < rows.length; col++) {
    let sel = -1;
    for (let i = pivotRow; i < rows.length; i++)
      if (Math.abs((rows[i] as number[])[col] as number) > eps) sel = i;
    if (sel < 0) continue;
    [rows[pivotRow], rows[sel]] = [rows[sel] as number[], rows[pivotRow] as number[]];
    const p = rows[pivotRow] as number[];
    const pv = p[col] as number;
    for (let j = 0; j <= vars.length; j++) p[j] = (p[j] as number) / pv;
    for (let i = 0; i < rows.length; i++) {
      if (i === pivotRow) continue;
      const row = rows[i] as number[];
      const f = row[col] as number;
      if (Math.abs(f) <= eps) continue;
      for (let j = 0; j <= vars.length; j++) row[j] = (row[j] as number) - f * (p[j] as number);
    }
    pivots.push(col);
    pivotRow++;
  }
  for (const row of rows) {
    const nonzero = vars.map((_, j) => j).filter((j) => Math.abs(row[j] as number) > eps);
    if (nonzero.length === 1) out.add(vars[nonzero[0] as number] as string);
    else if (
      nonzero.length > 1 &&
      Math.abs(row[vars.length] as number) <= eps &&
      (nonzero.every((j) => (row[j] as number) > 0) || nonzero.every((j) => (row[j] as number) < 0))
    ) {
      for (const j of nonzero) out.add(vars[j] as string);
    }
  }
  return [...out];
}

/**
 * The report as published at its threshold: `suppressed` lists the hidden cells, per-order counts are
 * dropped, and the dataset keeps only the rows that reveal no hidden or small count (header). Threshold
 * 0 returns the report unchanged.
 */
export function suppressReport(report: Report): Report {
  const threshold = report.threshold;
  if (threshold <= 0) return report;
  const hidden = hiddenCells(report);
  const h = (...path: (string | number)[]) => hidden.has(cellKey(...path));
  const groupKey = (row: Report["dataset"][number]) =>
    JSON.stringify([
      row.authorityJurisdiction,
      row.authorityKind,
      row.targetKind,
      row.requestedJurisdictions,
      row.blockJurisdictions,
      row.outcome,
      row.reasonCode,
      row.accountType,
      row.accountLocation,
    ]);
  const groups = new Map<string, number>();
  for (const row of report.dataset) groups.set(groupKey(row), (groups.get(groupKey(row)) ?? 0) + 1);
  const unknown = (v: string | null) => v ?? "unknown";
  const dataset = report.dataset.filter(
    (row) =>
      (groups.get(groupKey(row)) as number) >= threshold &&
      !h("requests", "byJurisdiction", row.authorityJurisdiction, row.outcome) &&
      !h("requests", "byCountry", rollUpOf(row.authorityJurisdiction), row.outcome) &&
      !h("requests", "byAccountType", unknown(row.accountType), row.outcome) &&
      !h("requests", "byAccountLocation", unknown(row.accountLocation), row.outcome) &&
      !(row.reasonCode !== null && h("requests", "byReason", row.reasonCode)),
  );
  const suppressed = [...hidden];
  dataset.forEach((row, i) => {
    const blocked = row.blockJurisdictions.some(
      (j) =>
        h("enforcement", "byJurisdiction", j, "deniedJoins") ||
        h("enforcement", "byCountry", rollUpOf(j), "deniedJoins"),
    );
    if (row.deniedJoins < threshold || blocked) suppressed.push(cellKey("dataset", i, "deniedJoins"));
    const removalsHidden = row.blockJurisdictions.some(
      (j) =>
        h("enforcement", "byJurisdiction", j, "removedParticipants") ||
        h("enforcement", "byCountry", rollUpOf(j), "removedParticipants"),
    );
    if (row.removedParticipants < threshold || removalsHidden)
      suppressed.push(cellKey("dataset", i, "removedParticipants"));
  });
  return {
    ...report,
    enforcement: { ...report.enforcement, byOrder: {} },
    dataset,
    suppressed: suppressed.sort(),
  };
}
