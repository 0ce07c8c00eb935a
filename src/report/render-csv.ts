/**
 * The report's dataset as CSV (RFC 4180): one row per order completed in the period, without meeting or
 * account identifiers, network addresses, order ids or case references. Pure.
 */
import { hiddenLookup, suppressedCount } from "./masked.js";
import type { Report } from "./model.js";

/** Exactly DESIGN.md's header ("Report"). */
export const CSV_HEADER = [
  "period",
  "authority_jurisdiction",
  "authority_kind",
  "target_kind",
  "requested_jurisdictions",
  "block_jurisdictions",
  "outcome",
  "reason_code",
  "account_type",
  "account_location",
  "received_date",
  "completed_date",
  "denied_joins",
  "removed_participants",
] as const;

/**
 * Every record, the last included, ends in CRLF (the RFC's line break, and what spreadsheet programs
 * expect); a field containing a comma, a double quote, CR or LF is quoted with its quotes doubled.
 * Lists are joined with `;`. Unknown or not applicable values are empty fields: `reason_code` of a
 * request that was not rejected, and `removed_participants` in a report frozen before in-meeting
 * removals were counted apart from join denials. `denied_joins` and `removed_participants` below the
 * threshold, or hidden because they would give a hidden count away, are "<N"; under a threshold the rows
 * that would reveal a small group are withheld (`suppress.ts`).
 */
export function renderCsv(report: Report): string {
  const lines = [CSV_HEADER.join(",")];
  const hidden = hiddenLookup(report.suppressed);
  const count = (n: number, i: number, field: string) =>
    n < report.threshold || hidden("dataset", i, field) ? suppressedCount(report.threshold) : String(n);
  for (const [i, row] of report.dataset.entries()) {
    lines.push(
      [
        row.period,
        row.authorityJurisdiction,
        row.authorityKind,
        row.targetKind,
        row.requestedJurisdictions.join(";"),
        row.blockJurisdictions.join(";"),
        row.outcome,
        row.reasonCode ?? "",
        row.accountType ?? "",
        row.accountLocation ?? "",
        row.receivedDate,
        row.completedDate,
        count(row.deniedJoins, i, "deniedJoins"),
        // A report frozen before removals were counted has none in its rows: an empty cell, as then.
        row.removedParticipants === undefined || row.removedParticipants === null
          ? ""
          : count(row.removedParticipants, i, "removedParticipants"),
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
