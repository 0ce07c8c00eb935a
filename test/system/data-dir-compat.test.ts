/**
 * A data directory written by Cordon 0.1.0 (before the layers were redrawn) opens unchanged: the
 * server started on a copy of it answers the orders, the audit chain, the decision log and the report
 * exactly as 0.1.0 did (`test/fixtures/data-0.1.0.answers.json`, recorded from that version's API).
 * The report's aggregates in it stop at a checkpoint two records before the log's end, so the report
 * also proves that the catch-up resumes from an old checkpoint. Nothing in the format may change
 * without a migration that keeps this test green.
 */
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSameReport } from "../support/compat.js";
import { api, type ServerProcess, startServer, TOKENS } from "../support/server.js";

const FIXTURE = new URL("../fixtures/data-0.1.0/", import.meta.url);
const ANSWERS = new URL("../fixtures/data-0.1.0.answers.json", import.meta.url);

let dir: string;
let server: ServerProcess;
let expected: { orders: unknown; audit: unknown; decisions: unknown; report: Record<string, unknown> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-compat-"));
  await cp(FIXTURE, dir, { recursive: true });
  expected = JSON.parse(await readFile(ANSWERS, "utf8"));
  server = await startServer({
    CORDON_DATA_DIR: dir,
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    // The key the fixture's records were hashed with: distinct participants depend on it.
    CORDON_IP_HASH_KEY: "golden-data-directory-ip-hash-key-0123456789",
  });
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("a data directory from Cordon 0.1.0", () => {
  it("lists the same orders", async () => {
    expect((await api(server, "GET", "/v1/orders", "auditor")).body).toEqual(expected.orders);
  });

  it("keeps the same audit chain", async () => {
    expect((await api(server, "GET", "/v1/audit?limit=1000", "auditor")).body).toEqual(expected.audit);
  });

  it("pages the same decision records with the same cursors", async () => {
    expect((await api(server, "GET", "/v1/decisions?limit=1000", "auditor")).body).toEqual(
      expected.decisions,
    );
  });

  it("reports the same counts, resuming the old aggregates from their checkpoint", async () => {
    await expectSameReport(server, expected.report);
  });

  it("goes on appending to the old decision log", async () => {
    const before = (await api(server, "GET", "/v1/decisions?limit=1000", "auditor")).body.records.length;
    expect(
      (await api(server, "POST", "/v1/check", "checker", { meetingId: "m-ru", ip: "8.8.8.8" })).status,
    ).toBe(200);
    const after = (await api(server, "GET", "/v1/decisions?limit=1000", "auditor")).body.records;
    expect(after).toHaveLength(before + 1);
    expect(after.slice(0, before)).toEqual((expected.decisions as { records: unknown[] }).records);
  });
});
