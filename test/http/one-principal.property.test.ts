/**
 * I7 as a property over the API: no sequence of calls by one principal, whatever its role (admin
 * included), ends with a block in force or an amendment applied. Each run starts an empty harness and
 * lets one principal create, import (naming any creator and approver, its own name in any letter case
 * among them), approve, reject, withdraw, amend and decide amendments, in any order.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { enforcementAt } from "../../src/engine/index.js";
import { PLACES } from "../support/fixtures.js";
import { makeHarness, orderInput, PRINCIPALS, type Who } from "../support/harness.js";

const NUM_RUNS = 100;
const HOUR = 3_600_000;
const MEETINGS = ["81234567890", "555"];

type Command =
  | { kind: "create"; shadow: boolean; from: boolean }
  | {
      kind: "import";
      creator: number;
      decision: "none" | "approved" | "rejected";
      approver: number;
      ended: boolean;
    }
  | { kind: "approve" | "reject" | "withdraw"; k: number }
  | { kind: "amend"; k: number; change: number }
  | { kind: "approveAmendment" | "rejectAmendment"; k: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), shadow: fc.boolean(), from: fc.boolean() }),
  fc.record({
    kind: fc.constant("import" as const),
    creator: fc.nat(3),
    decision: fc.constantFrom("none" as const, "approved" as const, "rejected" as const),
    approver: fc.nat(3),
    ended: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom("approve" as const, "reject" as const, "withdraw" as const),
    k: fc.nat(5),
  }),
  fc.record({ kind: fc.constant("amend" as const), k: fc.nat(5), change: fc.nat(3) }),
  fc.record({ kind: fc.constantFrom("approveAmendment" as const, "rejectAmendment" as const), k: fc.nat(5) }),
);

/** Names an import line may give: the principal's own, in two letter cases, or someone else's. */
const nameOf = (who: string, n: number) => [who, who.toUpperCase(), "asha", "ravi"][n] as string;

/** Changes that would widen, re-open or switch on a block if applied. */
const CHANGES: Record<string, unknown>[] = [
  {
    target: { kind: "meeting", meetingIds: MEETINGS },
    requested: { jurisdictions: ["IN"], target: { kind: "meeting", meetingIds: MEETINGS } },
  },
  { effectiveUntil: null },
  { mode: "enforce" },
  { reference: "WP/9/2026" },
];

describe("one principal alone (I7)", () => {
  it("never ends with a block in force or an amendment applied, whatever it calls", async () => {
    await fc.assert(
      fc.asyncProperty(
        // Admin may call every route, so most runs are admin's; every other principal gets its turn.
        fc.oneof(
          { arbitrary: fc.constant<Who>("admin"), weight: 3 },
          { arbitrary: fc.constantFrom(...(Object.keys(PRINCIPALS) as Who[])), weight: 1 },
        ),
        fc.array(command, { minLength: 1, maxLength: 8 }),
        async (who, commands) => {
          const h = await makeHarness();
          try {
            const ids: string[] = [];
            const pick = (k: number) => ids[k % Math.max(ids.length, 1)] ?? "ord_none";
            let line = 0;
            for (const c of commands) {
              h.clock.now += HOUR;
              const as = who;
              switch (c.kind) {
                case "create": {
                  const res = await h.call("POST", "/v1/orders", {
                    as,
                    body: orderInput({
                      reference: `WP/${ids.length}/2026`,
                      mode: c.shadow ? "shadow" : "enforce",
                      ...(c.from ? { effectiveFrom: new Date(h.clock.now + HOUR).toISOString() } : {}),
                    }),
                  });
                  if (res.status === 201) ids.push(res.body.id);
                  break;
                }
                case "import": {
                  line += 1;
                  const history = {
                    ...orderInput({ reference: `IMP/${line}`, receivedAt: "2025-02-03T09:00:00Z" }),
                    createdAt: "2025-02-03T10:00:00Z",
                    createdBy: nameOf(who, c.creator),
                    ...(c.ended ? { effectiveUntil: "2025-06-30T00:00:00Z" } : {}),
                    ...(c.decision === "approved"
                      ? {
                          decision: {
                            status: "approved",
                            at: "2025-02-04T00:00:00Z",
                            by: nameOf(who, c.approver),
                          },
                        }
                      : c.decision === "rejected"
                        ? {
                            decision: {
                              status: "rejected",
                              at: "2025-02-04T00:00:00Z",
                              by: nameOf(who, c.approver),
                              reason: "no",
                            },
                          }
                        : {}),
                  };
                  const res = await h.call("POST", "/v1/admin/orders/import", {
                    as,
                    raw: `${JSON.stringify(history)}\n`,
                    headers: { "content-type": "application/x-ndjson" },
                  });
                  if (res.status === 200) ids.push(...res.body.orders.map((o: { id: string }) => o.id));
                  break;
                }
                case "approve":
                case "reject":
                case "withdraw":
                  await h.call("POST", `/v1/orders/${pick(c.k)}/${c.kind}`, {
                    as,
                    body: c.kind === "reject" ? { reason: "no" } : {},
                  });
                  break;
                case "amend":
                  await h.call("POST", `/v1/orders/${pick(c.k)}/amendments`, {
                    as,
                    body: { changes: CHANGES[c.change], reason: "change" },
                  });
                  break;
                case "approveAmendment":
                case "rejectAmendment": {
                  const id = pick(c.k);
                  const aid = (await h.store.getOrder(id))?.amendmentLog?.at(-1)?.id ?? "amd_1";
                  await h.call(
                    "POST",
                    `/v1/orders/${id}/amendments/${aid}/${c.kind === "approveAmendment" ? "approve" : "reject"}`,
                    {
                      as,
                      body: c.kind === "rejectAmendment" ? { reason: "no" } : {},
                    },
                  );
                  break;
                }
              }
            }
            for (const order of await h.store.listOrders()) {
              // Not in force now, nor later: an imported order ended long ago is the only approved one.
              for (const at of [h.clock.now, h.clock.now + 1000 * HOUR]) {
                expect(["none", "expired"]).toContain(enforcementAt(order, at));
              }
              expect(order.confirmation).toBeUndefined();
              expect(order.amendmentLog?.filter((a) => a.status === "approved") ?? []).toEqual([]);
            }
            for (const meetingId of MEETINGS) {
              const res = await h.call("POST", "/v1/check", {
                as: "checker",
                body: { meetingId, ip: PLACES.mumbai.ip },
              });
              expect(res.body.code).not.toBe("BLOCKED");
            }
          } finally {
            await h.close();
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  }, 120_000);
});
