/**
 * The held-out half-year (`half-year.ts`) gives exactly its hand-counted numbers in JSON, CSV and the
 * HTML page in both languages (issue 11, items 3 and 4).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildReport } from "../../src/report/build.js";
import { archiveOf, frozenReport, renderFormats } from "../../src/report/frozen.js";
import { renderCsv, renderHtml, renderJson } from "../../src/report/render.js";
import { H1, HAND_COUNTED, halfYear, months, ORDERS, RECORDS } from "./half-year.js";

/** The rows of the page's tables as text cells (tags stripped, entities of the fixture decoded). */
function tableRows(html: string, sectionId: string): string[][] {
  const start = html.indexOf(`id="${sectionId}"`);
  const section = html.slice(start, html.indexOf("</section>", start));
  return [...section.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...(m[1] as string).matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) =>
      (c[1] as string)
        .replace(/<[^>]+>/g, "")
        .replaceAll("&amp;", "&")
        .replaceAll("&#39;", "'"),
    ),
  );
}

describe("the held-out half-year", () => {
  const report = halfYear();

  it("gives the hand-counted requests, roll-up and rejection reasons in JSON", () => {
    const json = JSON.parse(renderJson(report));
    expect(json.requests.total).toBe(HAND_COUNTED.total);
    expect(json.requests.byJurisdiction).toEqual(HAND_COUNTED.byJurisdiction);
    expect(json.requests.byCountry).toEqual(HAND_COUNTED.byCountry);
    expect(json.requests.byReason).toEqual(HAND_COUNTED.byReason);
    expect(json.requests.pendingAtEnd.count).toBe(HAND_COUNTED.pending);
  });

  it("counts shadow matches apart and no shadow-only participant (14 denied in Russia, not 18)", () => {
    const json = JSON.parse(renderJson(report));
    expect(json.enforcement.byJurisdiction).toEqual(HAND_COUNTED.enforcement);
    expect(json.enforcement.byCountry).toEqual(HAND_COUNTED.enforcementByCountry);
    for (const [id, hosted] of Object.entries(HAND_COUNTED.hosted))
      expect(json.enforcement.byOrder[id], id).toMatchObject(hosted);
    expect(json.enforcement.byOrder["ru-1"]).toMatchObject({
      meetingsHostedInside: 0,
      meetingsHostedOutside: 0,
      removedParticipants: 2,
    });
  });

  it("writes the hand-counted dataset under DESIGN's header", () => {
    expect(renderCsv(report)).toBe(`${HAND_COUNTED.csv.join("\r\n")}\r\n`);
  });

  it.each([
    ["en", "India (IN)", "India (IN): total", "Mahārāshtra, India (IN-MH)"],
    ["nl", "India (IN)", "India (IN): totaal", "Mahārāshtra, India (IN-MH)"],
  ] as const)("shows India, Maharashtra beneath it and India's total in %s", (lang, india, total, mh) => {
    const html = renderHtml(report, lang);
    const rows = tableRows(html, "requests-jurisdiction");
    const labels = rows.map((r) => r[0]);
    expect(labels.indexOf(india)).toBeGreaterThan(0);
    expect(labels.indexOf(mh)).toBe(labels.indexOf(india) + 1);
    expect(labels.indexOf(total)).toBe(labels.indexOf(mh) + 1);
    // complied, partially complied, shadow, rejected, withdrawn
    expect(rows[labels.indexOf(total)]?.slice(1)).toEqual(["1", "1", "0", "2", "0"]);
    expect(rows[labels.indexOf(india)]?.slice(1)).toEqual(["1", "0", "0", "1", "0"]);
    const enforcement = tableRows(html, "denied-jurisdiction");
    const russia = enforcement.find((r) => (r[0] ?? "").includes("(RU)"));
    // denied joins, removed from meetings, shadow matches, distinct meetings, distinct participants
    expect(russia?.slice(1)).toEqual(["20", "2", "6", "1", "15"]);
    const indiaTotal = enforcement.find((r) => r[0] === total);
    expect(indiaTotal?.slice(1)).toEqual(["5", "0", "0", "2", "3"]);
    // Guadeloupe beneath France, Kent beneath the United Kingdom (the jurisdiction table's roll-up).
    const labelsOf = enforcement.map((r) => r[0] ?? "");
    const guadeloupe = labelsOf.findIndex((l) => l.includes("(GP)"));
    const franceTotal = labelsOf.findIndex((l) => l.includes("(FR)") && l !== labelsOf[guadeloupe]);
    expect(enforcement[guadeloupe]?.slice(1)).toEqual(["2", "0", "0", "1", "2"]);
    expect(franceTotal).toBe(guadeloupe + 1);
    expect(enforcement[franceTotal]?.slice(1)).toEqual(["2", "0", "0", "1", "2"]);
    const kent = labelsOf.findIndex((l) => l.includes("(GB-KEN)"));
    expect(enforcement[kent]?.slice(1)).toEqual(["1", "0", "0", "1", "1"]);
    expect(labelsOf[kent + 1]).toMatch(/\(GB\)/);
  });

  it.each([
    ["en", "Legally invalid", "No such meeting or account", "Shadow (observed, not enforced)"],
    [
      "nl",
      "Juridisch ongeldig",
      "Vergadering of account bestaat niet",
      "Schaduw (waargenomen, niet gehandhaafd)",
    ],
  ] as const)("lists rejections per reason and the shadow outcome in %s", (lang, legal, noTarget, shadow) => {
    const html = renderHtml(report, lang);
    const reasons = tableRows(html, "rejection-reasons");
    expect(reasons.find((r) => r[0] === legal)?.[1]).toBe("1");
    expect(reasons.find((r) => r[0] === noTarget)?.[1]).toBe("1");
    expect(tableRows(html, "requests-jurisdiction")[0]).toContain(shadow);
  });

  it.each([
    ["en", "Phone (phone-plan accounts)", "Enterprise"],
    ["nl", "Telefoon (accounts met een telefoonabonnement)", "Onderneming"],
  ] as const)("names the account types as the platform's reports do in %s", (lang, phone, enterprise) => {
    const html = renderHtml(report, lang);
    const labels = tableRows(html, "requests-account-type").map((r) => r[0]);
    expect(labels).toContain(phone);
    expect(labels).toContain(enterprise);
    expect(html).not.toMatch(/dial-in|inbellen/i);
  });
});

describe("the page a reader would trust", () => {
  it.each([
    ["en", "Published by Example Meetings B.V., for Example Meetings.", "Previous period", "Fail open"],
    [
      "nl",
      "Gepubliceerd door Example Meetings B.V., voor Example Meetings.",
      "Vorige periode",
      "Bij twijfel toelaten",
    ],
  ] as const)(
    "names its publisher and service, its method and the previous period in %s",
    (lang, by, prev, failOpen) => {
      const m = months();
      const report = buildReport({
        period: H1,
        orders: ORDERS,
        months: m,
        history: m,
        previousMonths: m,
        publisher: { name: "Example Meetings B.V.", service: "Example Meetings" },
        generatedAt: "2026-07-20T08:00:00Z",
      });
      const html = renderHtml(report, lang);
      expect(html).toContain(by);
      expect(html).toContain(prev);
      expect(html).toContain(failOpen);
      // 2025-H2 had no requests: the change is the whole count.
      expect(report.previous).toMatchObject({ period: "2025-H2", total: 0, deniedJoins: 0 });
      const comparison = tableRows(html, "comparison");
      expect(comparison[1]?.slice(1)).toEqual(["10", "0", "+10"]);
      expect(html).toContain(createHash("sha256").update(renderCsv(report)).digest("hex"));
      expect(html).toContain('href="?format=csv"');
    },
  );
});

describe("a finalized half-year", () => {
  it("carries its publisher in the frozen bytes, so a rebuild from them gives the same bytes", () => {
    const publisher = { name: "Example Meetings B.V.", service: "Example Meetings" };
    const input = {
      period: H1,
      orders: ORDERS,
      archive: archiveOf(RECORDS, []),
      finalizedAt: "2026-07-20T08:00:00Z",
    };
    const frozen = renderFormats(frozenReport({ ...input, publisher }));
    const named = (JSON.parse(frozen.json) as { publisher?: unknown }).publisher;
    expect(named).toEqual(publisher);
    expect(renderFormats(frozenReport({ ...input, publisher: named as typeof publisher }))).toEqual(frozen);
    expect(frozen["html-nl"]).toContain("Gepubliceerd door Example Meetings B.V.");
    expect(frozen.csv).toBe(`${HAND_COUNTED.csv.join("\r\n")}\r\n`);
  });
});
