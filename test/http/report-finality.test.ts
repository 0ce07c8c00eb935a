/**
 * I9 through the app: a period not finalized is provisional wherever shown, a period that has not started
 * has no report, finalization freezes the bytes and signs a manifest, and records that come later for a
 * finalized period count late in the open one, never in it.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../src/report/frozen.js";
import { manifestSignatureValid } from "../../src/service/report-signing.js";
import { DAY, decisionRecord, PLACES, T0 } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, secretOf } from "../support/harness.js";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
/** 2026-H1 ends 2026-07-01; with the 14 grace days it can be finalized from 2026-07-15. */
const H1_FINALIZABLE = Date.parse("2026-07-15T00:00:00Z");

let h: Harness;
beforeAll(async () => {
  h = await makeHarness({ now: T0 });
  await approvedOrder(h); // IN-MH, meeting 81234567890
  for (const ip of [PLACES.mumbai.ip, PLACES.mumbai.ip, PLACES.amsterdam.ip]) {
    await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: "81234567890", ip } });
  }
});
afterAll(() => h.close());

const get = (path: string) => h.call("GET", path, { as: "auditor" });

describe("a period not yet finalized", () => {
  it("is marked provisional in JSON, by a header on every format, and by a banner in both languages", async () => {
    const json = await get("/v1/reports/2026-H1");
    expect(json.body.provisional).toBe(true);
    expect(json.headers.get("x-cordon-provisional")).toBe("true");
    const csv = await get("/v1/reports/2026-H1?format=csv");
    expect(csv.headers.get("x-cordon-provisional")).toBe("true");
    expect(String(csv.body)).not.toMatch(/provisional/i); // the body keeps the documented header only
    const en = String((await get("/v1/reports/2026-H1?format=html")).body);
    expect(en).toContain('<p class="provisional" role="note">Provisional: this period is still running');
    const nl = String((await get("/v1/reports/2026-H1?format=html&lang=nl")).body);
    expect(nl).toContain('<p class="provisional" role="note">Voorlopig: deze periode loopt nog');
  });

  it("says so differently once the period has ended", async () => {
    const en = String((await get("/v1/reports/2026-02?format=html")).body);
    expect(en).toContain("this period ended on");
    expect(en).toContain("has not been finalized yet");
  });
});

describe("a period that has not started", () => {
  it.each(["2026-H2", "2026-Q2", "2026-04", "2099-H1"])("%s answers 400 PERIOD_NOT_STARTED", async (p) => {
    for (const path of [`/v1/reports/${p}`, `/v1/reports/${p}?format=csv`, `/v1/reports/${p}/manifest`]) {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("PERIOD_NOT_STARTED");
    }
    const fin = await h.call("POST", `/v1/reports/${p}/finalize`, { as: "auditor" });
    expect(fin.body.error.code).toBe("PERIOD_NOT_STARTED");
  });
});

describe("GET /v1/reports", () => {
  it("lists the periods with data or orders and the current ones, with their state, none in the future", async () => {
    const res = await get("/v1/reports");
    expect(res.status).toBe(200);
    const states = Object.fromEntries(res.body.periods.map((p: any) => [p.period, p.state]));
    // The order was received in February; the checks ran on 1 March (the clock).
    expect(states).toEqual({
      "2026-H1": "open",
      "2026-Q1": "open",
      "2026-02": "provisional",
      "2026-03": "open",
    });
    expect(res.body.periods.map((p: any) => p.period)).toEqual(["2026-H1", "2026-Q1", "2026-02", "2026-03"]);
  });
});

describe("finalizing 2026-H1", () => {
  let manifest: Manifest;
  let frozen: Record<string, string>;

  it("refuses with 409 before the period's end plus the grace days, and 404s the manifest", async () => {
    h.clock.now = H1_FINALIZABLE - 1;
    const res = await h.call("POST", "/v1/reports/2026-H1/finalize", { as: "auditor" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("FINALIZE_TOO_EARLY");
    expect(res.body.error.message).toContain("2026-07-15T00:00:00.000Z");
    expect((await get("/v1/reports/2026-H1/manifest")).status).toBe(404);
    expect((await get("/v1/reports/2026-H1")).body.provisional).toBe(true);
    expect(h.finalized).toEqual([]);
  });

  it("answers the signed manifest once the grace days are over, and calls the hook after", async () => {
    h.clock.now = H1_FINALIZABLE;
    const res = await h.call("POST", "/v1/reports/2026-H1/finalize", { as: "auditor" });
    expect(res.status).toBe(200);
    manifest = res.body;
    expect(manifest).toMatchObject({
      period: "2026-H1",
      finalizedAt: new Date(H1_FINALIZABLE).toISOString(),
      counts: { requests: 1, deniedJoins: 2, lateRecords: 0 },
      records: { count: 3 },
      late: { count: 0 },
      signer: { alg: "Ed25519" },
    });
    expect(manifest.audit.seq).toBe(2); // create and approve
    expect(await manifestSignatureValid(manifest)).toBe(true);
    expect(h.finalized).toEqual(["2026-H1"]);
    expect((await get("/v1/reports/2026-H1/manifest")).body).toEqual(manifest);
  });

  it("serves the frozen bytes, whose hashes the manifest names, not provisional", async () => {
    frozen = {};
    for (const [key, query] of [
      ["json", ""],
      ["csv", "?format=csv"],
      ["html-en", "?format=html"],
      ["html-nl", "?format=html&lang=nl"],
    ] as const) {
      const res = await h.app.request(`/v1/reports/2026-H1${query}`, {
        headers: { authorization: `Bearer ${secretOf("auditor")}` },
      });
      const text = await res.text();
      frozen[key] = text;
      expect(sha256(text)).toBe(manifest.sha256[key]);
      expect(res.headers.get("x-cordon-provisional")).toBe("false");
      expect(res.headers.get("etag")).toBe(`"${manifest.sha256[key]}"`);
    }
    expect(frozen["html-en"]).not.toContain('class="provisional"');
    const json = (await get("/v1/reports/2026-H1")).body;
    expect(json.provisional).toBe(false);
    expect(json.generatedAt).toBe(manifest.finalizedAt);
  });

  it("answers the same manifest when finalized again (idempotent), calling the hook again", async () => {
    h.clock.now = H1_FINALIZABLE + 5 * DAY;
    const again = await h.call("POST", "/v1/reports/2026-H1/finalize", { as: "auditor" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(manifest);
    expect(h.finalized).toEqual(["2026-H1", "2026-H1"]);
  });

  it("derives other thresholds from the frozen report, the same bytes every time", async () => {
    const a = await get("/v1/reports/2026-H1?format=csv&threshold=5");
    const b = await get("/v1/reports/2026-H1?format=csv&threshold=5");
    expect(a.body).toBe(b.body);
    expect(JSON.stringify((await get("/v1/reports/2026-H1?threshold=5")).body)).toContain('"<5"');
    expect(a.headers.get("x-cordon-provisional")).toBe("false");
    expect(a.headers.get("etag")).toBeNull();
  });

  it("lists the period as finalized", async () => {
    const states = Object.fromEntries(
      (await get("/v1/reports")).body.periods.map((p: any) => [p.period, p.state]),
    );
    expect(states["2026-H1"]).toBe("finalized");
    expect(states["2026-Q1"]).toBe("provisional");
    expect(states["2026-H2"]).toBe("open");
  });

  describe("late records", () => {
    it("never change the finalized period, and count as late in the open one (JSON and HTML)", async () => {
      const before = (await get("/v1/reports/2026-H1")).body;
      const q1Before = (await get("/v1/reports/2026-Q1")).body;
      // Shipped late from an outbox: a denial on 2 March, arriving on 20 July.
      await h.store.append([decisionRecord({ at: "2026-03-02T10:00:00.000Z" })]);
      expect((await get("/v1/reports/2026-H1")).body).toEqual(before);
      // The quarter inside it, built live, does not move either: its months are frozen.
      const q1After = (await get("/v1/reports/2026-Q1")).body;
      expect(q1After.enforcement).toEqual(q1Before.enforcement);
      expect(q1After.late).toEqual({ records: 0, deniedJoins: 0, shadowMatches: 0 });
      const h2 = (await get("/v1/reports/2026-H2")).body;
      expect(h2.late).toEqual({ records: 1, deniedJoins: 1, shadowMatches: 0 });
      expect(h2.provisional).toBe(true);
      const en = String((await get("/v1/reports/2026-H2?format=html")).body);
      expect(en).toContain("Late records from finalized periods");
      const nl = String((await get("/v1/reports/2026-H2?format=html&lang=nl")).body);
      expect(nl).toContain("Nagekomen registraties uit vastgestelde perioden");
    });

    it("are what isFinalized says: a record's instant in a finalized period", async () => {
      expect(await h.reports.isFinalized("2026-01-01T00:00:00.000Z")).toBe(true);
      expect(await h.reports.isFinalized("2026-06-30T23:59:59.999Z")).toBe(true);
      expect(await h.reports.isFinalized("2025-12-31T23:59:59.999Z")).toBe(false);
      expect(await h.reports.isFinalized("2026-07-01T00:00:00.000Z")).toBe(false);
    });

    it("never change a finalized period's counts, whatever arrives (property)", async () => {
      const frozenJson = (await get("/v1/reports/2026-H1")).body;
      const lateBefore = (await get("/v1/reports/2026-H2")).body.late.records;
      const seen = new Set<string>();
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              day: fc.integer({ min: 0, max: 180 }),
              code: fc.constantFrom("BLOCKED", "SHADOW_MATCH", "NO_ORDER", "GEO_UNKNOWN"),
              replay: fc.boolean(),
            }),
            { minLength: 1, maxLength: 8 },
          ),
          async (arrivals) => {
            const records = arrivals.map(({ day, code, replay }) => {
              const record = decisionRecord({
                at: new Date(Date.parse("2026-01-01T00:00:00Z") + day * DAY).toISOString(),
                code: code as never,
              });
              // A replay: a record with an id already counted, late or not, comes again.
              if (replay && seen.size > 0) record.decisionId = [...seen][0] as string;
              seen.add(record.decisionId);
              return record;
            });
            await h.store.append(records);
            const now = (await get("/v1/reports/2026-H1")).body;
            expect(now).toEqual(frozenJson);
          },
        ),
        { numRuns: 15 },
      );
      // Each distinct id counted once, late, in the open half-year.
      const late = (await get("/v1/reports/2026-H2")).body.late.records;
      expect(late - lateBefore).toBe(seen.size);
    });
  });
});
