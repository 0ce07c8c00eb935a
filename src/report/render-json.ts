/**
 * The report as JSON: exact numbers and the threshold, for auditors and tooling, with the definitions of
 * its fields so the file explains itself. The per-order enforcement is keyed by order id, for the
 * auditors who can already read the orders. Pure.
 */
import { suppressedCount } from "./masked.js";
import type { Report } from "./model.js";

/** What the report's fields mean. */
export const DEFINITIONS = {
  requests:
    "Orders completed in the period (start inclusive, end exclusive, UTC), by requesting authority's jurisdiction, account type and account location; a missing account type or location counts as 'unknown'.",
  complied: "Approved; stays complied when the authority later withdraws the order and the block is lifted.",
  partially_complied:
    "Approved for less than the authority requested (fewer jurisdictions or targets granted than asked, I10); stays so when later withdrawn.",
  shadow:
    "Approved for observation only (shadow mode): never enforced, nobody was refused; its matches are counted as shadowMatches, never as denials.",
  rejected: "Rejected after review.",
  withdrawn: "Withdrawn by the authority before a decision.",
  pendingAtEnd: "Orders received before the period's end and not completed before it.",
  enforcement:
    "Decision records in the period: deniedJoins (BLOCKED), shadowMatches (SHADOW_MATCH), and the distinct meetings and participants (by keyed hash of the address) among the denials (a participant only a shadow order matched was let in and is not counted); per block jurisdiction that matched and per order. A record naming two orders counts for each order.",
  deniedJoins:
    "In the dataset: the BLOCKED records naming the order from the start of the decision history up to the period's end.",
  threshold:
    "Under a threshold N, every count below N and every count that would let one be recovered by subtraction is published as '<N' (listed in 'suppressed' by JSON path); per-order counts are left out, and dataset rows of groups smaller than N, or counted in a hidden cell, are withheld.",
} as const;

export function renderJson(report: Report): string {
  const published = structuredClone({ ...report, definitions: DEFINITIONS }) as Record<string, unknown>;
  for (const key of report.suppressed ?? []) {
    const path = JSON.parse(key) as (string | number)[];
    let at: unknown = published;
    for (const step of path.slice(0, -1)) at = (at as Record<string | number, unknown> | undefined)?.[step];
    const last = path[path.length - 1] as string | number;
    if (at !== null && typeof at === "object" && last in at) {
      (at as Record<string | number, unknown>)[last] = suppressedCount(report.threshold);
    }
  }
  return `${JSON.stringify(published, null, 2)}\n`;
}
