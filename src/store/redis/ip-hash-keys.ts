/**
 * The per-period IP-hash keys in Redis (I6), shared by every instance. A key is kept wrapped with
 * AES-256-GCM under a key derived from CORDON_IP_HASH_KEY (HKDF-SHA-256), the period's name as
 * associated data: RedisClient, its AOF and its backups alone do not hold a usable key, and a wrapped key
 * cannot be moved to another period. Created inside one script (tombstone checked, then the first
 * writer wins, as SET NX), destroyed inside one (tombstone written, key deleted), on the low-volume
 * hash tag. Each instance also keeps the wrapped copies it loaded in its data directory (the mirror), so
 * it can start and seal while Redis is down, and so a Redis that lost its data gets the same key back.
 */

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { mkdir, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import { readFileIfExists, writeFileAtomic } from "../../platform/node/atomic-file.js";
import { isUnavailable, nodeFor, type RedisClient } from "../../platform/node/redis.js";
import { parsePeriod } from "../../report/periods.js";
import {
  assertKeyPeriod,
  type IpHashKeyStore,
  LATE_SEAL_MS,
  type ObtainedKey,
  PERIOD_KEY_BYTES,
  PeriodKeyDestroyedError,
} from "../ip-hash-keys.js";
import type { RedisKeys } from "./keys.js";

/** KEYS: key, tombstone. ARGV: the wrapped candidate. The tombstone wins; then the first key stored. */
const OBTAIN = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {'destroyed'} end
local stored = redis.call('GET', KEYS[1])
if stored then return {'existing', stored} end
redis.call('SET', KEYS[1], ARGV[1])
return {'created', ARGV[1]}
`;

/** KEYS: key, tombstone. ARGV: when. The tombstone and the deletion in one step. */
const DESTROY = `
redis.call('SET', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
`;

const WRAP_VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface RedisIpHashKeyStoreOptions {
  redis: RedisClient;
  keys: Pick<RedisKeys, "ipHashKey" | "ipHashKeyDestroyed">;
  /** CORDON_IP_HASH_KEY's bytes: what the wrapping key is derived from. */
  masterKey: Uint8Array;
  /** Where this instance mirrors the wrapped keys it loaded (`<data dir>/ip-hash-keys`). */
  mirrorDir: string;
  clock: () => number;
  logger: Logger;
}

export class RedisIpHashKeyStore implements IpHashKeyStore {
  readonly #redis: RedisClient;
  readonly #keys: RedisIpHashKeyStoreOptions["keys"];
  readonly #wrapKey: Buffer;
  readonly #mirror: string;
  readonly #clock: () => number;
  readonly #logger: Logger;
  /** One operation at a time: concurrent ones would race on the same mirror file. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: RedisIpHashKeyStoreOptions) {
    this.#redis = options.redis;
    this.#keys = options.keys;
    this.#wrapKey = Buffer.from(
      hkdfSync("sha256", options.masterKey, "cordon", "cordon ip-hash period key wrap v1", 32),
    );
    this.#mirror = options.mirrorDir;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  static async open(options: RedisIpHashKeyStoreOptions): Promise<RedisIpHashKeyStore> {
    await mkdir(options.mirrorDir, { recursive: true, mode: 0o700 });
    const store = new RedisIpHashKeyStore(options);
    await store.#prune();
    return store;
  }

  async obtain(period: string, candidate?: Uint8Array): Promise<ObtainedKey> {
    assertKeyPeriod(period);
    return this.#serially(() => this.#obtain(period, candidate));
  }

  async destroy(period: string): Promise<void> {
    assertKeyPeriod(period);
    return this.#serially(() => this.#destroy(period));
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #obtain(period: string, candidate: Uint8Array | undefined): Promise<ObtainedKey> {
    const mirrored = await this.#readMirror(period);
    // The key held in memory, else the mirrored one, else a new one: a Redis that lost the key gets
    // back the one the records were sealed with, rather than a second key that splits the period.
    const offered = candidate
      ? this.#wrap(period, Buffer.from(candidate))
      : (mirrored?.wrapped ?? this.#wrap(period, randomBytes(PERIOD_KEY_BYTES)));
    let reply: [string, string?];
    try {
      reply = (await this.#redis.eval(
        OBTAIN,
        2,
        this.#keys.ipHashKey(period),
        this.#keys.ipHashKeyDestroyed(period),
        offered,
      )) as [string, string?];
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      // Redis is away: the mirrored copy lets this instance go on sealing (or start) meanwhile.
      if (mirrored) return { key: mirrored.key, created: false };
      throw new StoreUnavailableError(`redis: the IP-hash key of ${period} cannot be read`, { cause: err });
    } finally {
      await this.#prune();
    }
    if (reply[0] === "destroyed") {
      await this.#removeMirror(period);
      throw new PeriodKeyDestroyedError(period);
    }
    const wrapped = reply[1] as string;
    const key = this.#unwrap(period, wrapped);
    if (reply[0] === "created" && !candidate && mirrored?.wrapped === wrapped) {
      this.#logger.error("ip-hash key had vanished from RedisClient; restored from this instance's mirror", {
        period,
      });
    }
    if (mirrored?.wrapped !== wrapped) {
      await writeFileAtomic(this.#mirrorPath(period), `${wrapped}\n`, { mode: 0o600 });
    }
    return { key, created: reply[0] === "created" };
  }

  async #destroy(period: string): Promise<void> {
    await this.#redis.eval(
      DESTROY,
      2,
      this.#keys.ipHashKey(period),
      this.#keys.ipHashKeyDestroyed(period),
      new Date(this.#clock()).toISOString(),
    );
    await this.#removeMirror(period);
    await this.#rewriteAof(period);
  }

  /**
   * The AOF still holds the SET that stored the wrapped key until the file is next rewritten: ask for
   * the rewrite now rather than at Redis's next automatic one. A rewrite already running began before
   * the DEL and may still write the key, so another one is asked for once it ends (in the background:
   * finalizing does not wait for it). RDB snapshots, replicas' files and backups taken before the
   * destruction keep the wrapped key until they are replaced; they are only usable together with
   * CORDON_IP_HASH_KEY. A Redis that refuses BGREWRITEAOF (renamed or forbidden on a managed service)
   * is logged, not an error: the key is deleted either way.
   */
  async #rewriteAof(period: string): Promise<void> {
    const fail = (err: unknown) =>
      this.#logger.warn("ip-hash key destroyed, but the AOF rewrite could not be started", {
        period,
        error: err instanceof Error ? err.message : String(err),
      });
    let node: Redis;
    try {
      // On a cluster, the master that held the key: its AOF has the SET, the other masters' never did.
      node = await nodeFor(this.#redis, this.#keys.ipHashKey(period));
      const info = await node.info("persistence");
      if (!/^aof_enabled:1\b/m.test(info)) return;
      if (await startRewrite(node)) return;
    } catch (err) {
      fail(err);
      return;
    }
    void (async () => {
      for (let i = 0; i < 600; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (await startRewrite(node)) return;
      }
      throw new Error("an AOF rewrite was still running after a minute");
    })().catch(fail);
  }

  #wrap(period: string, key: Buffer): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#wrapKey, iv);
    cipher.setAAD(Buffer.from(period, "utf8"));
    const body = Buffer.concat([cipher.update(key), cipher.final()]);
    return `${WRAP_VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  #unwrap(period: string, wrapped: string): Buffer {
    const [version, encoded] = wrapped.split(":");
    const raw = Buffer.from(encoded ?? "", "base64");
    if (version !== WRAP_VERSION || raw.length !== IV_BYTES + TAG_BYTES + PERIOD_KEY_BYTES) {
      throw new Error(`the IP-hash key of ${period} in Redis is not a wrapped key`);
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#wrapKey, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(period, "utf8"));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch (err) {
      throw new Error(
        `the IP-hash key of ${period} does not open with CORDON_IP_HASH_KEY: the instances' keys differ, or the value was altered`,
        { cause: err },
      );
    }
  }

  async #readMirror(period: string): Promise<{ wrapped: string; key: Buffer } | undefined> {
    const text = await readFileIfExists(this.#mirrorPath(period));
    if (text === undefined) return undefined;
    const wrapped = text.trim();
    return { wrapped, key: this.#unwrap(period, wrapped) };
  }

  async #removeMirror(period: string): Promise<void> {
    await unlink(this.#mirrorPath(period)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }

  /**
   * Mirrored copies live only while their period may still get records (its end plus the late-record
   * window): by the time the half-year can be finalized, no running instance holds one on disk.
   */
  async #prune(): Promise<void> {
    const now = this.#clock();
    for (const name of await readdir(this.#mirror)) {
      const period = /^ip-hash-(\d{4}-H[12])\.wrapped$/.exec(name)?.[1];
      const ends = period === undefined ? undefined : parsePeriod(period)?.end;
      if (ends !== undefined && now >= ends + LATE_SEAL_MS) await this.#removeMirror(period as string);
    }
  }

  #mirrorPath(period: string): string {
    return join(this.#mirror, `ip-hash-${period}.wrapped`);
  }
}

/** False while another rewrite runs (Redis refuses a second one then). */
async function startRewrite(node: Redis): Promise<boolean> {
  try {
    await node.bgrewriteaof();
    return true;
  } catch (err) {
    if (err instanceof Error && /already in progress/i.test(err.message)) return false;
    throw err;
  }
}
