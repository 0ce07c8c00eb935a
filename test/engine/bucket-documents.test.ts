/**
 * `bucketDocuments` and `fromBucketDocuments`: a ruleset written bucket by bucket (as the embedded
 * store's ruleset snapshot keeps it) and read back is the same ruleset, hash, index and decisions, and
 * the base of a recompile equal to a full compile; a bucket list that `compile` could not have made is
 * refused with what is wrong.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BucketDocument,
  bucketDocuments,
  bucketOf,
  compile,
  decide,
  fromBucketDocuments,
  fromDocument,
  type Order,
  type Ruleset,
  recompile,
  toDocument,
  transition,
} from "../../src/engine/index.js";
import { HOUR, iso, NOON } from "../support/fixtures.js";
import { approve, pending } from "../support/rulesets.js";

const meta = (r: Ruleset) => ({
  version: r.version,
  compiledAt: r.compiledAt,
  hash: r.hash,
  excluded: r.excluded,
});

/** Through JSON, as a file holds it. */
const written = (r: Ruleset): BucketDocument[] => JSON.parse(JSON.stringify([...bucketDocuments(r)]));

function orders(n: number): Order[] {
  return Array.from({ length: n }, (_, i) =>
    approve(
      pending(`o-${i}`, {
        ...(i % 3 === 0
          ? { authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" }, jurisdictions: ["RU"] }
          : { jurisdictions: i % 2 ? ["IN-MH", "IN-KA"] : ["IN"] }),
        target:
          i % 5 === 4
            ? { kind: "account", accountIds: [`acct-${i % 7}`] }
            : { kind: "meeting", meetingIds: [`m-${i % 11}`, `m-x${i}`] },
        ...(i % 4 === 1 ? { action: "prevent_hosting", exemptAccountIds: ["acct-9"] } : {}),
        ...(i % 6 === 5 ? { effectiveUntil: iso(NOON + HOUR) } : {}),
      }),
    ),
  );
}

describe("a ruleset by its buckets", () => {
  it("reads back as the same ruleset, and recompiles from there as a full compile does", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 299 }), (n, k) => {
        const all = orders(n);
        const ruleset = compile(all, { version: 7, compiledAt: iso(NOON) });
        const read = fromBucketDocuments(meta(ruleset), written(ruleset));
        expect(read.hash).toBe(ruleset.hash);
        expect(read.version).toBe(7);
        expect(read.orders).toEqual(ruleset.orders);
        expect(new Map(read.meetings)).toEqual(new Map(ruleset.meetings));
        expect(new Map(read.accounts)).toEqual(new Map(ruleset.accounts));
        expect(toDocument(read)).toEqual(toDocument(ruleset));
        for (const meetingId of ["m-0", "m-3", `m-x${k}`, "none"])
          for (const role of ["participant", "host"] as const) {
            const f = {
              meetingId,
              accountId: "acct-1",
              location: { country: "IN", subdivisions: ["IN-MH"] },
              role,
            };
            expect(decide(read, f, NOON)).toEqual(decide(ruleset, f, NOON));
          }
        if (n === 0) return;
        const changed = transition(all[k % n] as Order, { type: "withdraw" }, "responder-1", iso(NOON));
        const next = { version: 8, compiledAt: iso(NOON) };
        const rest = all.map((o) => (o.id === changed.id ? changed : o));
        expect(recompile(read, [changed], next).hash).toBe(compile(rest, next).hash);
      }),
      { numRuns: 40 },
    );
  });

  it("takes the lists the documents hold frozen as they are, and copies the others", () => {
    const ruleset = compile(orders(30), { version: 1, compiledAt: iso(NOON) });
    const docs = written(ruleset);
    const first = docs[0] as BucketDocument;
    const o = first.orders[0] as unknown as {
      meetingIds: string[];
      accountIds: string[];
      jurisdictions: string[];
    };
    Object.freeze(o.meetingIds);
    Object.freeze(o.jurisdictions);
    const read = fromBucketDocuments(meta(ruleset), docs);
    const back = read.orders.find((x) => x.id === (first.orders[0] as { id: string }).id);
    expect(back?.meetingIds).toBe(o.meetingIds);
    expect(back?.jurisdictions).toBe(o.jurisdictions);
    expect(back?.accountIds).not.toBe(o.accountIds);
    expect(Object.isFrozen(back?.accountIds)).toBe(true);
    expect(read.hash).toBe(ruleset.hash);
  });

  it("checks I1 for a shared block list under each authority that uses it", () => {
    const ruleset = compile(orders(60), { version: 1, compiledAt: iso(NOON) });
    const docs = written(ruleset);
    // One frozen list shared by every order: fine under India's authority, outside Russia's.
    const shared = Object.freeze(["IN-MH"]);
    for (const d of docs)
      for (const o of d.orders) (o as { jurisdictions: readonly string[] }).jurisdictions = shared;
    expect(() => fromBucketDocuments(meta(ruleset), docs)).toThrow(/blocks outside its authority: IN-MH/);
  });

  it("carries the exclusions beside the buckets", () => {
    const slipped = {
      ...approve(pending("o-bad")),
      jurisdictions: ["CN-HK"],
      authority: { name: "X", jurisdiction: "CN", kind: "court" },
    } as Order;
    const ruleset = compile([...orders(5), slipped], { version: 1, compiledAt: iso(NOON) });
    expect(ruleset.excluded).toHaveLength(1);
    expect(fromBucketDocuments(meta(ruleset), written(ruleset)).excluded).toEqual(ruleset.excluded);
  });

  it("gives the buckets of a ruleset read from a document of the earlier hash", () => {
    const ruleset = compile(orders(40), { version: 1, compiledAt: iso(NOON) });
    const fromDoc = fromDocument(JSON.parse(JSON.stringify(toDocument(ruleset))));
    expect(written(fromDoc)).toEqual(written(ruleset));
  });

  describe("refuses", () => {
    const ruleset = compile(orders(60), { version: 3, compiledAt: iso(NOON) });
    const refused = (edit: (docs: BucketDocument[]) => unknown, why: RegExp, m = meta(ruleset)) => {
      const docs = written(ruleset);
      edit(docs);
      expect(() => fromBucketDocuments(m, docs)).toThrow(why);
    };
    type Mutable = { -readonly [K in keyof BucketDocument]: BucketDocument[K] } & {
      orders: Record<string, unknown>[];
    };
    const at = (docs: BucketDocument[], i: number) => docs[i] as unknown as Mutable;

    it("given `verify`, an order its bucket's digest does not stand for (taken as written without it)", () => {
      const edited = written(ruleset);
      const order = at(edited, 2).orders[0] as Record<string, unknown>;
      order.until = (order.until as number | null) === null ? NOON + HOUR : null;
      // Without `verify` the digests are the caller's word (a file it wrote and checksummed itself).
      expect(fromBucketDocuments(meta(ruleset), edited).hash).toBe(ruleset.hash);
      expect(() => fromBucketDocuments(meta(ruleset), edited, {})).toThrow(
        /bucket \d+: its digest is not that of its orders/,
      );
      expect(fromBucketDocuments(meta(ruleset), written(ruleset), {}).hash).toBe(ruleset.hash);
    });

    it("a stated hash the digests do not give", () => {
      refused(() => undefined, /hash mismatch/, { ...meta(ruleset), hash: "0".repeat(64) });
      refused((d) => {
        at(d, 0).digest = "f".repeat(64);
      }, /hash mismatch/);
    });
    it("a missing bucket", () => refused((d) => d.splice(1, 1), /hash mismatch/));
    it("buckets out of order, or given twice", () => {
      refused((d) => d.reverse(), /out of order/);
      refused((d) => d.splice(1, 0, d[0] as BucketDocument), /out of order/);
    });
    it("an order in another bucket than its id's", () => {
      refused((d) => {
        at(d, 0).bucket = (bucketOf(String(at(d, 0).orders[0]?.id)) + 1) % 4096;
      }, /not in its bucket|out of order/);
      refused((d) => {
        at(d, 0).orders.push({ ...at(d, 1).orders[0] });
      }, /not in its bucket/);
    });
    it("a bucket not in id order", () => {
      const many = written(ruleset).findIndex((b) => b.orders.length > 1);
      expect(many).toBeGreaterThanOrEqual(0);
      refused((d) => {
        at(d, many).orders.reverse();
      }, /not in id order/);
    });
    it("an empty bucket or one without a digest", () => {
      refused((d) => {
        at(d, 0).orders = [];
      }, /empty or has no digest/);
      refused((d) => {
        at(d, 0).digest = "nope";
      }, /empty or has no digest/);
    });
    it("an order blocking outside its authority (I1), or with an unreadable window", () => {
      refused((d) => {
        (at(d, 0).orders[0] as Record<string, unknown>).jurisdictions = ["US-CA"];
      }, /outside its authority: US-CA/);
      refused((d) => {
        (at(d, 0).orders[0] as Record<string, unknown>).from = null;
      }, /unreadable window/);
    });
  });
});
