/** Orders for the ruleset benchmarks (`ruleset-scale-compile.ts`, `ruleset-delta.ts`). */
import type { Order } from "../src/engine/index.js";
import { approve, pending } from "../test/support/rulesets.js";

/**
 * `n` approved orders as the store holds them after a JSON round trip (own strings, own arrays): random
 * ids like the service's (`ord_` + 20 hex), one meeting each, one in ten on an account, a few blocks.
 */
export function syntheticOrders(n: number): Order[] {
  const templates = [
    approve(pending("t-1")),
    approve(pending("t-2", { jurisdictions: ["IN-KA", "IN-MH"] })),
    approve(
      pending("t-3", {
        authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" },
        jurisdictions: ["RU"],
      }),
    ),
    approve(pending("t-4", { mode: "shadow" })),
  ];
  const out: Order[] = [];
  for (let i = 0; i < n; i++) {
    const t = templates[i % templates.length] as Order;
    const id = `ord_${((i * 2654435761) >>> 0).toString(16).padStart(8, "0")}${i.toString(16).padStart(12, "0")}`;
    const target =
      i % 10 === 9
        ? { kind: "account" as const, accountIds: [`acct-${i}`] }
        : { kind: "meeting" as const, meetingIds: [`m-${i}`] };
    out.push(JSON.parse(JSON.stringify({ ...t, id, target })) as Order);
  }
  return out;
}
