/**
 * Console sessions in embedded mode, kept in the data directory (`sessions.json`), so a restart signs no
 * one out. The same timeouts and per-principal cap as the other stores (`store/sessions.ts`).
 *
 * What is kept: per session, the SHA-256 of its id (never the id: a copy of the data directory or a
 * backup does not hand out live sessions; the id is 256 random bits, so its unsalted hash cannot be
 * searched backwards), the principal's name and role, its label and how it signed in, the language, the
 * CSRF token, and the last-use and absolute-deadline times. Never a bearer token or an OIDC token.
 *
 * Writes: the whole table, atomically (temporary file, rename), mode 0600, after every sign-in, sign-out
 * and language change. A use only pushes the idle expiry forward, so it is written within
 * `TOUCH_FLUSH_MS` (and at `close`), not at every page view; a crash loses at most that much of a
 * session's idle time. With `CORDON_WORKERS` > 1 worker 0 alone serves the console, so one process owns
 * the file. An unreadable or foreign file starts an empty table (everyone signs in again) and is logged;
 * it never stops the server.
 */
import { createHash } from "node:crypto";
import { isLanguage, type Language } from "../../i18n/language.js";
import type { Logger } from "../../kernel/logger.js";
import { type Principal, principalKey, ROLES, type Role } from "../../kernel/roles.js";
import { readFileIfExists, writeFileAtomic } from "../../platform/node/atomic-file.js";
import {
  IDLE_MS,
  MAX_AGE_MS,
  SESSIONS_PER_PRINCIPAL,
  type Session,
  type SessionExtras,
  type SessionStore,
  type SessionTimeouts,
} from "../sessions.js";

/** A use is written to disk within this long. */
export const TOUCH_FLUSH_MS = 5_000;

const FORMAT = 1;

/** What the file holds of one session, under the hash of its id. */
interface Kept {
  name: string;
  role: Role;
  lang: Language;
  csrf: string;
  /** Epoch ms of the last use (idle expiry is `seen + idle`, capped at `hard`). */
  seen: number;
  hard: number;
  via?: "oidc";
  label?: string;
}

/** The file name of a session id: SHA-256, hex (as the Redis store keys it). */
export function sessionIdHash(id: string): string {
  return createHash("sha256").update(id).digest("hex");
}

export interface FileSessionStoreOptions extends SessionTimeouts {
  clock: () => number;
  logger?: Logger;
}

export class FileSessionStore implements SessionStore<Language> {
  // Long-lived: one per server. Insertion order is creation order, so the first of a principal is its oldest.
  readonly #sessions = new Map<string, Kept>();
  readonly #path: string;
  readonly #clock: () => number;
  readonly #logger: Logger | undefined;
  readonly #perPrincipal: number;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  /** Writes run one after another; the last one always writes the table as it is by then. */
  #writing: Promise<void> = Promise.resolve();
  #touchTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** An empty store writing to `path`; `open` reads what a previous run left there first. */
  constructor(path: string, opts: FileSessionStoreOptions) {
    this.#path = path;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#perPrincipal = opts.perPrincipal ?? SESSIONS_PER_PRINCIPAL;
    this.#idleMs = opts.idleMs ?? IDLE_MS;
    this.#maxAgeMs = opts.maxAgeMs ?? MAX_AGE_MS;
  }

  static async open(path: string, opts: FileSessionStoreOptions): Promise<FileSessionStore> {
    const store = new FileSessionStore(path, opts);
    await store.#load();
    return store;
  }

  async create(principal: Principal, lang: Language, extras: SessionExtras = {}): Promise<Session<Language>> {
    const now = this.#clock();
    this.#evict(principalKey(principal.name), now);
    const id = randomId();
    const kept: Kept = {
      name: principal.name,
      role: principal.role,
      lang,
      csrf: randomId(),
      seen: now,
      hard: now + this.#maxAgeMs,
      ...(extras.via ? { via: extras.via } : {}),
      ...(extras.label ? { label: extras.label } : {}),
    };
    this.#sessions.set(sessionIdHash(id), kept);
    await this.#write();
    return this.#session(id, kept, now);
  }

  async get(id: string | undefined): Promise<Session<Language> | undefined> {
    if (!id) return undefined;
    const hash = sessionIdHash(id);
    const kept = this.#sessions.get(hash);
    if (!kept) return undefined;
    const now = this.#clock();
    if (this.#expired(kept, now)) {
      this.#sessions.delete(hash);
      await this.#write();
      return undefined;
    }
    kept.seen = now;
    this.#scheduleTouch();
    return this.#session(id, kept, now);
  }

  async setLanguage(session: Session<Language>, lang: Language): Promise<void> {
    session.lang = lang;
    const kept = this.#sessions.get(sessionIdHash(session.id));
    if (!kept) return;
    kept.lang = lang;
    await this.#write();
  }

  async destroy(id: string | undefined): Promise<void> {
    if (!id || !this.#sessions.delete(sessionIdHash(id))) return;
    await this.#write();
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Writes what is pending (a use not yet on disk); later changes are kept in memory only. */
  async close(): Promise<void> {
    if (this.#touchTimer) clearTimeout(this.#touchTimer);
    this.#touchTimer = undefined;
    await this.#write();
    this.#closed = true;
  }

  #session(id: string, kept: Kept, now: number): Session<Language> {
    return {
      id,
      principal: { name: kept.name, role: kept.role },
      csrf: kept.csrf,
      lang: kept.lang,
      expires: Math.min(now + this.#idleMs, kept.hard),
      hardExpires: kept.hard,
      ...(kept.via ? { via: kept.via } : {}),
      ...(kept.label ? { label: kept.label } : {}),
    };
  }

  #expired(kept: Kept, now: number): boolean {
    return now >= kept.hard || now >= kept.seen + this.#idleMs;
  }

  /** Drops the principal's expired sessions; if it still holds its cap, its oldest. Never another's. */
  #evict(key: string, now: number): void {
    const mine: string[] = [];
    for (const [hash, kept] of this.#sessions) {
      if (principalKey(kept.name) !== key) continue;
      if (this.#expired(kept, now)) this.#sessions.delete(hash);
      else mine.push(hash);
    }
    while (mine.length >= this.#perPrincipal) this.#sessions.delete(mine.shift() as string);
  }

  #scheduleTouch(): void {
    if (this.#touchTimer || this.#closed) return;
    this.#touchTimer = setTimeout(() => {
      this.#touchTimer = undefined;
      void this.#write();
    }, TOUCH_FLUSH_MS);
    this.#touchTimer.unref?.();
  }

  /** Queues a write of the whole table; resolves once a write that includes every change so far is done. */
  #write(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const next = this.#writing.then(async () => {
      const now = this.#clock();
      const sessions: Record<string, Kept> = {};
      for (const [hash, kept] of this.#sessions) if (!this.#expired(kept, now)) sessions[hash] = kept;
      try {
        await writeFileAtomic(this.#path, JSON.stringify({ format: FORMAT, sessions }), { mode: 0o600 });
      } catch (err) {
        // Sessions still work from memory; only a restart would sign these out.
        this.#logger?.error("console sessions not saved", {
          path: this.#path,
          error: (err as Error).message,
        });
      }
    });
    this.#writing = next;
    return next;
  }

  async #load(): Promise<void> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.#path);
    } catch (err) {
      this.#logger?.warn("console sessions not read: everyone signs in again", {
        path: this.#path,
        error: (err as Error).message,
      });
      return;
    }
    if (text === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const table = parsed as { format?: unknown; sessions?: unknown } | undefined;
    if (!table || table.format !== FORMAT || typeof table.sessions !== "object" || !table.sessions) {
      this.#logger?.warn("console sessions file not understood: everyone signs in again", {
        path: this.#path,
      });
      return;
    }
    const now = this.#clock();
    for (const [hash, value] of Object.entries(table.sessions as Record<string, unknown>)) {
      const kept = keptOf(value);
      // A hash another version wrote, or one edited by hand: no session rather than a wrong one.
      if (!/^[0-9a-f]{64}$/.test(hash) || !kept || this.#expired(kept, now)) continue;
      this.#sessions.set(hash, kept);
    }
  }
}

function keptOf(value: unknown): Kept | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { name, role, lang, csrf, seen, hard, via, label } = v;
  if (typeof name !== "string" || !name || !isRole(role) || !isLanguage(lang)) return undefined;
  if (typeof csrf !== "string" || !csrf || typeof seen !== "number" || typeof hard !== "number") {
    return undefined;
  }
  return {
    name,
    role,
    lang,
    csrf,
    seen,
    hard,
    ...(via === "oidc" ? { via } : {}),
    ...(typeof label === "string" && label ? { label } : {}),
  };
}

const isRole = (value: unknown): value is Role => ROLES.some((r) => r === value);

/** 32 random bytes, base64url (256 bits): session ids and CSRF tokens. */
function randomId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}
