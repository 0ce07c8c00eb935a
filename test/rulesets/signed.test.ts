/**
 * The signed KV value: what the Node side writes verifies at the edge, and nothing else does: one changed
 * byte anywhere, another signer, an unknown key id, or a signed document the engine would not have
 * compiled (a signer bug) are all refused, each with its reason.
 */

import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type CompiledOrderDocument, compile, type Ruleset, toDocument } from "../../src/engine/index.js";
import {
  exportPrivateKey,
  exportPublicKey,
  generateSigningKey,
  importPrivateKey,
  keyIdOf,
  loadSigningKey,
  parsePublicKeys,
  RulesetRejectedError,
  type SigningKey,
  signRuleset,
  type VerifyingKey,
  verifySignedRuleset,
} from "../../src/rulesets/signed.js";
import { iso, NOON } from "../support/fixtures.js";
import { rehash } from "../support/ruleset-hash.js";
import { approved, forMeeting, newSigningKey } from "../support/rulesets.js";

function ruleset(version: number): Ruleset {
  const orders = [
    approved("o-1", forMeeting("81234567890")),
    approved("o-2", { ...forMeeting("89999999999"), jurisdictions: ["IN-DL", "IN-MH"] }),
  ];
  return compile(orders, { version, compiledAt: iso(NOON) });
}

/** A value with a valid signature over any payload: what a buggy (but trusted) signer would write. */
async function signRaw(payload: string, key: SigningKey): Promise<string> {
  const signature = await crypto.subtle.sign(
    { name: "Ed25519" },
    key.privateKey,
    new TextEncoder().encode(payload),
  );
  return JSON.stringify({
    v: 1,
    keyId: key.keyId,
    payload,
    signature: Buffer.from(signature).toString("base64url"),
  });
}

async function rejection(text: string, keys: readonly VerifyingKey[]): Promise<RulesetRejectedError> {
  const err = await verifySignedRuleset(text, keys).then(
    (r) => new Error(`accepted v${r.version}`),
    (e: unknown) => e,
  );
  if (!(err instanceof RulesetRejectedError)) throw err;
  return err;
}

let ours: SigningKey & { publicKey: CryptoKey };
let theirs: SigningKey & { publicKey: CryptoKey };
let trusted: VerifyingKey[];
let value: string;

beforeAll(async () => {
  ({ key: ours, trusted } = await newSigningKey("cordon-2026"));
  ({ key: theirs } = await newSigningKey("other-2026"));
  value = await signRuleset(ruleset(7), ours);
});

describe("signing and verifying", () => {
  it("verifies what it signed and gives back the same ruleset, version and compile time included", async () => {
    const back = await verifySignedRuleset(value, trusted);
    expect(toDocument(back)).toEqual(toDocument(ruleset(7)));
    expect(back.meetings.get("89999999999")?.map((o) => o.id)).toEqual(["o-2"]);
  });

  it("writes the KV value format: v1, key id, the document as text, base64url signature", () => {
    const parsed = JSON.parse(value);
    expect(Object.keys(parsed)).toEqual(["v", "keyId", "payload", "signature"]);
    expect(parsed).toMatchObject({ v: 1, keyId: "cordon-2026" });
    expect(JSON.parse(parsed.payload)).toEqual(toDocument(ruleset(7)));
    expect(parsed.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
  });

  it("derives the public key and a stable key id from the private key alone", async () => {
    const pair = await generateSigningKey();
    const loaded = await loadSigningKey(await exportPrivateKey(pair.privateKey));
    expect(await exportPublicKey(loaded.publicKey)).toBe(await exportPublicKey(pair.publicKey));
    expect(loaded.keyId).toBe(await keyIdOf(pair.publicKey));
    expect(loaded.keyId).toMatch(/^ed25519-[A-Za-z0-9_-]{12}$/);
    // The import for signing keeps the key inside WebCrypto.
    expect((await importPrivateKey(await exportPrivateKey(pair.privateKey))).extractable).toBe(false);
  });

  it("reads a list of trusted public keys, with or without key ids", async () => {
    const pair = await generateSigningKey();
    const raw = await exportPublicKey(pair.publicKey);
    const keys = await parsePublicKeys(` old:${raw}, ${raw} `);
    expect(keys.map((k) => k.keyId)).toEqual(["old", await keyIdOf(pair.publicKey)]);
    await expect(parsePublicKeys("k1:bm90LWEta2V5")).rejects.toThrow(/public key 1/);
    await expect(parsePublicKeys(" , ")).rejects.toThrow(/no public key/);
  });
});

describe("refusing what the signer did not write", () => {
  it("refuses the value with any one byte changed, anywhere in it", async () => {
    const bytes = new TextEncoder().encode(value);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (at, delta) => {
          const changed = bytes.slice();
          changed[at] = ((changed[at] as number) + delta) % 256;
          // As the Worker reads it: KV's text, with invalid UTF-8 replaced rather than thrown on.
          const text = new TextDecoder().decode(changed);
          const err = await rejection(text, trusted);
          expect(["malformed", "unknown-key", "bad-signature"]).toContain(err.reason);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("refuses a changed byte in the payload or the signature, the parts an attacker would aim at", async () => {
    const parsed = JSON.parse(value) as { payload: string; signature: string };
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("payload", "signature"),
        fc.nat(),
        fc.nat(),
        async (field, position, pick) => {
          const original = parsed[field as "payload" | "signature"];
          const at = position % original.length;
          // Printable replacements keep the value well-formed, so the signature check itself must refuse.
          const pool = field === "signature" ? alphabet : `${alphabet} {}[]:,.`;
          const others = [...pool].filter((ch) => ch !== original[at]);
          const replaced = `${original.slice(0, at)}${others[pick % others.length]}${original.slice(at + 1)}`;
          const err = await rejection(JSON.stringify({ ...JSON.parse(value), [field]: replaced }), trusted);
          // The last signature character also carries spare bits: a change there may be non-canonical.
          const lastOfSignature = field === "signature" && at === original.length - 1;
          expect(lastOfSignature ? ["malformed", "bad-signature"] : ["bad-signature"]).toContain(err.reason);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a signature whose last character differs only in its unused bits", async () => {
    const parsed = JSON.parse(value) as { signature: string };
    const last = parsed.signature.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // 64 bytes are 512 bits in 86 characters (516): the last one carries 4 spare bits, so 15 other
    // characters decode to the same bytes. A lax decoder would accept all of them.
    const index = alphabet.indexOf(last);
    expect(index & 15).toBe(0);
    const twins = Array.from({ length: 16 }, (_, i) => alphabet[index + i]).filter((ch) => ch !== last);
    expect(twins).toHaveLength(15);
    for (const twin of twins) {
      const text = JSON.stringify({
        ...JSON.parse(value),
        signature: `${parsed.signature.slice(0, -1)}${twin}`,
      });
      expect((await rejection(text, trusted)).reason).toBe("malformed");
    }
  });

  it("refuses a valid ruleset signed by another key under our key's id", async () => {
    const forged = await signRuleset(ruleset(8), { privateKey: theirs.privateKey, keyId: "cordon-2026" });
    const err = await rejection(forged, trusted);
    expect(err.reason).toBe("bad-signature");
    expect(err.message).toContain("cordon-2026");
  });

  it("refuses a ruleset signed under a key id it does not trust", async () => {
    const foreign = await signRuleset(ruleset(8), theirs);
    const err = await rejection(foreign, trusted);
    expect(err.reason).toBe("unknown-key");
    expect(err.message).toContain("other-2026");
  });

  it("refuses our signature moved onto another document (version bumped, orders replayed)", async () => {
    const parsed = JSON.parse(value) as { payload: string };
    const bumped = JSON.stringify({ ...JSON.parse(parsed.payload), version: 99 });
    const err = await rejection(JSON.stringify({ ...JSON.parse(value), payload: bumped }), trusted);
    expect(err.reason).toBe("bad-signature");
  });

  it("refuses a validly signed document whose hash does not match its orders (a signer bug)", async () => {
    const doc = toDocument(ruleset(9));
    const edited = { ...doc, orders: doc.orders.map((o) => ({ ...o, jurisdictions: ["IN-KA"] })) };
    const err = await rejection(await signRaw(JSON.stringify(edited), ours), trusted);
    expect(err.reason).toBe("invalid-document");
    expect(err.message).toMatch(/hash mismatch/);
  });

  it("refuses a validly signed document, hash intact, that blocks outside its authority (I1)", async () => {
    const doc = toDocument(ruleset(9));
    const outside: CompiledOrderDocument[] = doc.orders.map((o) => ({ ...o, jurisdictions: ["PK"] }));
    const err = await rejection(
      await signRaw(JSON.stringify(rehash({ ...doc, orders: outside })), ours),
      trusted,
    );
    expect(err.reason).toBe("invalid-document");
    expect(err.message).toMatch(/outside its authority: PK/);
  });

  it("refuses validly signed payloads that are no ruleset document", async () => {
    for (const payload of ["not json", "[]", JSON.stringify({ ...toDocument(ruleset(3)), version: -1 })]) {
      expect((await rejection(await signRaw(payload, ours), trusted)).reason).toBe("invalid-document");
    }
  });

  it.each([
    ["empty", ""],
    ["not JSON", "{"],
    ["another format version", JSON.stringify({ v: 2, keyId: "cordon-2026", payload: "{}", signature: "" })],
    ["an extra field", JSON.stringify({ v: 1, keyId: "k", payload: "{}", signature: "", note: 1 })],
    [
      "a signature of the wrong length",
      JSON.stringify({ v: 1, keyId: "cordon-2026", payload: "{}", signature: "AAAA" }),
    ],
  ])("refuses a value that is %s as malformed", async (_name, text) => {
    expect((await rejection(text, trusted)).reason).toBe("malformed");
  });
});
