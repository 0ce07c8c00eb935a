/**
 * Console sessions: an opaque random id in an HttpOnly, SameSite=Strict cookie, mapped server-side to
 * who signed in, their CSRF token and their language. The bearer token itself is checked once at sign-in
 * and never kept. The store is in process memory, bounded and expiring: a restart signs everyone out,
 * and with `CORDON_WORKERS` > 1 each process has its own sessions (see the console README note).
 */

import type { Language } from "../i18n/language.js";
import type { Principal } from "../kernel/roles.js";

export interface Session {
  id: string;
  principal: Principal;
  csrf: string;
  lang: Language;
  /** Epoch ms; idle expiry, pushed forward on use. */
  expires: number;
  /** Epoch ms; absolute expiry, never pushed. */
  hardExpires: number;
}

export const SESSION_COOKIE = "cordon_session";
export const IDLE_MS = 30 * 60_000;
export const MAX_AGE_MS = 12 * 60 * 60_000;

/** 32 random bytes, base64url: unguessable session ids and CSRF tokens (Web Crypto, any runtime). */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Compares two strings without an early exit, so a CSRF token cannot be guessed byte by byte. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export class SessionStore {
  // Long-lived: one per app. Map order is insertion order, so the first entry is the oldest session.
  readonly #sessions = new Map<string, Session>();

  constructor(
    private readonly clock: () => number,
    private readonly max = 10_000,
  ) {}

  create(principal: Principal, lang: Language): Session {
    const now = this.clock();
    if (this.#sessions.size >= this.max) this.#evict(now);
    const session: Session = {
      id: randomToken(),
      principal,
      csrf: randomToken(),
      lang,
      expires: now + IDLE_MS,
      hardExpires: now + MAX_AGE_MS,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = this.clock();
    if (now >= session.expires || now >= session.hardExpires) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.expires = Math.min(now + IDLE_MS, session.hardExpires);
    return session;
  }

  destroy(id: string | undefined): void {
    if (id) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Drops expired sessions; if none were, the oldest, so the store never grows past `max`. */
  #evict(now: number): void {
    for (const [id, s] of this.#sessions) {
      if (now >= s.expires || now >= s.hardExpires) this.#sessions.delete(id);
    }
    if (this.#sessions.size >= this.max) {
      const oldest = this.#sessions.keys().next();
      if (!oldest.done) this.#sessions.delete(oldest.value);
    }
  }
}
