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
  expect(report).toEqual(then);
  expect({ provisional, late }).toEqual({
    provisional: true,
    late: { records: 0, deniedJoins: 0, shadowMatches: 0 },
  });
}
