/**
 * `RulesetCompiler`: a change is compiled from the last version and the audit entries since, in slices
 * with the event loop free in between: checks keep being answered, from the old version, until the new
 * one is installed whole. Concurrent refreshes share a compile that covers all their changes.
 */
import { describe, expect, it } from "vitest";
import { compile, decide, type Order, transition } from "../../src/engine/index.js";
import { RulesetCompiler } from "../../src/rulesets/compiler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import type { AuditEntry } from "../../src/store/interface.js";
import { iso, NOON } from "../support/fixtures.js";
import { approve, MUMBAI, pending } from "../support/rulesets.js";

/** An order store in memory with an audit log (seq n at index n - 1), as the compiler reads one. */
class MemoryStore {
  readonly orders = new Map<string, Order>();
  readonly audit: AuditEntry[] = [];
  listCalls = 0;

  put(order: Order): void {
    this.orders.set(order.id, order);
    const seq = this.audit.length + 1;
    this.audit.push({
      seq,
      at: iso(NOON),
      actor: "t",
      action: "approve",
      orderId: order.id,
      order,
      prevHash: "",
      hash: "",
    });
  }
  async head() {
    return { seq: this.audit.length, hash: "" };
  }
  async listOrders() {
    this.listCalls++;
    return [...this.orders.values()];
  }
  async readAudit(opts: { after?: number; limit?: number }) {
    return this.audit.slice(opts.after ?? 0, (opts.after ?? 0) + (opts.limit ?? Number.POSITIVE_INFINITY));
  }
}

const onMeeting = (id: string, meetingId: string) =>
  approve(pending(id, { target: { kind: "meeting", meetingIds: [meetingId] } }));
const verdict = (holder: RulesetHolder, meetingId: string) =>
  decide(holder.current(), { meetingId, location: MUMBAI, role: "participant" }, NOON).decision;

describe("RulesetCompiler", () => {
  it("answers checks from the version in force while a big change compiles, then installs the new one whole", async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 30_000; i++) store.put(onMeeting(`o-${i}`, `m-${i}`));
    const holder = new RulesetHolder(() => NOON);
    // Each yield to the event loop is a moment a check could run: it runs one here.
    const seenWhileCompiling: { version: number; m5: string; mNew: string }[] = [];
    let checking = false;
    const compiler = new RulesetCompiler(store, holder, () => NOON, {
      sliceMs: 0,
      yieldToLoop: async () => {
        if (checking)
          seenWhileCompiling.push({
            version: holder.current().version,
            m5: verdict(holder, "m-5"),
            mNew: verdict(holder, "m-new"),
          });
      },
    });
    await compiler.refresh();
    expect(holder.current().version).toBe(30_000);
    expect(store.listCalls).toBe(1);

    store.put(onMeeting("o-new", "m-new"));
    store.put(transition(store.orders.get("o-5") as Order, { type: "withdraw" }, "responder-1", iso(NOON)));
    // A big change (a one-order change touches one bucket and one meeting: it has no slice to yield).
    for (let i = 10_000; i < 20_000; i++)
      store.put(
        transition(store.orders.get(`o-${i}`) as Order, { type: "withdraw" }, "responder-1", iso(NOON)),
      );
    checking = true;
    const refreshed = compiler.refresh();
    const installed = await refreshed;
    checking = false;

    // Many checks ran during the compile; every one saw the old version, whole.
    expect(seenWhileCompiling.length).toBeGreaterThan(3);
    for (const seen of seenWhileCompiling)
      expect(seen).toEqual({ version: 30_000, m5: "deny", mNew: "allow" });
    expect(installed.version).toBe(40_002);
    expect(verdict(holder, "m-5")).toBe("allow");
    expect(verdict(holder, "m-new")).toBe("deny");
    // Incremental: the store's orders were not listed again, and the result is what a full compile gives.
    expect(store.listCalls).toBe(1);
    expect(installed.hash).toBe(compile([...store.orders.values()], { version: 0, compiledAt: "" }).hash);
  });

  it("gives concurrent refreshes one compile that covers all their changes", async () => {
    const store = new MemoryStore();
    const holder = new RulesetHolder(() => NOON);
    const compiled: number[] = [];
    const compiler = new RulesetCompiler(store, holder, () => NOON);
    compiler.addCompiledListener((r) => {
      compiled.push(r.version);
    });
    await compiler.refresh();
    const calls: Promise<unknown>[] = [];
    for (let i = 1; i <= 5; i++) {
      store.put(onMeeting(`o-${i}`, `m-${i}`));
      calls.push(compiler.refresh());
    }
    const results = (await Promise.all(calls)) as { version: number }[];
    // Every call sees all five changes: the first call's compile (it reads the head after the loop) and
    // one more, shared by the four calls made while it ran, not one compile per call.
    expect(results.map((r) => r.version)).toEqual([5, 5, 5, 5, 5]);
    expect(compiled).toEqual([0, 5, 5]);
  });

  it("compiles from every order when the audit log does not follow on from the last version", async () => {
    const store = new MemoryStore();
    const holder = new RulesetHolder(() => NOON);
    const compiler = new RulesetCompiler(store, holder, () => NOON);
    store.put(onMeeting("o-1", "m-1"));
    await compiler.refresh();
    store.put(onMeeting("o-2", "m-2"));
    store.audit.splice(1, 1); // a gap: what the log says since v1 cannot be trusted to be everything
    store.audit.push({ ...(store.audit[0] as AuditEntry), seq: 3 });
    await compiler.refresh();
    expect(store.listCalls).toBe(2);
    expect(verdict(holder, "m-2")).toBe("deny");
  });
});
