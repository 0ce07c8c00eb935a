/** The small-count threshold as the CSV and the HTML page publish it. Pure. */

/** A count as published: "< N" below the threshold, else the number formatted. */
export function masked(count: number, threshold: number, format: (n: number) => string): string {
  return count < threshold ? `< ${format(threshold)}` : format(count);
}
