/**
 * Orders, rulesets and signing keys for the engine and ruleset-distribution tests, made the way
 * production makes them: `OrderInput.parse` -> `createOrder` -> `transition` (a second person approves)
 * -> `compile`, and Ed25519 keys in the forms the settings carry. Times are relative to the fixtures'
 * NOON. Imports nothing of either runtime: the workerd tests use it too.
 */
import {
  compile,
  createOrder,
  type GeoLocation,
  type Order,
  OrderInput,
  type Ruleset,
  transition,
} from "../../src/engine/index.js";
import {
  exportPrivateKey,
  exportPublicKey,
  generateSigningKey,
  importPublicKey,
  loadSigningKey,
  type SigningKey,
  signRuleset,
  type VerifyingKey,
} from "../../src/rulesets/signed.js";
import { HOUR, iso, NOON, orderInput } from "./fixtures.js";

/** Where a participant whom these orders block is. */
export const MUMBAI: GeoLocation = { country: "IN", subdivisions: ["IN-MH"] };

/** The input fields that aim an order at one meeting. */
export const forMeeting = (meetingId: string) => ({ target: { kind: "meeting", meetingIds: [meetingId] } });

/**
 * A pending order of India's High Court blocking Maharashtra from meeting m-1, received 48 h and entered
 * 47 h before NOON by responder-1; `overrides` replace any input field.
 */
export function pending(id: string, overrides: Record<string, unknown> = {}): Order {
  const input = OrderInput.parse({
    reference: `WP/${id}`,
    authority: { name: "High Court", jurisdiction: "IN", kind: "court" },
    jurisdictions: ["IN-MH"],
    target: { kind: "meeting", meetingIds: ["m-1"] },
    receivedAt: iso(NOON - 48 * HOUR),
    ...overrides,
  });
  return createOrder(input, { id, actor: "responder-1", at: iso(NOON - 47 * HOUR) });
}

/** Approved by approver-1, 24 h before NOON unless `at` says otherwise. */
export const approve = (order: Order, at = NOON - 24 * HOUR): Order =>
  transition(order, { type: "approve" }, "approver-1", iso(at));

export const approved = (id: string, overrides: Record<string, unknown> = {}): Order =>
  approve(pending(id, overrides));

/**
 * Version n of the ruleset: orders o-1 .. o-n blocking meetings m-1 .. m-n from Maharashtra, compiled at
 * NOON + n ms (so that versions differ in their compile time too).
 */
export function rulesetVersion(n: number): Ruleset {
  const orders = Array.from({ length: n }, (_, i) => approved(`o-${i + 1}`, forMeeting(`m-${i + 1}`)));
  return compile(orders, { version: n, compiledAt: iso(NOON + n) });
}

/**
 * A fresh signing key under `keyId`; its private key as CORDON_SIGNING_KEY carries it, and the public key
 * as the edge trusts it (exported and read back, as RULESET_PUBLIC_KEYS lists it).
 */
export async function newSigningKey(keyId: string): Promise<{
  key: SigningKey & { publicKey: CryptoKey };
  privateKeyText: string;
  trusted: VerifyingKey[];
}> {
  const pair = await generateSigningKey();
  const privateKeyText = await exportPrivateKey(pair.privateKey);
  const key = await loadSigningKey(privateKeyText, keyId);
  const trusted = [{ keyId, key: await importPublicKey(await exportPublicKey(pair.publicKey)) }];
  return { key, privateKeyText, trusted };
}

/**
 * What the Node publisher writes to KV for the edge tests: ruleset v2 with one approved order blocking
 * all of India from meeting 81234567890 (the fixtures' order input), signed with `key`.
 */
export async function signedIndiaRuleset(key: SigningKey): Promise<string> {
  const at = new Date().toISOString();
  const input = OrderInput.parse(orderInput({ jurisdictions: ["IN"] }));
  const created = createOrder(input, { id: "ord_india", actor: "responder", at });
  const order = transition(created, { type: "approve" }, "approver", at);
  return signRuleset(compile([order], { version: 2, compiledAt: at }), key);
}
