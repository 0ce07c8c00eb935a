/**
 * Console sessions in Redis (REDIS_URL): a session signed in on one instance is served by every other,
 * and outlives a restart of any of them. The same timeouts and cap as the in-memory store
 * (`console/session.ts`).
 *
 * What is kept, one HASH per session (`keys.sessions.session`): the principal's name and role, the
 * language, the CSRF token, how it signed in and its label (an OIDC user's email or name), and created / last-seen / absolute-deadline times. Never the bearer token
 * the user signed in with (it is checked once, at sign-in).
 *
 * The key is the SHA-256 of the session id, never the id: a Redis dump, a `MONITOR` or a replica's copy
 * does not hand out live sessions (the cookie value cannot be recovered from its hash). The id is 256
 * random bits, so an unsalted hash cannot be searched backwards either.
 *
 * Expiry: `PEXPIRE` with the idle timeout (capped at the absolute deadline) drops an unused session in
 * Redis by itself; every read also checks the stored times against the store's clock, so a session is
 * refused at exactly `IDLE_MS` unused or `MAX_AGE_MS` after sign-in, and tests can fix the clock.
 *
 * The cap: a ZSET per principal (`principalKey`, so `Bob` and `bob` share it) of its sessions' hashes,
 * by creation order. Creating a session runs in one script: drop the principal's expired sessions, then
 * its oldest while it holds `perPrincipal`, then add the new one. Only the signing-in principal's
 * sessions are touched, so no user can sign another out. The keys share the low-volume hash tag, so the
 * scripts run on one slot of a Redis Cluster (the creation script also names the principal's other
 * session keys from the ZSET's members: same tag, same slot).
 */
import { createHash } from "node:crypto";
import { isLanguage, type Language } from "../../i18n/language.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import { type Principal, principalKey, ROLES, type Role } from "../../kernel/roles.js";
import type { RedisClient } from "../../platform/node/redis.js";
import {
  IDLE_MS,
  MAX_AGE_MS,
  SESSIONS_PER_PRINCIPAL,
  type Session,
  type SessionExtras,
  type SessionStore,
  type SessionTimeouts,
} from "../sessions.js";
import type { SessionKeys } from "./keys.js";

/** The Redis key's name for a session id: SHA-256, hex. Exported for the tests that look for it. */
export function sessionIdHash(id: string): string {
  return createHash("sha256").update(id).digest("hex");
}

// KEYS: the principal's ZSET, the new session's HASH, the creation counter.
// ARGV: now, idle ms, cap, session key prefix, id hash, name, role, lang, csrf, absolute deadline, ttl ms,
// the ZSET's ttl ms, how it signed in ('' for a token), its label ('' for none).
// The principal's other sessions are read and deleted by names built from ARGV[4] and the ZSET's members,
// not declared in KEYS (their number is only known inside the script). On Redis Cluster that is sound
// only because `sessionPrefix` carries the hash tag of KEYS (keys.ts): they are in the script's slot. A
// prefix without it would make Redis refuse the script there (a key outside its slot), not corrupt anything.
const CREATE = `
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[4] .. member
  local times = redis.call('HMGET', key, 'seen', 'hard')
  if not times[1] or now >= tonumber(times[2]) or now >= tonumber(times[1]) + idle then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], member)
  end
end
while redis.call('ZCARD', KEYS[1]) >= cap do
  local oldest = redis.call('ZPOPMIN', KEYS[1])
  redis.call('DEL', ARGV[4] .. oldest[1])
end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], 'name', ARGV[6], 'role', ARGV[7], 'lang', ARGV[8], 'csrf', ARGV[9],
  'created', ARGV[1], 'seen', ARGV[1], 'hard', ARGV[10], 'via', ARGV[13], 'label', ARGV[14])
redis.call('PEXPIRE', KEYS[2], ARGV[11])
redis.call('ZADD', KEYS[1], seq, ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[12])
return seq
`;

// KEYS: the session's HASH. ARGV: now, idle ms. The session's fields, or nil once it has expired.
const TOUCH = `
local v = redis.call('HMGET', KEYS[1], 'name', 'role', 'lang', 'csrf', 'seen', 'hard', 'via', 'label')
if not v[1] then return false end
local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[2])
local hard = tonumber(v[6])
if now >= hard or now >= tonumber(v[5]) + idle then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.max(1, math.min(idle, hard - now)))
return v
`;

// KEYS: the session's HASH. ARGV: the language. Never recreates a session that has just ended.
const SET_LANGUAGE = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lang', ARGV[1]) end
return 1
`;

export interface RedisSessionStoreOptions extends SessionTimeouts {
  redis: RedisClient;
  keys: SessionKeys;
  clock: () => number;
}

export class RedisSessionStore implements SessionStore<Language> {
  readonly #redis: RedisClient;
  readonly #keys: SessionKeys;
  readonly #clock: () => number;
  readonly #perPrincipal: number;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;

  constructor(opts: RedisSessionStoreOptions) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#clock = opts.clock;
    this.#perPrincipal = opts.perPrincipal ?? SESSIONS_PER_PRINCIPAL;
    this.#idleMs = opts.idleMs ?? IDLE_MS;
    this.#maxAgeMs = opts.maxAgeMs ?? MAX_AGE_MS;
  }

  async create(principal: Principal, lang: Language, extras: SessionExtras = {}): Promise<Session<Language>> {
    const now = this.#clock();
    const id = randomId();
    const csrf = randomId();
    const hardExpires = now + this.#maxAgeMs;
    const hash = sessionIdHash(id);
    await this.#call("create", () =>
      this.#redis.eval(
        CREATE,
        3,
        this.#keys.byPrincipal(principalKey(principal.name)),
        this.#keys.session(hash),
        this.#keys.seq,
        String(now),
        String(this.#idleMs),
        String(this.#perPrincipal),
        this.#keys.sessionPrefix,
        hash,
        principal.name,
        principal.role,
        lang,
        csrf,
        String(hardExpires),
        String(Math.max(1, Math.min(this.#idleMs, this.#maxAgeMs))),
        String(this.#maxAgeMs),
        extras.via ?? "",
        extras.label ?? "",
      ),
    );
    return {
      id,
      principal,
      csrf,
      lang,
      expires: Math.min(now + this.#idleMs, hardExpires),
      hardExpires,
      ...(extras.via ? { via: extras.via } : {}),
      ...(extras.label ? { label: extras.label } : {}),
    };
  }

  async get(id: string | undefined): Promise<Session<Language> | undefined> {
    if (!id) return undefined;
    const now = this.#clock();
    const reply = (await this.#call("get", () =>
      this.#redis.eval(TOUCH, 1, this.#keys.session(sessionIdHash(id)), String(now), String(this.#idleMs)),
    )) as (string | null)[] | null;
    if (!reply) return undefined;
    const [name, role, lang, csrf, , hard, via, label] = reply;
    // A hash another version wrote, or one edited by hand: no session rather than a wrong one.
    if (!name || !isRole(role) || !isLanguage(lang) || !csrf || !hard) return undefined;
    const hardExpires = Number(hard);
    return {
      id,
      principal: { name, role },
      csrf,
      lang,
      expires: Math.min(now + this.#idleMs, hardExpires),
      hardExpires,
      ...(via === "oidc" ? { via } : {}),
      ...(label ? { label } : {}),
    };
  }

  async setLanguage(session: Session<Language>, lang: Language): Promise<void> {
    session.lang = lang;
    await this.#call("set language", () =>
      this.#redis.eval(SET_LANGUAGE, 1, this.#keys.session(sessionIdHash(session.id)), lang),
    );
  }

  async destroy(id: string | undefined): Promise<void> {
    if (!id) return;
    const hash = sessionIdHash(id);
    const key = this.#keys.session(hash);
    await this.#call("destroy", async () => {
      const name = await this.#redis.hget(key, "name");
      const tx = this.#redis.multi().del(key);
      if (name) tx.zrem(this.#keys.byPrincipal(principalKey(name)), hash);
      await tx.exec();
    });
  }

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new StoreUnavailableError(`redis session store: ${what}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

const isRole = (value: unknown): value is Role => ROLES.some((r) => r === value);

/** 32 random bytes, base64url (256 bits): session ids and CSRF tokens. */
function randomId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}
