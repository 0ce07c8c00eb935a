/**
 * The audit hash chain (I7): a chain built with `chainEntry` verifies, and any edit of any field of any
 * entry, any deletion, reorder or insertion is found, at the seq where the chain first breaks.
 * Chains and edits are random (fast-check); entries go through JSON as they do on disk.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Order } from "../../src/engine/index.js";
import { canonicalJson, chainEntry, hashEntry, verifyChain, ZERO_HASH } from "../../src/store/audit.js";
import type { AuditAction, AuditEntry } from "../../src/store/interface.js";

const orderArb: fc.Arbitrary<Order> = fc.record(
  {
    id: fc.constantFrom("ord_a", "ord_b", "ord_c"),
    reference: fc.string({ minLength: 1, maxLength: 20 }),
    authority: fc.record({
      name: fc.string({ minLength: 1, maxLength: 20 }),
      jurisdiction: fc.constantFrom("IN", "RU", "NL"),
      kind: fc.constantFrom("court" as const, "agency" as const, "police" as const),
    }),
    jurisdictions: fc.array(fc.constantFrom("IN-MH", "IN-KA", "RU-MOW"), { minLength: 1, maxLength: 3 }),
    target: fc.record({
      kind: fc.constant("meeting" as const),
      meetingIds: fc.array(fc.stringMatching(/^[0-9]{11}$/), { minLength: 1, maxLength: 3 }),
    }),
    receivedAt: fc.constant("2026-01-01T00:00:00Z"),
    mode: fc.constantFrom("enforce" as const, "shadow" as const),
    notes: fc.string({ maxLength: 30 }),
    status: fc.constantFrom(
      "pending" as const,
      "approved" as const,
      "rejected" as const,
      "withdrawn" as const,
    ),
    enforcement: fc.constant("none" as const),
    createdBy: fc.constantFrom("alice", "bob"),
    createdAt: fc.constant("2026-01-01T00:00:00Z"),
    decidedBy: fc.constantFrom("carol", "dave"),
  },
  {
    requiredKeys: ["id", "reference", "authority", "jurisdictions", "target", "receivedAt", "mode", "status"],
  },
) as fc.Arbitrary<Order>;

const fieldsArb = fc.record({
  at: fc
    .date({ min: new Date("2020-01-01"), max: new Date("2030-01-01"), noInvalidDate: true })
    .map((d) => d.toISOString()),
  actor: fc.string({ minLength: 1, maxLength: 12 }),
  action: fc.constantFrom<AuditAction>("create", "approve", "reject", "withdraw"),
  order: orderArb,
});

/** A valid chain of 1..12 entries, round-tripped through JSON as replay reads them. */
const chainArb = fc.array(fieldsArb, { minLength: 1, maxLength: 12 }).map((all) => {
  const entries: AuditEntry[] = [];
  let prev = { seq: 0, hash: ZERO_HASH };
  for (const f of all) {
    const entry = chainEntry(prev, { ...f, orderId: f.order.id });
    entries.push(JSON.parse(JSON.stringify(entry)) as AuditEntry);
    prev = entry;
  }
  return entries;
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a leaf of a JSON value. */
function leaves(value: Json, path: (string | number)[] = []): (string | number)[][] {
  if (value !== null && typeof value === "object") {
    const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
    return keys.flatMap((k) => leaves((value as Record<string | number, Json>)[k] as Json, [...path, k]));
  }
  return [path];
}

/** A value of the same kind that is certainly different. */
function changed(value: Json): Json {
  if (typeof value === "string") return `${value}x`;
  if (typeof value === "number") return value + 1;
  if (typeof value === "boolean") return !value;
  return "x";
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): void {
  let node = root as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, Json>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

const clone = (entries: AuditEntry[]): AuditEntry[] => JSON.parse(JSON.stringify(entries));

describe("the audit hash chain", () => {
  it("verifies a chain built with chainEntry, reporting its length and head", () => {
    fc.assert(
      fc.property(chainArb, (entries) => {
        const last = entries[entries.length - 1] as AuditEntry;
        expect(verifyChain(entries)).toEqual({
          ok: true,
          count: entries.length,
          head: { seq: last.seq, hash: last.hash },
        });
        expect(verifyChain(entries, { head: { seq: last.seq, hash: last.hash } }).ok).toBe(true);
      }),
    );
  });

  it("verifies an empty chain as count 0 at the zero hash", () => {
    expect(verifyChain([])).toEqual({ ok: true, count: 0, head: { seq: 0, hash: ZERO_HASH } });
  });

  it("finds an edit of any field of any entry, at that entry's seq", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.nat(), (original, i, j) => {
        const entries = clone(original);
        const index = i % entries.length;
        const target = entries[index] as unknown as Json;
        const paths = leaves(target);
        const path = paths[j % paths.length] as (string | number)[];
        let node = target;
        for (const k of path) node = (node as Record<string | number, Json>)[k] as Json;
        setAt(target, path, changed(node));
        expect(verifyChain(entries)).toMatchObject({ ok: false, seq: index + 1 });
      }),
    );
  });

  it("finds an added or a removed field", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.boolean(), (original, i, add) => {
        const entries = clone(original);
        const index = i % entries.length;
        const order = (entries[index] as AuditEntry).order as unknown as Record<string, Json>;
        if (add) order.approvedBy = "mallory";
        else delete order.reference;
        expect(verifyChain(entries)).toMatchObject({ ok: false, seq: index + 1 });
      }),
    );
  });

  it("finds a deleted entry; a cut tail is found against the known head", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), (original, i) => {
        const entries = clone(original);
        const index = i % entries.length;
        const last = entries[entries.length - 1] as AuditEntry;
        entries.splice(index, 1);
        expect(verifyChain(entries, { head: { seq: last.seq, hash: last.hash } })).toMatchObject({
          ok: false,
          seq: index + 1,
        });
        if (index < entries.length) expect(verifyChain(entries)).toMatchObject({ ok: false, seq: index + 1 });
      }),
    );
  });

  it("finds two entries swapped", () => {
    fc.assert(
      fc.property(
        chainArb.filter((e) => e.length >= 2),
        fc.nat(),
        fc.nat(),
        (original, a, b) => {
          const entries = clone(original);
          const i = a % entries.length;
          const j = (i + 1 + (b % (entries.length - 1))) % entries.length;
          const [lo, hi] = [Math.min(i, j), Math.max(i, j)];
          [entries[lo], entries[hi]] = [entries[hi] as AuditEntry, entries[lo] as AuditEntry];
          expect(verifyChain(entries)).toMatchObject({ ok: false, seq: lo + 1 });
        },
      ),
    );
  });

  it("finds an inserted entry, whether a copy of another or one forged to look chained", () => {
    fc.assert(
      fc.property(chainArb, fc.nat(), fc.nat(), fieldsArb, fc.boolean(), (original, i, k, fields, forge) => {
        const entries = clone(original);
        const at = i % (entries.length + 1);
        const prev = at === 0 ? { seq: 0, hash: ZERO_HASH } : (entries[at - 1] as AuditEntry);
        const copied = k % entries.length;
        const inserted = forge
          ? chainEntry(prev, { ...fields, orderId: fields.order.id })
          : (JSON.parse(JSON.stringify(entries[copied])) as AuditEntry);
        entries.splice(at, 0, inserted);
        // A forged entry at the very end is indistinguishable from an append without the known head.
        const verdict =
          forge && at === original.length
            ? verifyChain(entries, { head: original[original.length - 1] as AuditEntry })
            : verifyChain(entries);
        expect(verdict.ok).toBe(false);
        // An entry that fits where it was put (forged, or a copy of the one it precedes) breaks the next.
        const fits = forge || copied === at;
        if (!verdict.ok) expect(verdict.seq).toBe(fits && at < original.length ? at + 2 : at + 1);
      }),
    );
  });

  it("hashes independently of key order, and ignores the hash field itself", () => {
    const entry = chainEntry(
      { seq: 0, hash: ZERO_HASH },
      {
        at: "2026-01-01T00:00:00Z",
        actor: "alice",
        action: "create",
        orderId: "o",
        order: { id: "o" } as Order,
      },
    );
    const reordered = Object.fromEntries(Object.entries(entry).reverse()) as unknown as AuditEntry;
    expect(hashEntry(reordered)).toBe(entry.hash);
    expect(hashEntry({ ...entry, hash: "anything" })).toBe(entry.hash);
    expect(canonicalJson({ b: [1, { d: 1, c: undefined, a: null }], a: "x" })).toBe(
      '{"a":"x","b":[1,{"a":null,"d":1}]}',
    );
  });

  it("rejects entries that are not objects without throwing", () => {
    expect(verifyChain([null as unknown as AuditEntry])).toEqual({
      ok: false,
      seq: 1,
      reason: "entry is not an object",
    });
  });
});
