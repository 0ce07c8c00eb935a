/**
 * Console sessions, as the stores that keep them see them: the console's `MemorySessionStore`
 * (embedded mode) and `store/redis/session-store.ts` (REDIS_URL). Here, below both, so the Redis store
 * and the services need not import the console. The language is a type parameter: this layer knows no
 * languages (the console's `Session` is `Session<Language>`). Embedded mode keeps them in a file of the
 * data directory (`store/file/session-store.ts`), so a restart signs no one out.
 */
import type { Principal } from "../kernel/roles.js";

export interface Session<L extends string = string> {
  id: string;
  principal: Principal;
  csrf: string;
  lang: L;
  /** Epoch ms; idle expiry, pushed forward on use. */
  expires: number;
  /** Epoch ms; absolute expiry, never pushed. */
  hardExpires: number;
  /**
   * How the session was signed in: `oidc` through the OpenID Connect provider (its role from the
   * claims at sign-in), absent with an API token.
   */
  via?: "oidc";
  /** What the pages show for the principal (an OIDC user's email or name); absent: its name. */
  label?: string;
}

/** What a sign-in adds to a session besides the principal and language. */
export type SessionExtras = Pick<Session, "via" | "label">;

/** Idle expiry: a session unused this long ends. */
export const IDLE_MS = 30 * 60_000;
/** Absolute expiry: a session ends this long after sign-in, used or not. */
export const MAX_AGE_MS = 12 * 60 * 60_000;
/** Sessions one principal may hold at once (browsers, devices, colleagues sharing a role's token). */
export const SESSIONS_PER_PRINCIPAL = 20;

/** Where console sessions live. Async: the Redis store answers over the network. */
export interface SessionStore<L extends string = string> {
  /** A new session for `principal`; ends that principal's oldest one if it holds `perPrincipal` already. */
  create(principal: Principal, lang: L, extras?: SessionExtras): Promise<Session<L>>;
  /** The live session of this cookie value, its idle expiry pushed forward; undefined once expired. */
  get(id: string | undefined): Promise<Session<L> | undefined>;
  /** Keeps the language the user picked (`?lang=`) for the rest of the session. */
  setLanguage(session: Session<L>, lang: L): Promise<void>;
  destroy(id: string | undefined): Promise<void>;
}

export interface SessionTimeouts {
  /** Sessions one principal may hold at once; default `SESSIONS_PER_PRINCIPAL`. */
  perPrincipal?: number;
  /** Default `IDLE_MS`. */
  idleMs?: number;
  /** Default `MAX_AGE_MS`. */
  maxAgeMs?: number;
}
