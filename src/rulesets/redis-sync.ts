import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { metrics, type ObservableCallback } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import { fromDocument, type Ruleset, RulesetDocumentShape, toDocument } from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { Readiness } from "../kernel/runtime.js";
import { writeFileAtomic } from "../platform/node/atomic-file.js";
import { isUnavailable } from "../platform/node/redis.js";
import type { RedisKeys } from "../store/redis/keys.js";
import type { RulesetCompiler } from "./compiler.js";
import type { RulesetHolder } from "./holder.js";

export interface RulesetSyncOptions {
  /** Compiles after order changes here; its holder is what every check reads. */
  compiler: RulesetCompiler;
  /** Commands. Owned by the caller (not closed by `stop`). */
  redis: Redis;
  /** A dedicated connection for SUBSCRIBE (a subscribed connection can run no other command). */
  subscriber: Redis;
  keys: RedisKeys;
  /** The last ruleset on local disk, e.g. `<dataDir>/ruleset.json`. */
  localPath: string;
  /** Version poll, the fallback for lost messages. Default 5000. */
  pollMs?: number;
  /** How long `start` waits for a first connection before going on degraded. Default 2000. */
  connectWaitMs?: number;
  logger?: Logger;
  /** Epoch ms. */
  clock: () => number;
}

export interface RulesetSyncStatus {
  /**
   * Where the ruleset in force came from: Redis (received, or compiled here and stored there), the
   * local file, a compile of this instance that is not in Redis yet (`local`), or nothing yet.
   */
  source: "redis" | "disk" | "local" | "none";
  version: number;
  hash: string;
  /** The version Redis held at the last successful look; absent when it held none (or was never read). */
  redisVersion?: number;
  /** Both connections (commands and subscriber) are up. */
  connected: boolean;
  degraded: boolean;
  /** Why it is degraded, in words an operator can act on. */
  reason?: string;
  lastSyncAt?: string;
  lastError?: string;
}

const meter = metrics.getMeter("cordon");
const versionGauge = meter.createObservableGauge("cordon.ruleset.version", {
  description: "Version of the ruleset in force.",
});
const degradedGauge = meter.createObservableGauge("cordon.ruleset.degraded", {
  description: "1 while the instance cannot confirm its ruleset with Redis (down, slow, data lost), else 0.",
});
const installs = meter.createCounter("cordon.ruleset.installs", {
  description: "Rulesets installed, by source (redis, disk).",
});
const redisErrors = meter.createCounter("cordon.redis.errors", {
  description: "Failed Redis commands and connection errors, by component.",
});

/**
 * KEYS[1] document, KEYS[2] version; ARGV[1] version, ARGV[2] document, ARGV[3] channel.
 * Store and announce in one step: no crash or lost connection can leave a stored version unannounced,
 * and the version check and the write cannot interleave with another instance's publish.
 * Answers {1 if stored, the version held before (-1 for none)}.
 */
const PUBLISH_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[2])) or -1
local version = tonumber(ARGV[1])
if current >= version then return {0, current} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return {1, current}
`;

/** Parses and verifies a stored ruleset document (JSON, shape, hash, I1); throws on any doubt. */
export function parseRulesetDocument(text: string): Ruleset {
  return fromDocument(RulesetDocumentShape.parse(JSON.parse(text)));
}

export class RulesetSync {
  private readonly compiler: RulesetCompiler;
  private readonly holder: RulesetHolder;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly keys: RedisKeys;
  private readonly localPath: string;
  private readonly logger: Logger;
  private readonly clock: () => number;

  private stopped = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private syncing: Promise<void> | undefined;
  private again = false;
  /** Local file writes, one at a time, so a slow older write can never rename over a newer one. */
  private writes: Promise<void> = Promise.resolve();
  private writtenVersion = -1;

  private redisVersion: number | undefined;
  private lastSyncAt: string | undefined;
  private lastError: string | undefined;
  /** The last Redis operation failed (down, slow): cleared by the next successful sync. */
  private failing = false;
  /** Version of a compile of ours that could not be stored in Redis yet. */
  private unpublished: number | undefined;
  /** Redis holds a ruleset we refuse to install (unreadable, tampered). */
  private invalid: string | undefined;
  /** Redis holds an older ruleset than ours, or none (restarted with data lost). */
  private loss: string | undefined;

  private removeListener: (() => void) | undefined;
  private readonly observeVersion: ObservableCallback = (r) => r.observe(this.holder.current().version);
  private readonly observeDegraded: ObservableCallback = (r) => r.observe(this.reason() ? 1 : 0);
  private readonly onReady = () => void this.catchUp();
  private readonly onSubscriberReady = () => void this.subscribe().then(() => this.catchUp());
  private readonly onError = (err: unknown) => {
    // ioredis reports each failed (re)connection here; commands fail on their own as well.
    redisErrors.add(1, { component: "ruleset" });
    this.failing = true;
    this.lastError = `connection: ${message(err)}`;
  };
  private readonly onMessage = (channel: string, payload: string) => {
    if (channel !== this.keys.rulesetChannel) return;
    const version = Number(payload);
    if (!Number.isInteger(version) || version > this.holder.current().version) void this.catchUp();
  };

  private constructor(opts: RulesetSyncOptions) {
    this.compiler = opts.compiler;
    this.holder = opts.compiler.holder;
    this.redis = opts.redis;
    this.subscriber = opts.subscriber;
    this.keys = opts.keys;
    this.localPath = opts.localPath;
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.clock = opts.clock;
  }

  /**
   * Loads the local file, then catches up with Redis, then listens. Never fails for Redis: with Redis
   * down it returns (after at most `connectWaitMs`) enforcing the local ruleset, degraded.
   */
  static async start(opts: RulesetSyncOptions): Promise<RulesetSync> {
    const sync = new RulesetSync(opts);
    // A compile made before we were wired (the entry's first refresh) may never have reached Redis:
    // the first sync recompiles and publishes it unless Redis already holds that version.
    const installed = opts.compiler.holder.installed;
    if (installed?.source === "compile" && installed.version > 0) sync.unpublished = installed.version;
    sync.removeListener = opts.compiler.addCompiledListener((ruleset) => sync.publish(ruleset));
    versionGauge.addCallback(sync.observeVersion);
    degradedGauge.addCallback(sync.observeDegraded);

    // Error listeners first: a client that fails to connect while the file loads is an outage to
    // report, not an unhandled 'error' event. The others after, so Redis is only read once the file is in.
    sync.redis.on("error", sync.onError);
    sync.subscriber.on("error", sync.onError);
    await sync.loadLocal();
    sync.redis.on("ready", sync.onReady);
    sync.subscriber.on("ready", sync.onSubscriberReady);
    sync.subscriber.on("message", sync.onMessage);

    const wait = opts.connectWaitMs ?? 2000;
    await Promise.all([whenReady(sync.redis, wait), whenReady(sync.subscriber, wait)]);
    // Subscribe before the first version check, so a publish in between is not missed.
    await sync.subscribe();
    await sync.catchUp();
    sync.timer = setInterval(() => void sync.catchUp(), opts.pollMs ?? 5000);
    sync.timer.unref();
    return sync;
  }

  /**
   * Stores `ruleset` in Redis if it is newer than what Redis holds, and announces it. Called by
   * `compiler.refresh()` after every compile, and awaited there, so an order change is answered once
   * the other instances have been told.
   *
   * Redis unavailable does not fail the caller: the order change is already committed (order and audit
   * in one write) and enforced here, so a 5xx would report a failure that did not happen, and a retry
   * would get 409. Instead the ruleset is recompiled and published again on reconnect and every poll,
   * and until then the instance reports itself degraded. Any other error (a script error: a bug) throws.
   */
  async publish(ruleset: Ruleset): Promise<void> {
    if (this.stopped) return;
    const document = JSON.stringify(toDocument(ruleset));
    let stored: boolean;
    let previous: number;
    try {
      const reply = await this.redis.eval(
        PUBLISH_SCRIPT,
        2,
        this.keys.ruleset,
        this.keys.rulesetVersion,
        String(ruleset.version),
        document,
        this.keys.rulesetChannel,
      );
      [stored, previous] = parseScriptReply(reply);
    } catch (err) {
      this.fail(`publish v${ruleset.version}`, err);
      if (!isUnavailable(err)) throw err;
      this.unpublished = Math.max(this.unpublished ?? -1, ruleset.version);
      this.logger.warn("ruleset not stored in redis; retrying on reconnect and every poll", {
        version: ruleset.version,
        error: message(err),
      });
      if (this.holder.current() === ruleset) await this.persist(ruleset);
      return;
    }
    this.failing = false;
    this.redisVersion = stored ? ruleset.version : previous;
    if (this.unpublished !== undefined && this.unpublished <= this.redisVersion) this.unpublished = undefined;
    if (stored) {
      this.logger.info("ruleset published", { version: ruleset.version, hash: ruleset.hash, previous });
    } else if (previous > ruleset.version) {
      // A newer ruleset is out there, perhaps one whose message we have not seen yet.
      void this.catchUp();
    }
    if (this.holder.current() === ruleset) await this.persist(ruleset);
  }

  status(): RulesetSyncStatus {
    const ruleset = this.holder.current();
    const reason = this.reason();
    return {
      source: this.source(),
      version: ruleset.version,
      hash: ruleset.hash,
      ...(this.redisVersion !== undefined ? { redisVersion: this.redisVersion } : {}),
      connected: this.connected(),
      degraded: reason !== undefined,
      ...(reason !== undefined ? { reason } : {}),
      ...(this.lastSyncAt !== undefined ? { lastSyncAt: this.lastSyncAt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * For /readyz: ready as soon as a ruleset is in force, from Redis or from disk. Degraded is not
   * unready: an instance enforcing the last known orders during an outage should keep taking checks.
   */
  readiness(): Readiness {
    return { name: "ruleset-sync", ready: this.holder.isLoaded(), detail: { ...this.status() } };
  }

  /** Stops listening and polling and waits for work in flight. The clients stay open (the caller's). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.removeListener?.();
    versionGauge.removeCallback(this.observeVersion);
    degradedGauge.removeCallback(this.observeDegraded);
    this.redis.off("ready", this.onReady);
    this.redis.off("error", this.onError);
    this.subscriber.off("ready", this.onSubscriberReady);
    this.subscriber.off("error", this.onError);
    this.subscriber.off("message", this.onMessage);
    if (this.subscriber.status === "ready") {
      await this.subscriber.unsubscribe(this.keys.rulesetChannel).catch(() => undefined);
    }
    await this.syncing;
    await this.writes;
  }

  /** One sync at a time; requests while one runs fold into a single rerun (messages come in bursts). */
  private catchUp(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    const run = (async () => {
      do {
        this.again = false;
        try {
          await this.syncOnce();
        } catch (err) {
          this.logger.error("ruleset sync failed", { error: message(err) });
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.syncing = undefined;
    });
    this.syncing = run;
    return run;
  }

  private async syncOnce(): Promise<void> {
    let versionText: string | null;
    try {
      versionText = await this.redis.get(this.keys.rulesetVersion);
    } catch (err) {
      this.fail("read version", err);
      return;
    }
    const redisVersion = versionText === null ? undefined : Number(versionText);
    if (redisVersion !== undefined && !(Number.isInteger(redisVersion) && redisVersion >= 0)) {
      this.refuse(`redis holds an unreadable ruleset version ${JSON.stringify(versionText)}`);
      return;
    }
    // Not loaded yet: even a version-0 ruleset from Redis is news (an empty ruleset is still a ruleset).
    let received: Ruleset | undefined;
    const behind = redisVersion !== undefined && redisVersion > this.holder.current().version;
    if (behind || (redisVersion !== undefined && !this.holder.isLoaded())) {
      let text: string | null;
      try {
        text = await this.redis.get(this.keys.ruleset);
      } catch (err) {
        this.fail("read ruleset", err);
        return;
      }
      if (text === null) {
        this.refuse(`redis holds version ${redisVersion} but no ruleset document`);
        return;
      }
      try {
        received = parseRulesetDocument(text);
      } catch (err) {
        this.refuse(`redis holds an unreadable ruleset v${redisVersion}: ${message(err)}`);
        return;
      }
    }
    this.invalid = undefined;
    this.failing = false;
    // The document may be newer than the version read just before it (a publish in between), and its
    // message may already have been judged "not news" against what we hold once it is installed.
    this.redisVersion =
      redisVersion === undefined ? undefined : Math.max(redisVersion, received?.version ?? redisVersion);
    this.lastSyncAt = new Date(this.clock()).toISOString();
    if (received && this.holder.install(received, "redis")) {
      installs.add(1, { source: "redis" });
      this.logger.info("ruleset installed from redis", { version: received.version, hash: received.hash });
      await this.persist(received);
    }
    await this.retryPublish(this.redisVersion);
    this.checkLoss();
  }

  /**
   * A compile of ours that missed Redis is recompiled from the store rather than re-sent from memory:
   * the store is the truth, so what reaches Redis is never more than the store still holds (see
   * `checkLoss` for why that matters).
   */
  private async retryPublish(redisVersion: number | undefined): Promise<void> {
    if (this.unpublished === undefined) return;
    if (redisVersion !== undefined && redisVersion >= this.unpublished) {
      this.unpublished = undefined;
      return;
    }
    try {
      await this.compiler.refresh();
    } catch (err) {
      this.fail("recompile to publish", err);
    }
  }

  /**
   * Redis holding an older ruleset than ours, or none, means it lost data (restarted without its AOF,
   * flushed, failed over to a stale replica): our own unpublished compiles are handled above.
   *
   * Decision: keep enforcing ours and say so loudly; do not re-seed Redis with it.
   * - Keeping it: the orders behind it were approved and are still in force; dropping enforcement
   *   because a cache lost data would silently stop complying with legal orders.
   * - Not re-seeding: the orders and the audit chain are gone from Redis with the ruleset. A re-seeded
   *   ruleset would be enforcement with no order record behind it: responders could not see or withdraw
   *   those orders, and the audit trail (I7) would not explain the denials. And since the store's
   *   sequence restarts, a re-seeded vN would outrank every new compile (v1, v2, ...) in the
   *   compare-and-set, so new orders and withdrawals would never be distributed.
   * Restoring the orders (from a Redis backup, or re-entering them) is an operator's act; until then
   * this instance is degraded, with the versions in the reason, and logs one error per episode.
   */
  private checkLoss(): void {
    const ours = this.holder.current().version;
    const older = this.redisVersion === undefined || this.redisVersion < ours;
    if (this.unpublished !== undefined || !this.holder.isLoaded() || ours === 0 || !older) {
      this.loss = undefined;
      return;
    }
    const reason =
      this.redisVersion === undefined
        ? `redis holds no ruleset; v${ours} enforced here (data loss?)`
        : `redis holds ruleset v${this.redisVersion} older than v${ours} enforced here (data loss?)`;
    if (this.loss === undefined) {
      this.logger.error("redis ruleset is behind the one enforced here; keeping ours, not re-seeding", {
        redisVersion: this.redisVersion ?? null,
        version: ours,
        reason,
      });
    }
    this.loss = reason;
  }

  private async loadLocal(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.localPath, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        this.logger.error("local ruleset file unreadable; ignored", {
          path: this.localPath,
          error: message(err),
        });
      }
      return;
    }
    let ruleset: Ruleset;
    try {
      ruleset = parseRulesetDocument(text);
    } catch (err) {
      // Left in place (evidence), and replaced by the next install.
      this.logger.error("local ruleset file corrupt or tampered; ignored", {
        path: this.localPath,
        error: message(err),
      });
      return;
    }
    this.writtenVersion = ruleset.version;
    if (this.holder.install(ruleset, "disk")) {
      installs.add(1, { source: "disk" });
      this.logger.info("ruleset installed from local file", {
        version: ruleset.version,
        path: this.localPath,
      });
    }
  }

  /** Written atomically: a crash leaves the old file or the new one, never half of one. */
  private persist(ruleset: Ruleset): Promise<void> {
    const run = this.writes.then(async () => {
      if (ruleset.version < this.writtenVersion) return;
      try {
        await mkdir(dirname(this.localPath), { recursive: true });
        await writeFileAtomic(this.localPath, JSON.stringify(toDocument(ruleset)));
        this.writtenVersion = ruleset.version;
      } catch (err) {
        // The ruleset is in force regardless; only a restart during an outage would miss it.
        this.lastError = `write ${this.localPath}: ${message(err)}`;
        this.logger.error("could not write the local ruleset file", {
          path: this.localPath,
          error: message(err),
        });
      }
    });
    this.writes = run;
    return run;
  }

  private async subscribe(): Promise<void> {
    if (this.stopped || this.subscriber.status !== "ready") return;
    try {
      await this.subscriber.subscribe(this.keys.rulesetChannel);
    } catch (err) {
      // The next 'ready' subscribes again; the poll covers the gap.
      this.fail("subscribe", err);
    }
  }

  private fail(what: string, err: unknown): void {
    redisErrors.add(1, { component: "ruleset" });
    if (!isUnavailable(err)) {
      this.logger.error("ruleset redis operation failed", { what, error: message(err) });
    } else if (!this.failing) {
      // Once per outage: the poll would otherwise log every few seconds while Redis is away.
      this.logger.warn("redis unavailable for rulesets; enforcing the last ruleset", {
        what,
        version: this.holder.current().version,
        error: message(err),
      });
    }
    this.failing = true;
    this.lastError = `${what}: ${message(err)}`;
  }

  private refuse(reason: string): void {
    redisErrors.add(1, { component: "ruleset" });
    if (this.invalid !== reason) this.logger.error("ruleset in redis refused; keeping ours", { reason });
    this.invalid = reason;
    this.failing = false;
    this.lastError = reason;
    this.lastSyncAt = new Date(this.clock()).toISOString();
  }

  private connected(): boolean {
    return this.redis.status === "ready" && this.subscriber.status === "ready";
  }

  private source(): RulesetSyncStatus["source"] {
    const installed = this.holder.installed;
    if (!installed) return "none";
    if (installed.source === "redis" || installed.source === "disk") return installed.source;
    return this.redisVersion === installed.version ? "redis" : "local";
  }

  private reason(): string | undefined {
    const ruleset = this.holder.current();
    if (this.failing || !this.connected()) {
      const why = this.lastError ?? `connection ${this.redis.status}/${this.subscriber.status}`;
      return `redis unavailable (${why}); enforcing ruleset v${ruleset.version} from ${this.source()}`;
    }
    if (this.unpublished !== undefined) {
      return `ruleset v${this.unpublished} compiled here is not stored in redis yet (retrying)`;
    }
    if (this.invalid !== undefined) return this.invalid;
    if (this.loss !== undefined) return this.loss;
    if (this.lastSyncAt === undefined) return "not synced with redis yet";
    return undefined;
  }
}

function parseScriptReply(reply: unknown): [stored: boolean, previous: number] {
  if (Array.isArray(reply) && typeof reply[0] === "number" && typeof reply[1] === "number") {
    return [reply[0] === 1, reply[1]];
  }
  throw new Error(`unexpected reply from the ruleset publish script: ${JSON.stringify(reply)}`);
}

/** Resolves when the client is ready, fails to connect, or after `ms`: never rejects. */
function whenReady(client: Redis, ms: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off("ready", done);
      client.off("error", done);
      client.off("end", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.on("ready", done);
    client.on("error", done);
    client.on("end", done);
  });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
