/**
 * The manifest's Ed25519 signature (I9): made with the key of CORDON_SIGNING_KEY (`cordon keygen`), or a
 * key the runtime generated in the data directory; checked by `cordon verify-report` and by anyone with
 * the manifest (see the README, "Finalized reports"). Signed bytes: the UTF-8 of the canonical JSON
 * (keys sorted, no spaces) of the manifest without `signature`. Runtime-free (WebCrypto).
 */

import type { Manifest, ManifestBody } from "../report/frozen.js";
import { unsigned } from "../report/frozen.js";
import { exportPublicKey, importPublicKey, loadSigningKey } from "../rulesets/signed.js";
import { canonicalJson } from "../store/audit.js";

const ED25519 = { name: "Ed25519" } as const;

export interface ManifestSigner {
  signer: ManifestBody["signer"];
  sign(body: ManifestBody): Promise<Manifest>;
}

/** A signer from a PKCS#8 private key in base64 (CORDON_SIGNING_KEY's form). */
export async function manifestSigner(pkcs8Base64: string, keyId?: string): Promise<ManifestSigner> {
  const key = await loadSigningKey(pkcs8Base64, keyId);
  const signer: ManifestBody["signer"] = {
    alg: "Ed25519",
    keyId: key.keyId,
    publicKey: await exportPublicKey(key.publicKey),
  };
  return {
    signer,
    async sign(body) {
      const bytes = new TextEncoder().encode(canonicalJson(body));
      const signature = new Uint8Array(await crypto.subtle.sign(ED25519, key.privateKey, bytes));
      return { ...body, signature: toBase64Url(signature) };
    },
  };
}

/** Whether the manifest's signature verifies under the public key it names. */
export async function manifestSignatureValid(manifest: Manifest): Promise<boolean> {
  try {
    if (manifest.signer?.alg !== "Ed25519") return false;
    const key = await importPublicKey(manifest.signer.publicKey);
    const signature = fromBase64Url(manifest.signature);
    if (signature === undefined) return false;
    const bytes = new TextEncoder().encode(canonicalJson(unsigned(manifest)));
    return await crypto.subtle.verify(ED25519, key, signature, bytes);
  } catch {
    return false;
  }
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  let binary: string;
  try {
    binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // One spelling per signature: a lax decoder would let a changed last character pass.
  return toBase64Url(bytes) === text ? bytes : undefined;
}
