/**
 * Bearer tokens and roles. Configured secrets are never kept: only their SHA-256 digests, compared in
 * constant time against every known digest (no early exit), so neither the secret nor which principal
 * matched leaks through timing. A secret that did match is remembered with its principal, so each
 * valid token is hashed once per process rather than on every request (the join check's hot path).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Principal, Role } from "../kernel/roles.js";
import { tokenConflicts } from "../kernel/tokens.js";

/** What is stored per token: who, which role, and the digest of the secret. */
export interface TokenDigest {
  principal: string;
  role: Role;
  sha256: string;
}

export function digestSecret(secret: string): string {
  return bytesToHex(sha256(utf8ToBytes(secret)));
}

/** SHA-256 of a UTF-8 string. Pure JS by default; the Node entry hands in `node:crypto`'s (native, ~5x faster). */
export type Digest = (secret: string) => Uint8Array;
const pureDigest: Digest = (secret) => sha256(utf8ToBytes(secret));

export class Authenticator {
  // Long-lived: built once at start from the configured or generated tokens.
  private readonly entries: { principal: Principal; digest: Uint8Array }[];
  /**
   * Secrets that matched, and whose. Bounded by the configured tokens (only a match is kept), and as
   * long-lived as the token list: a changed list is a new Authenticator, so a revoked secret is never
   * answered from here. Failures are never kept: an unknown secret pays the digest every time.
   */
  private readonly matched = new Map<string, Principal>();

  constructor(
    tokens: readonly TokenDigest[],
    private readonly digest: Digest = pureDigest,
  ) {
    // I7: the loop below keeps the last match, so a secret listed twice would act as whichever principal
    // came last. The parsers refuse such lists with a friendlier message; this is the last line.
    const conflicts = tokenConflicts(tokens.map((t) => ({ principal: t.principal, secret: t.sha256 })));
    if (conflicts.length > 0) throw new Error(`invalid tokens: ${conflicts.join("; ")}`);
    this.entries = tokens.map((t) => ({
      principal: { name: t.principal, role: t.role },
      digest: hexToBytes(t.sha256),
    }));
  }

  /** The principal holding `secret`, or null. */
  authenticate(secret: string): Principal | null {
    const known = this.matched.get(secret);
    if (known !== undefined) return known;
    const digest = this.digest(secret);
    let found: Principal | null = null;
    for (const entry of this.entries) {
      if (constantTimeEqual(digest, entry.digest)) found = entry.principal;
    }
    if (found !== null) this.matched.set(secret, found);
    return found;
  }
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
