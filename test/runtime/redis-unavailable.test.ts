/**
 * `isUnavailable`: which Redis errors mean "not there, or busy moving" (order routes answer 503, the
 * shipper retries) and which are faults of their own. A transaction a Redis Cluster aborted while the
 * slot it touched was failing over is the former; one aborted for a bad command is not.
 */
import { describe, expect, it } from "vitest";
import { isUnavailable, NoKnownMasterError } from "../../src/platform/node/redis.js";

function execAbort(previous: Error[]): Error {
  const error = new Error("EXECABORT Transaction discarded because of previous errors.");
  error.name = "ReplyError";
  return Object.assign(error, { previousErrors: previous });
}

describe("isUnavailable", () => {
  it("takes a transaction aborted by a slot on the move as unavailable", () => {
    expect(isUnavailable(execAbort([new Error("MOVED 3999 127.0.0.1:7002")]))).toBe(true);
    expect(isUnavailable(execAbort([new Error("CLUSTERDOWN The cluster is down")]))).toBe(true);
    expect(isUnavailable(execAbort([new Error("TRYAGAIN Multiple keys request during rehashing")]))).toBe(
      true,
    );
    expect(isUnavailable(execAbort([new Error("ASK 3999 127.0.0.1:7002")]))).toBe(true);
  });

  it("does not hide a transaction aborted for another reason", () => {
    expect(isUnavailable(execAbort([new Error("ERR wrong number of arguments for 'hset' command")]))).toBe(
      false,
    );
    expect(isUnavailable(execAbort([]))).toBe(false);
    expect(
      isUnavailable(execAbort([new Error("MOVED 1 127.0.0.1:7002"), new Error("WRONGTYPE Operation")])),
    ).toBe(false);
  });

  it("keeps the plain cases", () => {
    expect(isUnavailable(new Error("Connection is closed."))).toBe(true);
    expect(isUnavailable(new Error("CLUSTERDOWN Hash slot not served"))).toBe(true);
    expect(
      isUnavailable(new Error("Too many Cluster redirections. Last error: Error: Connection is closed.")),
    ).toBe(true);
    expect(isUnavailable(new Error("Failed to refresh slots cache."))).toBe(true);
    expect(isUnavailable(new Error("ERR unknown command"))).toBe(false);
    expect(isUnavailable("Connection is closed")).toBe(false);
  });

  it("takes a slot with no known master (its master just failed, the client not yet told) as unavailable", () => {
    // nodeFor (WAIT after an order change, INFO replication) throws it during a failover; the order
    // store must answer 503 then, not 500 (seen in cluster-orders.test.ts's failover under writes).
    expect(isUnavailable(new NoKnownMasterError("{cordon}:orders:head"))).toBe(true);
  });
});
