/**
 * The check-route contract on Node: the app in-process (`app.request`) over the file store, the City
 * fixture database and a fixed clock (`test/support/harness.ts`). Orders go through the orders API with
 * four eyes; records are read back through GET /v1/decisions. It runs twice: with the checks' fast path
 * in front of the router (as served) and through the router alone. The same suite runs in workerd from
 * `test/workers/check-routes.test.ts`.
 */
import { T0 } from "../support/fixtures.js";
import { approvedOrder, makeHarness } from "../support/harness.js";
import { type CheckRoutesTarget, checkRoutesContract } from "./check-routes.js";

async function nodeTarget(fastChecks: boolean): Promise<CheckRoutesTarget> {
  const h = await makeHarness({ now: T0, fastChecks });
  const ok = async (res: Promise<{ status: number; body: any }>, status: number, what: string) => {
    const r = await res;
    if (r.status !== status) throw new Error(`${what} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    call: (method, path, opts = {}) => h.call(method, path, opts),
    approvedOrder: (overrides = {}) => approvedOrder(h, overrides),
    async withdraw(orderId) {
      await ok(
        h.call("POST", `/v1/orders/${orderId}/withdraw`, {
          as: "responder",
          body: { reason: "authority withdrew" },
        }),
        200,
        "withdraw",
      );
    },
    setNow(ms) {
      h.clock.now = ms;
    },
    async records() {
      return (await ok(h.call("GET", "/v1/decisions?limit=1000", { as: "auditor" }), 200, "decisions"))
        .records;
    },
    close: () => h.close(),
  };
}

checkRoutesContract("Node", () => nodeTarget(true));
// The same expectations through the router alone: the fast path in front of it answers as it does.
checkRoutesContract("Node, router only", () => nodeTarget(false));
