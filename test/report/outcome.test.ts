/**
 * When an order counts in the report and as what: complied, partially complied, rejected (with its reason
 * code) or withdrawn, at the instant it was completed; built through the real order life cycle.
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
      expected: { outcome: "rejected", at: DECIDED, reasonCode: "other" },
    },
    {
      name: "an order withdrawn before a decision is withdrawn at its withdrawal",
      order: () => withdraw(pending()),
      expected: { outcome: "withdrawn", at: WITHDRAWN },
    },
    { name: "a pending order is not completed", order: () => pending(), expected: undefined },
    {
      name: "an order approved in shadow mode is shadow, not complied: it was never enforced",
      order: () => approve({ ...pending(), mode: "shadow" }),
      expected: { outcome: "shadow", at: DECIDED },
    },
  ])("$name", ({ order, expected }) => {
    expect(completion(order())).toEqual(expected);
  });

  const narrowed = () =>
    createOrder(
      OrderInput.parse(
        orderInput({
          reference: "WP/2/2023",
          receivedAt: RECEIVED,
          requested: { jurisdictions: ["IN-MH", "IN-KA"] },
        }),
      ),
      { id: "ord-2", actor: "responder-1", at: "2023-06-01T10:00:00Z" },
    );

  it.each([
    {
      name: "an order approved for fewer jurisdictions than asked is partially complied",
      order: () => approve(narrowed()),
      expected: { outcome: "partially_complied", at: DECIDED },
    },
    {
      name: "an order approved for fewer meetings than asked is partially complied",
      order: () =>
        approve(
          createOrder(
            OrderInput.parse(
              orderInput({
                receivedAt: RECEIVED,
                requested: {
                  jurisdictions: ["IN-MH"],
                  target: { kind: "meeting", meetingIds: ["81234567890", "2"] },
                },
              }),
            ),
            { id: "ord-3", actor: "responder-1", at: "2023-06-01T10:00:00Z" },
          ),
        ),
      expected: { outcome: "partially_complied", at: DECIDED },
    },
    {
      name: "an order asked for a country and granted for the same country is complied",
      order: () => approve(pending()),
      expected: { outcome: "complied", at: DECIDED },
    },
    {
      name: "a partially complied order stays so when withdrawn later",
      order: () => withdraw(approve(narrowed())),
      expected: { outcome: "partially_complied", at: DECIDED },
    },
    {
      name: "a rejection carries its reason code",
      order: () =>
        transition(
          pending(),
          { type: "reject", reason: "no", reasonCode: "outside_jurisdiction" },
          "approver-1",
          DECIDED,
        ),
      expected: { outcome: "rejected", at: DECIDED, reasonCode: "outside_jurisdiction" },
    },
  ])("$name", ({ order, expected }) => {
    expect(completion(order())).toEqual(expected);
  });

  it("counts an order stored before requests were recorded as asked for what it grants", () => {
    const { requested: _dropped, ...old } = approve(pending());
    expect(completion(old)).toEqual({ outcome: "complied", at: DECIDED });
  });

  it("gives a rejection stored without a reason code the code other", () => {
    const { reasonCode: _dropped, ...old } = reject(pending());
    expect(completion(old)).toEqual({ outcome: "rejected", at: DECIDED, reasonCode: "other" });
  });

  it("does not count an order whose status lacks the instant it implies", () => {
    expect(completion({ status: "approved" })).toBeUndefined();
    expect(completion({ status: "rejected" })).toBeUndefined();
    expect(completion({ status: "withdrawn" })).toBeUndefined();
  });
});
