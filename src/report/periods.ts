/**
 * Reporting periods in UTC: half-years (`2023-H1`, the transparency report's default), quarters
 * (`2023-Q3`) and months (`2023-07`). Aggregates are kept per month; a quarter or half-year is the union
 * of its months, so distinct counts stay exact at every granularity. Pure.
 */
export type PeriodKind = "half" | "quarter" | "month";

export interface Period {
  /** Canonical label: `2023-H1`, `2023-Q3`, `2023-07`. */
  id: string;
  kind: PeriodKind;
  /** Inclusive start, epoch ms (UTC). */
  start: number;
  /** Exclusive end, epoch ms (UTC). */
  end: number;
  /** The months it covers, as `YYYY-MM`. */
  months: string[];
}

const PATTERN = /^(\d{4})-(?:H([12])|Q([1-4])|(0[1-9]|1[0-2]))$/;

/** Parses a period label; undefined when it is not one. Years 1970-9999. */
export function parsePeriod(label: string): Period | undefined {
  const match = PATTERN.exec(label);
  if (!match) return undefined;
  const year = Number(match[1]);
  if (year < 1970) return undefined;
  const [firstMonth, count, kind]: [number, number, PeriodKind] = match[2]
    ? [(Number(match[2]) - 1) * 6, 6, "half"]
    : match[3]
      ? [(Number(match[3]) - 1) * 3, 3, "quarter"]
      : [Number(match[4]) - 1, 1, "month"];
  const months = Array.from({ length: count }, (_, i) => monthLabel(year, firstMonth + i));
  return {
    id: label,
    kind,
    start: Date.UTC(year, firstMonth, 1),
    end: Date.UTC(year, firstMonth + count, 1),
    months,
  };
}

/** `YYYY-MM` of an instant (UTC). */
export function monthOf(at: number | string): string {
  const d = new Date(at);
  return monthLabel(d.getUTCFullYear(), d.getUTCMonth());
}

/** The period of the given kind that contains an instant. */
export function periodOf(at: number | string, kind: PeriodKind = "half"): Period {
  const d = new Date(at);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const label =
    kind === "half"
      ? `${year}-H${month < 6 ? 1 : 2}`
      : kind === "quarter"
        ? `${year}-Q${Math.floor(month / 3) + 1}`
        : monthLabel(year, month);
  return parsePeriod(label) as Period;
}

export function contains(period: Period, at: number | string): boolean {
  const t = typeof at === "number" ? at : Date.parse(at);
  return t >= period.start && t < period.end;
}

function monthLabel(year: number, monthIndex: number): string {
  const y = year + Math.floor(monthIndex / 12);
  const m = (monthIndex % 12) + 1;
  return `${y}-${String(m).padStart(2, "0")}`;
}
