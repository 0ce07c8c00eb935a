/**
 * When an order counts in the report and as what: complied, rejected or withdrawn, at the instant it was
 * completed; built through the real order life cycle.
 */
import { describe, expect, it } from "vitest";
import { createOrder, type Order, OrderInput, transition } from "../../src/engine/index.js";
import { completion } from "../../src/report/outcome.js";
import { orderInput } from "../support/fixtures.js";

const RECEIVED = "2023-06-01T09:00:00Z";
const DECIDED = "2023-06-30T23:59:59Z";
const WITHDRAWN = "2023-08-15T10:00:00+02:00";

function pending(): Order {
  return createOrder(OrderInput.parse(orderInput({ reference: "WP/1/2023", receivedAt: RECEIVED })), {
    id: "ord-1",
    actor: "responder-1",
    at: "2023-06-01T10:00:00Z",
  });
}

const approve = (o: Order) => transition(o, { type: "approve" }, "approver-1", DECIDED);
const reject = (o: Order) =>
  transition(o, { type: "reject", reason: "no legal basis" }, "approver-1", DECIDED);
const withdraw = (o: Order) => transition(o, { type: "withdraw" }, "responder-1", WITHDRAWN);

describe("completion", () => {
  it.each([
    {
      name: "an approved order is complied at its approval",
      order: () => approve(pending()),
      expected: { outcome: "complied", at: DECIDED },
    },
    {
      name: "an order approved and later withdrawn by the authority stays complied at its approval",
      order: () => withdraw(approve(pending())),
      expected: { outcome: "complied", at: DECIDED },
    },
    {
      name: "a rejected order is rejected at its decision",
      order: () => reject(pending()),
      expected: { outcome: "rejected", at: DECIDED },
    },
    {
      name: "an order withdrawn before a decision is withdrawn at its withdrawal",
      order: () => withdraw(pending()),
      expected: { outcome: "withdrawn", at: WITHDRAWN },
    },
    { name: "a pending order is not completed", order: () => pending(), expected: undefined },
  ])("$name", ({ order, expected }) => {
    expect(completion(order())).toEqual(expected);
  });

  it("does not count an order whose status lacks the instant it implies", () => {
    expect(completion({ status: "approved" })).toBeUndefined();
    expect(completion({ status: "rejected" })).toBeUndefined();
    expect(completion({ status: "withdrawn" })).toBeUndefined();
  });
});
