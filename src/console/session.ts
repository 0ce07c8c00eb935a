/**
 * Console sessions: an opaque random id in an HttpOnly, SameSite=Strict cookie, mapped server-side to
 * who signed in, their CSRF token and their language. The bearer token itself is checked once at sign-in
 * and never kept; an OpenID Connect sign-in (`oidc.ts`) keeps none of the provider's tokens either. Where
 * sessions live is a `SessionStore`: in embedded mode a file in the data directory
 * (`store/file/session-store.ts`: it outlives a restart; with `CORDON_WORKERS` > 1 worker 0 alone serves
 * the console, so there is one store), in Redis when REDIS_URL is set (`store/redis/session-store.ts`: any
 * instance serves a session, and it outlives a restart); `MemorySessionStore` here, in process memory, when
 * the app is built without one (tests). All expire a session after `IDLE_MS` unused and `MAX_AGE_MS`
 * after sign-in, and are bounded per principal: signing in again and again only ever ends that
 * principal's own oldest session.
 */

import type { Language } from "../i18n/language.js";
import { type Principal, principalKey } from "../kernel/roles.js";
import {
  type Session as AnySession,
  type SessionStore as AnySessionStore,
  IDLE_MS,
  MAX_AGE_MS,
  SESSIONS_PER_PRINCIPAL,
  type SessionExtras,
  type SessionTimeouts,
} from "../store/sessions.js";

export { IDLE_MS, MAX_AGE_MS, SESSIONS_PER_PRINCIPAL, type SessionTimeouts };
export type Session = AnySession<Language>;
export type SessionStore = AnySessionStore<Language>;

export const SESSION_COOKIE = "cordon_session";

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

export class MemorySessionStore implements SessionStore {
  // Long-lived: one per app. Map and Set order is insertion order, so the first entry is the oldest.
  readonly #sessions = new Map<string, Session>();
  /**
   * Session ids by principal (names compared case-insensitively, I7). The bound is per principal, not
   * global: with a global one any console user could sign everyone else out by filling the table. The
   * total stays bounded all the same: principals come from the token list, so at most
   * principals × `perPrincipal` sessions exist.
   */
  readonly #byPrincipal = new Map<string, Set<string>>();

  readonly #perPrincipal: number;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;

  constructor(
    private readonly clock: () => number,
    opts: SessionTimeouts = {},
  ) {
    this.#perPrincipal = opts.perPrincipal ?? SESSIONS_PER_PRINCIPAL;
    this.#idleMs = opts.idleMs ?? IDLE_MS;
    this.#maxAgeMs = opts.maxAgeMs ?? MAX_AGE_MS;
  }

  async create(principal: Principal, lang: Language, extras: SessionExtras = {}): Promise<Session> {
    const now = this.clock();
    const key = principalKey(principal.name);
    let ids = this.#byPrincipal.get(key);
    if (!ids) {
      ids = new Set();
      this.#byPrincipal.set(key, ids);
    }
    if (ids.size >= this.#perPrincipal) this.#evict(ids, now);
    const session: Session = {
      id: randomToken(),
      principal,
      csrf: randomToken(),
      lang,
      expires: now + this.#idleMs,
      hardExpires: now + this.#maxAgeMs,
      ...(extras.via ? { via: extras.via } : {}),
      ...(extras.label ? { label: extras.label } : {}),
    };
    this.#sessions.set(session.id, session);
    ids.add(session.id);
    return session;
  }

  async get(id: string | undefined): Promise<Session | undefined> {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = this.clock();
    if (now >= session.expires || now >= session.hardExpires) {
      this.#drop(id);
      return undefined;
    }
    session.expires = Math.min(now + this.#idleMs, session.hardExpires);
    return session;
  }

  async setLanguage(session: Session, lang: Language): Promise<void> {
    const kept = this.#sessions.get(session.id);
    if (kept) kept.lang = lang;
    session.lang = lang;
  }

  async destroy(id: string | undefined): Promise<void> {
    this.#drop(id);
  }

  #drop(id: string | undefined): void {
    const session = id ? this.#sessions.get(id) : undefined;
    if (!session) return;
    this.#sessions.delete(session.id);
    const key = principalKey(session.principal.name);
    const ids = this.#byPrincipal.get(key);
    ids?.delete(session.id);
    if (ids?.size === 0) this.#byPrincipal.delete(key);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Drops the principal's expired sessions; if none were, its oldest one. Never another principal's. */
  #evict(ids: Set<string>, now: number): void {
    for (const id of ids) {
      const s = this.#sessions.get(id);
      if (!s || now >= s.expires || now >= s.hardExpires) {
        ids.delete(id);
        this.#sessions.delete(id);
      }
    }
    if (ids.size >= this.#perPrincipal) {
      const oldest = ids.values().next();
      if (!oldest.done) {
        ids.delete(oldest.value);
        this.#sessions.delete(oldest.value);
      }
    }
  }
}
