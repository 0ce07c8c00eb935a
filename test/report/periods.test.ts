/**
 * Reporting periods in UTC: labels, bounds (start inclusive, end exclusive), the months each covers,
 * and the instants at their edges.
 */
import { describe, expect, it } from "vitest";
import { contains, monthOf, parsePeriod, periodOf } from "../../src/report/periods.js";

const ms = (iso: string) => Date.parse(iso);

describe("parsePeriod", () => {
  it.each([
    {
      label: "2023-H1",
      kind: "half",
      start: "2023-01-01T00:00:00Z",
      end: "2023-07-01T00:00:00Z",
      months: ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05", "2023-06"],
    },
    {
      label: "2023-H2",
      kind: "half",
      start: "2023-07-01T00:00:00Z",
      end: "2024-01-01T00:00:00Z",
      months: ["2023-07", "2023-08", "2023-09", "2023-10", "2023-11", "2023-12"],
    },
    {
      label: "2023-Q1",
      kind: "quarter",
      start: "2023-01-01T00:00:00Z",
      end: "2023-04-01T00:00:00Z",
      months: ["2023-01", "2023-02", "2023-03"],
    },
    {
      label: "2023-Q3",
      kind: "quarter",
      start: "2023-07-01T00:00:00Z",
      end: "2023-10-01T00:00:00Z",
      months: ["2023-07", "2023-08", "2023-09"],
    },
    {
      label: "2023-Q4",
      kind: "quarter",
      start: "2023-10-01T00:00:00Z",
      end: "2024-01-01T00:00:00Z",
      months: ["2023-10", "2023-11", "2023-12"],
    },
    {
      label: "2023-07",
      kind: "month",
      start: "2023-07-01T00:00:00Z",
      end: "2023-08-01T00:00:00Z",
      months: ["2023-07"],
    },
    {
      label: "2023-12",
      kind: "month",
      start: "2023-12-01T00:00:00Z",
      end: "2024-01-01T00:00:00Z",
      months: ["2023-12"],
    },
    {
      label: "2024-02",
      kind: "month",
      start: "2024-02-01T00:00:00Z",
      end: "2024-03-01T00:00:00Z",
      months: ["2024-02"],
    },
    {
      label: "1970-01",
      kind: "month",
      start: "1970-01-01T00:00:00Z",
      end: "1970-02-01T00:00:00Z",
      months: ["1970-01"],
    },
  ])("reads $label as a $kind from $start to $end", ({ label, kind, start, end, months }) => {
    expect(parsePeriod(label)).toEqual({ id: label, kind, start: ms(start), end: ms(end), months });
  });

  it.each([
    "2023-H3",
    "2023-H0",
    "2023-Q0",
    "2023-Q5",
    "2023-00",
    "2023-13",
    "2023-7",
    "23-H1",
    "2023-h1",
    "2023-q3",
    "2023H1",
    " 2023-H1",
    "2023-H1 ",
    "2023-H1\n",
    "1969-H2",
    "10000-H1",
    "2023-W27",
    "2023-07-01",
    "",
  ])("rejects the label %j", (label) => {
    expect(parsePeriod(label)).toBeUndefined();
  });
});

describe("period edges", () => {
  const h1 = parsePeriod("2023-H1");
  const h2 = parsePeriod("2023-H2");
  if (!h1 || !h2) throw new Error("fixture periods must parse");

  it("places the last second of June in the first half-year", () => {
    expect(periodOf("2023-06-30T23:59:59Z").id).toBe("2023-H1");
    expect(contains(h1, "2023-06-30T23:59:59Z")).toBe(true);
    expect(contains(h2, "2023-06-30T23:59:59Z")).toBe(false);
  });

  it("places the first instant of July in the second half-year", () => {
    expect(periodOf("2023-07-01T00:00:00Z").id).toBe("2023-H2");
    expect(contains(h1, "2023-07-01T00:00:00Z")).toBe(false);
    expect(contains(h2, "2023-07-01T00:00:00Z")).toBe(true);
  });

  it("places the last millisecond of June in the first half-year", () => {
    expect(contains(h1, "2023-06-30T23:59:59.999Z")).toBe(true);
    expect(contains(h2, "2023-06-30T23:59:59.999Z")).toBe(false);
  });

  it("judges an instant written with an offset by its UTC time", () => {
    // 01:59:59 in UTC+2 on 1 July is 23:59:59 UTC on 30 June.
    expect(periodOf("2023-07-01T01:59:59+02:00").id).toBe("2023-H1");
    expect(contains(h1, "2023-07-01T01:59:59+02:00")).toBe(true);
    // 20:00 in UTC-4 on 30 June is midnight UTC on 1 July.
    expect(periodOf("2023-06-30T20:00:00-04:00").id).toBe("2023-H2");
  });

  it("treats the start as inclusive and the end as exclusive, as epoch milliseconds too", () => {
    expect(contains(h2, h2.start)).toBe(true);
    expect(contains(h2, h2.end - 1)).toBe(true);
    expect(contains(h2, h2.end)).toBe(false);
    expect(h1.end).toBe(h2.start);
  });

  it("finds the quarter and the month of an instant", () => {
    expect(periodOf("2023-06-30T23:59:59Z", "quarter").id).toBe("2023-Q2");
    expect(periodOf("2023-07-01T00:00:00Z", "quarter").id).toBe("2023-Q3");
    expect(periodOf("2023-06-30T23:59:59Z", "month").id).toBe("2023-06");
    expect(periodOf("2023-12-31T23:59:59Z", "half").id).toBe("2023-H2");
    expect(periodOf("2024-01-01T00:00:00Z", "half").id).toBe("2024-H1");
  });

  it("names the UTC month of an instant", () => {
    expect(monthOf("2023-06-30T23:59:59Z")).toBe("2023-06");
    expect(monthOf("2023-07-01T00:00:00Z")).toBe("2023-07");
    expect(monthOf("2023-07-01T01:59:59+02:00")).toBe("2023-06");
    expect(monthOf(ms("2024-02-29T12:00:00Z"))).toBe("2024-02");
  });

  it("tiles a year with half-years, quarters and months without gaps or overlaps", () => {
    for (const labels of [
      ["2023-H1", "2023-H2"],
      ["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4"],
      Array.from({ length: 12 }, (_, i) => `2023-${String(i + 1).padStart(2, "0")}`),
    ]) {
      const periods = labels.map((l) => parsePeriod(l));
      expect(periods[0]?.start).toBe(ms("2023-01-01T00:00:00Z"));
      expect(periods[periods.length - 1]?.end).toBe(ms("2024-01-01T00:00:00Z"));
      periods.slice(1).forEach((p, i) => {
        expect(p?.start).toBe(periods[i]?.end);
      });
      expect(periods.flatMap((p) => p?.months ?? [])).toEqual(
        Array.from({ length: 12 }, (_, i) => `2023-${String(i + 1).padStart(2, "0")}`),
      );
    }
  });
});
