/** The small-count threshold as the CSV and the HTML page publish it. Pure. */

/** A count as published: "< N" below the threshold, else the number formatted. */
export function masked(count: number, threshold: number, format: (n: number) => string): string {
  return count < threshold ? `< ${format(threshold)}` : format(count);
}

/** A suppressed count as the CSV dataset and the JSON publish it (DESIGN.md "Report": `<N`). */
export const suppressedCount = (threshold: number): string => `<${threshold}`;

/** A lookup of the report's hidden cells (`Report.suppressed`), by the path of the count. */
export function hiddenLookup(
  suppressed: readonly string[] | undefined,
): (...path: (string | number)[]) => boolean {
  const set = new Set(suppressed ?? []);
  return (...path) => set.has(JSON.stringify(path));
}
