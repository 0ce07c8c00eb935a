/**
 * The report's bar charts as inline SVG. Grouped rather than stacked so that no bar end or total gives
 * away a count the threshold hides: a masked count draws no bar and is labelled "< N", and the scale is
 * set by the published counts only.
 */
import type { Child } from "hono/jsx";
import { lines } from "./lines.js";

export interface Series {
  name: string;
  colour: string;
}

export interface ChartRow {
  label: string;
  values: number[];
  /** Counts hidden by suppression (drawn like those below the threshold: no bar, "< N"). */
  hidden?: boolean[];
}

const WIDTH = 720;
const LABEL_WIDTH = 250;
const PLOT_WIDTH = 380;
const BAR = 14;
const GAP = 10;
const LEGEND = 28;
const LABEL_MAX = 38;

/** A horizontal grouped bar chart: one group per row, one bar per series, a legend for two or more. */
export function BarChart(props: {
  id: string;
  title: string;
  desc: string;
  rows: ChartRow[];
  series: Series[];
  threshold: number;
  count: (n: number) => string;
}) {
  const { id, rows, series, threshold } = props;
  const group = series.length * BAR + GAP;
  const legend = series.length > 1 ? LEGEND : 0;
  const height = legend + rows.length * group + GAP;
  const masked = (row: ChartRow, i: number) =>
    row.hidden?.[i] === true || (row.values[i] as number) < threshold;
  const shown = rows.flatMap((row) => row.values.filter((_, i) => !masked(row, i)));
  const max = Math.max(1, ...shown);
  const parts: Child[] = [];
  if (legend > 0) {
    series.forEach((s, i) => {
      const x = LABEL_WIDTH + i * 130;
      parts.push(
        <>
          <rect x={x} y={6} width={12} height={12} fill={s.colour} />
          <text x={x + 16} y={16}>
            {s.name}
          </text>
        </>,
      );
    });
  }
  rows.forEach((row, r) => {
    const top = legend + r * group + GAP / 2;
    parts.push(
      <text x={LABEL_WIDTH - 8} y={top + (series.length * BAR) / 2 + 4} text-anchor="end">
        {truncate(row.label)}
      </text>,
    );
    row.values.forEach((value, i) => {
      const s = series[i] as Series;
      const y = top + i * BAR;
      const width = masked(row, i) ? 0 : Math.round((value / max) * PLOT_WIDTH * 10) / 10;
      if (width > 0) {
        parts.push(<rect x={LABEL_WIDTH} y={y + 1} width={width} height={BAR - 2} fill={s.colour} />);
      }
      parts.push(
        <text x={LABEL_WIDTH + width + 4} y={y + BAR - 3}>
          {masked(row, i) ? props.count(-1) : props.count(value)}
        </text>,
      );
    });
  });
  return (
    <figure>
      {lines(
        <svg
          role="img"
          aria-label={props.title}
          aria-labelledby={`${id}-title`}
          aria-describedby={`${id}-desc`}
          viewBox={`0 0 ${WIDTH} ${height}`}
          width={WIDTH}
          height={height}
        >
          {lines(
            <title id={`${id}-title`}>{props.title}</title>,
            <desc id={`${id}-desc`}>{props.desc}</desc>,
            ...parts,
          )}
        </svg>,
      )}
    </figure>
  );
}

/** Shortens a chart label, keeping a trailing "(code)" so the bar still matches its table row. */
function truncate(label: string): string {
  if (label.length <= LABEL_MAX) return label;
  const code = / \([A-Z0-9-]+\)$/.exec(label)?.[0] ?? "";
  return `${label.slice(0, Math.max(1, LABEL_MAX - code.length - 1))}…${code}`;
}
