/**
 * The signed form of a ruleset, as published to Workers KV and read back by the edge. Owns the KV value
 * format and its Ed25519 keys:
 *
 *   {"v":1,"keyId":"...","payload":"<RulesetDocument JSON>","signature":"<base64url Ed25519 over payload>"}
 *
 * The signature covers the exact UTF-8 bytes of `payload`, the whole document: the ruleset's own hash
 * covers only the compiled orders, not `version` or `compiledAt`, so signing the hash alone would let
 * anyone who can write KV replay old orders under a new version. `keyId` only picks the key to try
 * (rotation: the Worker may trust several); a wrong one fails like a bad signature would.
 *
 * Runtime-free: WebCrypto (`crypto.subtle`, Ed25519 in Node 20 and workerd), TextEncoder, atob/btoa.
 */
import { z } from "zod";
import {
  fromDocument,
  type Ruleset,
  type RulesetDocument,
  RulesetDocumentShape,
  toDocument,
} from "../engine/index.js";

/**
 * The single-value format's KV key: the whole signed ruleset in one value. Written by releases before
 * sharding (and `cordon publish --out`); the Worker still reads it while no manifest exists.
 */
export const RULESET_KV_KEY = "ruleset/current";

export const SIGNED_RULESET_FORMAT = 1;

const ED25519 = { name: "Ed25519" } as const;

export interface SigningKey {
  privateKey: CryptoKey;
  keyId: string;
}

export interface VerifyingKey {
  keyId: string;
  key: CryptoKey;
}

export type RejectionReason =
  | "malformed"
  | "unknown-key"
  | "bad-signature"
  | "invalid-document"
  /** A shard whose bytes are not those the signed manifest names (see `sharded.ts`). */
  | "bad-shard";

/** A KV value that must not be enforced; `reason` says which check refused it. */
export class RulesetRejectedError extends Error {
  override readonly name = "RulesetRejectedError";
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
  }
}

const Envelope = z.strictObject({
  v: z.literal(SIGNED_RULESET_FORMAT),
  keyId: z.string().min(1).max(200),
  payload: z.string(),
  signature: z.string(),
});

export async function signRuleset(ruleset: Ruleset, key: SigningKey): Promise<string> {
  return signPayload(JSON.stringify(toDocument(ruleset)), key);
}

/** The envelope around any signed payload (the ruleset document, or a sharded ruleset's manifest). */
export async function signPayload(payload: string, key: SigningKey): Promise<string> {
  const signature = await crypto.subtle.sign(ED25519, key.privateKey, utf8(payload));
  return JSON.stringify({
    v: SIGNED_RULESET_FORMAT,
    keyId: key.keyId,
    payload,
    signature: toBase64Url(new Uint8Array(signature)),
  });
}

/**
 * The payload of an envelope, once its signature verifies under the key its `keyId` names. Throws
 * `RulesetRejectedError` (malformed, unknown-key, bad-signature) on anything else.
 */
export async function verifyPayload(text: string, publicKeys: readonly VerifyingKey[]): Promise<string> {
  let envelope: z.infer<typeof Envelope>;
  try {
    envelope = Envelope.parse(JSON.parse(text));
  } catch (err) {
    throw new RulesetRejectedError("malformed", `not a signed ruleset (format v1): ${message(err)}`);
  }
  const key = publicKeys.find((k) => k.keyId === envelope.keyId);
  if (!key) {
    throw new RulesetRejectedError("unknown-key", `signed by unknown key ${JSON.stringify(envelope.keyId)}`);
  }
  const signature = fromBase64Url(envelope.signature);
  if (signature?.length !== 64) {
    throw new RulesetRejectedError("malformed", "signature is not 64 bytes of canonical base64url");
  }
  if (!(await crypto.subtle.verify(ED25519, key.key, signature, utf8(envelope.payload)))) {
    throw new RulesetRejectedError("bad-signature", `signature does not verify under key ${key.keyId}`);
  }
  return envelope.payload;
}

/**
 * The ruleset in a KV value, once its signature verifies under the key its `keyId` names and its
 * document passes `fromDocument` (hash, windows, I1). Throws `RulesetRejectedError` on anything else.
 */
export async function verifySignedRuleset(
  text: string,
  publicKeys: readonly VerifyingKey[],
): Promise<Ruleset> {
  const payload = await verifyPayload(text, publicKeys);
  let document: RulesetDocument;
  try {
    document = RulesetDocumentShape.parse(JSON.parse(payload));
  } catch (err) {
    throw new RulesetRejectedError(
      "invalid-document",
      `signed payload is no ruleset document: ${message(err)}`,
    );
  }
  try {
    return fromDocument(document);
  } catch (err) {
    throw new RulesetRejectedError("invalid-document", message(err));
  }
}

/** A new, extractable key pair (for `cordon keygen` and tests). */
export async function generateSigningKey(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** PKCS#8, base64: the form of CORDON_SIGNING_KEY. */
export async function exportPrivateKey(privateKey: CryptoKey): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey)));
}

/** The raw 32-byte public key, base64: the form the Worker's RULESET_PUBLIC_KEYS lists. */
export async function exportPublicKey(publicKey: CryptoKey): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.exportKey("raw", publicKey)));
}

/** Imports CORDON_SIGNING_KEY (PKCS#8, base64) for signing only; not extractable again. */
export async function importPrivateKey(pkcs8Base64: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", decodeKey(pkcs8Base64, "private"), ED25519, false, ["sign"]);
}

export async function importPublicKey(rawBase64: string): Promise<CryptoKey> {
  const raw = decodeKey(rawBase64, "public");
  if (raw.length !== 32) throw new Error("an Ed25519 public key is 32 bytes");
  return crypto.subtle.importKey("raw", raw, ED25519, true, ["verify"]);
}

/**
 * The public half of a PKCS#8 private key. WebCrypto has no direct call for it; the private key's
 * JWK carries it as `x`, so the key is imported extractable here, once, and then dropped.
 */
export async function publicKeyOf(pkcs8Base64: string): Promise<CryptoKey> {
  const extractable = await crypto.subtle.importKey(
    "pkcs8",
    decodeKey(pkcs8Base64, "private"),
    ED25519,
    true,
    ["sign"],
  );
  const { x } = await crypto.subtle.exportKey("jwk", extractable);
  const raw = x === undefined ? undefined : fromBase64Url(x);
  if (!raw) throw new Error("the private key carries no public key");
  return crypto.subtle.importKey("raw", raw, ED25519, true, ["verify"]);
}

/** A short stable id for a public key: base64url of the first 9 bytes of SHA-256 over its raw bytes. */
export async function keyIdOf(publicKey: CryptoKey): Promise<string> {
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  return `ed25519-${toBase64Url(digest.slice(0, 9))}`;
}

/** The signing key from CORDON_SIGNING_KEY, with its public half; `keyId` defaults to `keyIdOf`. */
export async function loadSigningKey(
  pkcs8Base64: string,
  keyId?: string,
): Promise<SigningKey & { publicKey: CryptoKey }> {
  const [privateKey, publicKey] = await Promise.all([
    importPrivateKey(pkcs8Base64),
    publicKeyOf(pkcs8Base64),
  ]);
  return { privateKey, publicKey, keyId: keyId ?? (await keyIdOf(publicKey)) };
}

/**
 * Parses a list of trusted public keys, comma-separated, each `keyId:rawBase64` or a bare `rawBase64`
 * (its id is then `keyIdOf` the key): the form of the Worker's RULESET_PUBLIC_KEYS and what
 * `cordon keygen` prints. Several keys let a new signing key roll out before the old one is dropped.
 */
export async function parsePublicKeys(spec: string): Promise<VerifyingKey[]> {
  const entries = spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error("no public key listed");
  return Promise.all(
    entries.map(async (entry, i) => {
      const colon = entry.lastIndexOf(":");
      const keyText = colon < 0 ? entry : entry.slice(colon + 1);
      let key: CryptoKey;
      try {
        key = await importPublicKey(keyText);
      } catch (err) {
        throw new Error(`public key ${i + 1}: ${message(err)}`);
      }
      return { keyId: colon < 0 ? await keyIdOf(key) : entry.slice(0, colon), key };
    }),
  );
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

function decodeKey(base64: string, kind: "private" | "public"): Uint8Array<ArrayBuffer> {
  const bytes = fromBase64(base64.trim());
  if (!bytes) throw new Error(`the ${kind} key is not base64`);
  return bytes;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Canonical base64url only: the last character of 64 bytes carries 2 unused bits, so a lax decoder
 * would read four different texts as one signature, and a changed character would go unnoticed.
 */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = fromBase64(text.replaceAll("-", "+").replaceAll("_", "/"));
  if (!bytes || toBase64Url(bytes) !== text) return undefined;
  return bytes;
}

function message(err: unknown): string {
  if (err instanceof z.ZodError)
    return err.issues.map((i) => `${i.path.join(".") || "(value)"}: ${i.message}`).join("; ");
  return err instanceof Error ? err.message : String(err);
}
