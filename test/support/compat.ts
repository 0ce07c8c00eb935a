/**
 * What the 0.1.0 compatibility tests (data directory and Redis) expect of a report: the numbers 0.1.0
 * answered, with the fields added since (I9) checked apart.
 */
import { expect } from "vitest";
import { api, type ServerProcess } from "./server.js";

export async function expectSameReport(
  server: ServerProcess,
  expected: Record<string, unknown>,
): Promise<void> {
  const {
    generatedAt: _now,
    // Added since 0.1.0 (I9): the period is not finalized, and nothing came late.
    provisional,
    late,
    ...report
  } = (await api(server, "GET", "/v1/reports/2026-H2", "auditor")).body;
  const { generatedAt: _then, ...then } = expected;
  // Added since 0.1.0 (issue 13): removals counted apart from denied joins, and where each order's
  // meetings were hosted. 0.1.0 recorded neither in-meeting checks nor hosts, so every one is 0; the
  // dataset's removed_participants, an empty cell (null) then, is 0 now.
  const added: number[] = [];
  for (const table of ["byJurisdiction", "byCountry", "byOrder"] as const) {
    for (const row of Object.values<Record<string, number>>(report.enforcement[table])) {
      for (const key of ["removedParticipants", "meetingsHostedInside", "meetingsHostedOutside"]) {
        if (key in row) added.push(row[key] as number);
        delete row[key];
      }
    }
  }
  for (const row of report.dataset as Record<string, unknown>[]) {
    added.push(row.removedParticipants as number);
    row.removedParticipants = null;
  }
  expect(added.length).toBeGreaterThan(0);
  expect(added.every((n) => n === 0)).toBe(true);
  expect(report).toEqual(then);
  expect({ provisional, late }).toEqual({
    provisional: true,
    late: { records: 0, deniedJoins: 0, shadowMatches: 0 },
  });
}
