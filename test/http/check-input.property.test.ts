/**
 * The fast path's body readers (`src/http/routes/check-input.ts`) against the zod schemas they stand in for:
 * on generated JSON bodies, valid and invalid, a reader accepts exactly what the schema accepts and
 * outputs what the schema outputs. What a reader refuses is answered by the schema itself (the general
 * router), so equal acceptance is what keeps the error paths the schema's.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readBatchRequest, readCheckRequest } from "../../src/http/routes/check-input.js";
import { BatchRequest, CheckRequest } from "../../src/http/routes/v1-check.js";

const validIpv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const ip = fc.oneof(
  validIpv4,
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((v4) => `::ffff:${v4}`),
  fc.constantFrom(
    "2001:DB8::1",
    "2001:0db8:0000:0000:0000:0000:0000:0001",
    "01.2.3.4",
    "1.2.3",
    "256.1.1.1",
    "1.2.3.4 ",
    " 1.2.3.4",
    "fe80::1%eth0",
    "::",
    "::1",
    "1:2:3:4:5:6:7:8:9",
    "",
    "x".repeat(65),
    `${"0:".repeat(20)}1`,
    "1.2.3.4/24",
  ),
  fc.string({ maxLength: 70 }),
);
const phone = fc.oneof(
  fc.stringMatching(/^\+[1-9][0-9]{6,14}$/),
  fc.constantFrom(
    "+31201234567",
    "+74951234567",
    "+1800555",
    "31201234567",
    "+0123456789",
    "+1234567890123456",
    "",
  ),
  fc.string({ maxLength: 20 }),
);
const meetingId = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/),
  fc.constantFrom("81234567890", "", "-x", "a b", "x".repeat(128), "x".repeat(129)),
  fc.string({ maxLength: 10 }),
);
const accountId = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,40}$/),
  fc.constantFrom("acct_5Yt2", "user-1.2.3.4", "10.0.0.1", "2001:db8::1", "tel:+31201234567", "12345"),
  fc.string({ maxLength: 10 }),
);
const role = fc.oneof(
  fc.constantFrom("participant", "host", "Host", "admin", ""),
  fc.string({ maxLength: 5 }),
);
const anyJson = fc.jsonValue({ maxDepth: 2 });
/** A field's value: mostly of its kind, sometimes any JSON value at all (a number, null, an array). */
const field = <T>(kind: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 5, arbitrary: kind }, { weight: 1, arbitrary: anyJson });

const check = fc
  .record(
    {
      meetingId: field(meetingId),
      ip: field(ip),
      phone: field(phone),
      accountId: field(accountId),
      role: field(role),
      extra: anyJson,
      __proto__: anyJson,
    },
    { requiredKeys: [] },
  )
  // A body as the route gets it: text parsed by JSON.parse (so `__proto__` is an own key, as there).
  .map((o) => JSON.parse(JSON.stringify(o)) as unknown);
/** Mostly well-formed bodies, so that both sides of the equivalence are exercised. */
const likelyValid = fc
  .record(
    {
      meetingId,
      locator: fc.oneof(
        ip.map((v) => ({ ip: v })),
        phone.map((v) => ({ phone: v })),
      ),
      accountId: fc.option(accountId, { nil: undefined }),
      role: fc.option(fc.constantFrom("participant", "host"), { nil: undefined }),
    },
    { requiredKeys: ["meetingId", "locator"] },
  )
  .map(({ locator, ...rest }) => JSON.parse(JSON.stringify({ ...rest, ...locator })) as unknown);
const body = fc.oneof(check, likelyValid, likelyValid, anyJson);

function sameAsSchema(schema: typeof CheckRequest | typeof BatchRequest, value: unknown, read: unknown) {
  const parsed = schema.safeParse(value);
  expect(read !== undefined, JSON.stringify(value)).toBe(parsed.success);
  if (parsed.success) {
    const output = schema === BatchRequest ? (parsed.data as { checks: unknown }).checks : parsed.data;
    expect(read).toEqual(output);
  }
}

describe("the fast path's check body reader", () => {
  it("accepts exactly what CheckRequest accepts, with the same output", () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, (value) => {
        const read = readCheckRequest(value);
        if (read !== undefined) accepted++;
        sameAsSchema(CheckRequest, value, read);
      }),
      { numRuns: 20_000 },
    );
    // Both sides of the equivalence were exercised.
    expect(accepted).toBeGreaterThan(1_000);
  });

  it("accepts exactly what BatchRequest accepts, with the same checks", () => {
    const batch = fc.oneof(
      fc.record({ checks: fc.array(likelyValid, { minLength: 0, maxLength: 5 }) }),
      fc.record({ checks: fc.array(body, { maxLength: 3 }), extra: anyJson }, { requiredKeys: ["checks"] }),
      fc.record({ checks: anyJson }),
      anyJson,
    );
    fc.assert(
      fc.property(batch, (value) => sameAsSchema(BatchRequest, value, readBatchRequest(value))),
      { numRuns: 5_000 },
    );
  });

  it("agrees on the batch size limits: 0, 1, 1000 and 1001 checks", () => {
    const one = { meetingId: "81234567890", ip: "203.0.113.7" };
    for (const n of [0, 1, 1000, 1001]) {
      const value = { checks: Array.from({ length: n }, () => one) };
      sameAsSchema(BatchRequest, value, readBatchRequest(value));
    }
  });

  it("agrees on the exactly-one-of rule: both ip and phone, and neither", () => {
    for (const value of [
      { meetingId: "m1", ip: "8.8.8.8", phone: "+31201234567" },
      { meetingId: "m1" },
      { meetingId: "m1", accountId: "acct_1", role: "host" },
      { meetingId: "m1", phone: "+31201234567", role: "host" },
      { meetingId: "m1", ip: "::ffff:8.8.8.8" },
    ]) {
      sameAsSchema(CheckRequest, value, readCheckRequest(value));
    }
  });
});
