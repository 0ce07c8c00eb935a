/**
 * I6 at the edge: the keyed hash of an address, HMAC-SHA-256 under CORDON_IP_HASH_KEY, hex. The same
 * key bytes (the secret's UTF-8, as Node reads a configured key) give the same hash as Node's
 * `createHmac`, so one participant hashes alike whichever runtime answered.
 *
 * Pure JS (@noble/hashes, already the app's SHA-256) rather than WebCrypto: `crypto.subtle.sign` only
 * answers with a promise, and `hashIp` is synchronous on the check's path (`evaluate` awaits nothing
 * for an mmdb lookup). Keeping it synchronous changes no shared signature and keeps Node's path as it
 * is; the cost is two SHA-256 blocks per address with the key's pads computed once.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

export function edgeIpHasher(key: string): (ip: string) => string {
  // Long-lived: the keyed state (inner and outer pads) is built once per isolate and cloned per call.
  const keyed = hmac.create(sha256, utf8ToBytes(key));
  return (ip) => bytesToHex(keyed.clone().update(utf8ToBytes(ip)).digest());
}
