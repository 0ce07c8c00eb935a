/** The failure limiter's token buckets: the budget, the wait it tells, and a bounded memory. */
import { describe, expect, it } from "vitest";
import { clientKey, FailureLimiter } from "../../src/http/rate-limit.js";

const budget = { burst: 3, refillMs: 10_000 };

describe("FailureLimiter", () => {
  it("allows the burst, then tells how long to wait, and counts again after that wait", () => {
    let now = 0;
    const limiter = new FailureLimiter(() => now, budget);
    for (let i = 0; i < 3; i++) expect(limiter.fail("a").wait).toBe(0);
    expect(limiter.fail("a")).toEqual({ wait: 10, first: true });
    expect(limiter.fail("a")).toEqual({ wait: 10, first: false });
    expect(limiter.wait("a")).toBe(10);
    now += 10_000;
    expect(limiter.wait("a")).toBe(0);
    expect(limiter.fail("a").wait).toBe(0);
    expect(limiter.fail("a")).toEqual({ wait: 10, first: true });
  });

  it("never holds more than its bound of keys, however many addresses fail", () => {
    const limiter = new FailureLimiter(() => 0, budget, 100);
    for (let i = 0; i < 10_000; i++) limiter.fail(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(100);
  });

  it("forgets a key whose bucket is full again", () => {
    let now = 0;
    const limiter = new FailureLimiter(() => now, budget);
    limiter.fail("a");
    limiter.fail("b");
    now += budget.burst * budget.refillMs;
    limiter.fail("c");
    expect(limiter.size).toBe(1);
  });
});

describe("clientKey", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"],
  ])("keys %s as %s", (address, key) => {
    expect(clientKey(address)).toBe(key);
  });
});
