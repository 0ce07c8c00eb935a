/**
 * The would-be impact service over a decision log in memory (the same `page` contract as the embedded
 * log and the Redis streams): what counts, the 30-day window, and the bounds on its work (cached for a
 * minute, read on incrementally, the window re-read only from where it begins, a budget per refresh).
 */
import { describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/engine/index.js";
import { type ImpactScope, ImpactService, scopeKey, wouldRefuse } from "../../src/service/impact.js";
import { decisionRecord, T0 } from "../support/fixtures.js";

const DAY = 86_400_000;

/** A log in memory: cursors are positions; every `page` call is recorded. */
class MemoryLog {
  records: DecisionRecord[] = [];
  calls: { after: string | undefined; limit: number; read: number }[] = [];
  async page(opts: { after?: string; limit: number }) {
    const from = opts.after === undefined ? 0 : Number(opts.after);
    const records = this.records.slice(from, from + opts.limit);
    this.calls.push({ after: opts.after, limit: opts.limit, read: records.length });
    return { records, next: String(from + records.length) };
  }
  get read() {
    return this.calls.reduce((n, c) => n + c.read, 0);
  }
}

/** An allowed join at meeting m1 from Mumbai, at `at` (epoch ms); override any field. */
const join = (at: number, o: Partial<DecisionRecord> = {}): DecisionRecord =>
  decisionRecord({
    at: new Date(at).toISOString(),
    meetingId: "m1",
    decision: "allow",
    code: "NO_ORDER",
    orderIds: [],
    jurisdiction: null,
    ...o,
  });

const geo: ImpactScope = { target: { kind: "meeting", meetingIds: ["m1"] }, jurisdictions: ["IN-MH"] };

describe("what would have been refused", () => {
  it("counts allowed joins at the targets inside the block, and nothing else", () => {
    const r = join(T0);
    expect(wouldRefuse(geo, r)).toBe(true);
    expect(wouldRefuse({ ...geo, jurisdictions: ["IN"] }, r)).toBe(true);
    expect(wouldRefuse(geo, join(T0, { role: "host" }))).toBe(true);
    expect(wouldRefuse(geo, { ...r, decision: "deny", code: "BLOCKED" })).toBe(false);
    expect(wouldRefuse(geo, { ...r, phase: "in_meeting" })).toBe(false);
    expect(wouldRefuse(geo, { ...r, meetingId: "m2" })).toBe(false);
    expect(wouldRefuse(geo, { ...r, subdivision: "IN-KA" })).toBe(false);
    // Only the country known: not inside a subdivision's block; a subdivision of another country is doubt.
    expect(wouldRefuse(geo, { ...r, subdivision: null })).toBe(false);
    expect(wouldRefuse({ ...geo, jurisdictions: ["IN"] }, { ...r, subdivision: "RU-MOW" })).toBe(true);
    expect(wouldRefuse(geo, { ...r, country: "RU", subdivision: "IN-MH" })).toBe(false);
    expect(wouldRefuse(geo, { ...r, country: null, subdivision: null })).toBe(false);
    expect(wouldRefuse({ ...geo, exemptAccountIds: ["a1"] }, { ...r, accountId: "a1" })).toBe(false);
    expect(wouldRefuse({ ...geo, exemptAccountIds: ["a1"] }, { ...r, accountId: "a2" })).toBe(true);
    // prevent_hosting: hosts only.
    const hosting = { ...geo, action: "prevent_hosting" as const };
    expect(wouldRefuse(hosting, r)).toBe(false);
    expect(wouldRefuse(hosting, { ...r, role: "host" })).toBe(true);
    // An account target: that account's joins at any meeting.
    const account: ImpactScope = {
      target: { kind: "account", accountIds: ["a1"] },
      jurisdictions: ["IN-MH"],
    };
    expect(wouldRefuse(account, { ...r, meetingId: "m9", accountId: "a1" })).toBe(true);
    expect(wouldRefuse(account, r)).toBe(false);
    // Integral territories by the engine's table: a French national block covers Guadeloupe.
    expect(wouldRefuse({ ...geo, jurisdictions: ["FR"] }, { ...r, country: "GP", subdivision: null })).toBe(
      true,
    );
  });
});

describe("the impact service", () => {
  it("counts the last 30 days only, and lets days leave the window", async () => {
    const log = new MemoryLog();
    const clock = { now: T0 };
    log.records = [join(T0 - 40 * DAY), join(T0 - 29 * DAY), join(T0 - DAY), join(T0)];
    const service = new ImpactService({ log, clock: () => clock.now });
    const first = (await service.impacts([geo])).get(scopeKey(geo));
    expect(first).toMatchObject({ joins: 3, complete: true, computedAt: T0, through: log.records[3]?.at });
    clock.now = T0 + 2 * DAY;
    expect((await service.impacts([geo])).get(scopeKey(geo))?.joins).toBe(2);
  });

  it("reuses its numbers for a minute, then reads only what was written since", async () => {
    const log = new MemoryLog();
    const clock = { now: T0 };
    log.records = Array.from({ length: 2500 }, (_, i) => join(T0 - DAY + i));
    const service = new ImpactService({ log, clock: () => clock.now });
    expect((await service.impacts([geo])).get(scopeKey(geo))?.joins).toBe(2500);
    expect(log.read).toBe(2500);
    log.records.push(join(T0), join(T0, { meetingId: "m2" }));
    const calls = log.calls.length;
    expect((await service.impacts([geo])).get(scopeKey(geo))?.joins).toBe(2500);
    expect(log.calls.length).toBe(calls);
    clock.now += 61_000;
    expect((await service.impacts([geo])).get(scopeKey(geo))?.joins).toBe(2501);
    expect(log.read).toBe(2502);
    // One page, from where the last refresh stopped.
    expect(log.calls.slice(calls)).toEqual([{ after: "2500", limit: 1000, read: 2 }]);
  });

  it("re-reads the window for a new scope from where the window begins, not from the log's start", async () => {
    const log = new MemoryLog();
    const clock = { now: T0 };
    const old = Array.from({ length: 3000 }, (_, i) => join(T0 - 60 * DAY + i));
    log.records = [...old, join(T0 - 2 * DAY), join(T0 - DAY, { meetingId: "m2" })];
    const service = new ImpactService({ log, clock: () => clock.now });
    await service.impacts([geo]);
    const before = log.read;
    const other: ImpactScope = { ...geo, target: { kind: "meeting", meetingIds: ["m2"] } };
    const both = await service.impacts([geo, other]);
    expect(both.get(scopeKey(geo))?.joins).toBe(1);
    expect(both.get(scopeKey(other))?.joins).toBe(1);
    // From the page where the window's first day was first seen: the old records are not read again.
    expect(log.read - before).toBeLessThan(1001);
  });

  it("reads at most its budget per refresh, says the count is partial, and continues next time", async () => {
    const log = new MemoryLog();
    const clock = { now: T0 };
    log.records = Array.from({ length: 25 }, (_, i) => join(T0 - i * 1000));
    const service = new ImpactService({ log, clock: () => clock.now, budget: 10 });
    const first = (await service.impacts([geo])).get(scopeKey(geo));
    expect(first).toMatchObject({ joins: 10, complete: false });
    expect(log.read).toBe(10);
    // Partial numbers are never reused: the next page reads on.
    expect((await service.impacts([geo])).get(scopeKey(geo))).toMatchObject({ joins: 20, complete: false });
    expect((await service.impacts([geo])).get(scopeKey(geo))).toMatchObject({ joins: 25, complete: true });
    expect(log.read).toBe(25);
  });

  it("shares one refresh between pages asking at once", async () => {
    const log = new MemoryLog();
    log.records = [join(T0)];
    const service = new ImpactService({ log, clock: () => T0 });
    const [a, b] = await Promise.all([service.impacts([geo]), service.impacts([geo])]);
    expect(a.get(scopeKey(geo))?.joins).toBe(1);
    expect(b.get(scopeKey(geo))?.joins).toBe(1);
    expect(log.read).toBe(1);
  });

  it("never shows numbers from a failed read as complete, and reads nothing while nothing is pending", async () => {
    const log = new MemoryLog();
    log.records = Array.from({ length: 1500 }, (_, i) => join(T0 - i));
    const service = new ImpactService({ log, clock: () => T0 });
    expect((await service.impacts([])).size).toBe(0);
    expect(log.calls).toEqual([]);
    expect((await service.impacts([geo])).get(scopeKey(geo))?.joins).toBe(1500);
    const page = log.page.bind(log);
    let fail = true;
    log.page = async (opts) => {
      if (opts.after !== undefined && fail) {
        fail = false;
        throw new Error("store unavailable");
      }
      return page(opts);
    };
    // A new scope re-reads the window; its second page fails.
    const other: ImpactScope = { ...geo, target: { kind: "meeting", meetingIds: ["m2"] } };
    await expect(service.impacts([geo, other])).rejects.toThrow("store unavailable");
    // Within the minute, the next page still reads on from where the failure left it, and only then
    // says complete: never the first page's count as the whole.
    const after = await service.impacts([geo, other]);
    expect(after.get(scopeKey(geo))).toMatchObject({ joins: 1500, complete: true });
    expect(log.read).toBe(3000);
  });
});
