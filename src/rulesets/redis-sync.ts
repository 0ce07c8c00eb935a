/**
 * `RulesetSync`: keeps the ruleset in force the same on every instance of a Redis deployment. A compile
 * here is stored in Redis if newer and announced; an announcement (or the version poll, or a reconnect)
 * makes the others fetch and install it; each instance mirrors what it enforces on local disk and starts
 * from that mirror. This module is the state machine only: Redis is behind `RulesetChannel`
 * (redis-channel.ts) and the disk behind `RulesetMirror` (disk-mirror.ts).
 */
import { metrics, type ObservableCallback } from "@opentelemetry/api";
import type { Ruleset } from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { Readiness } from "../kernel/runtime.js";
import type { RulesetCompiler } from "./compiler.js";
import type { RulesetHolder } from "./holder.js";
import { applyRulesetDelta, rulesetDeltaJson } from "./ruleset-json.js";

/**
 * The largest delta stored (about 800 changed orders); a larger change is stored as the whole document,
 * which empties the stream. With the chain's bounds (redis-channel.ts) this keeps the deltas in Redis's
 * memory well below the document's size.
 */
const DELTA_MAX_CHARS = 256 * 1024;

/** A Redis read that failed (and was recorded as such). */
const FAILED: unique symbol = Symbol("failed");

/** What a channel tells the sync. */
export interface ChannelEvents {
  /** A connection failed or dropped (each failed reconnection attempt too). */
  error(err: unknown): void;
  /** The commands connection is (again) up. */
  ready(): void;
  /** The subscriber connection is (again) up: subscriptions are to be made again. */
  subscriberReady(): void;
  /** An announcement: the payload is the version published. */
  message(payload: string): void;
}

/** Where rulesets are shared between instances (Redis: redis-channel.ts). */
export interface RulesetChannel {
  /**
   * Stores `version` of `epoch` if what is held is older in that epoch, of another epoch, or nothing,
   * and announces it, atomically; never a ruleset of an epoch that is not the history's. Without a
   * `document`, the delta alone (O(changed)), which the channel may refuse (`needsDocument`).
   */
  publish(request: PublishRequest): Promise<PublishReply>;
  /**
   * Replaces the document held with `ruleset`'s, sent in pieces with `pace` awaited between them (it
   * may throw to stop), if it is still a version the deltas lead on from; resolves to whether it did.
   */
  storeDocument(ruleset: Ruleset, pace: () => Promise<void>): Promise<boolean>;
  /** Asks for a newer document: the deltas after the one held do not lead to the version in force. */
  requestDocument(): Promise<void>;
  /** Whether an instance asked for a newer document since one was last stored. */
  documentWanted(): Promise<boolean>;
  /**
   * The version held, its epoch, and the version of the document held (null for none: then it is the
   * version held, as releases before the deltas stored it).
   */
  readVersion(): Promise<{ version: string | null; epoch: string | null; documentVersion: string | null }>;
  /**
   * The document held, of the version in force or an earlier one the deltas lead on from, verified
   * (shape, hash, I1; throws on any doubt, as `isUnavailable` tells apart from Redis being away); null
   * for none.
   */
  readDocument(): Promise<Ruleset | null>;
  /** The deltas held for versions after `after`, by version (see `publish`). */
  readDeltas(after: number): Promise<{ version: number; json: string }[]>;
  subscribe(): Promise<void>;
  subscriberReady(): boolean;
  /** Both connections are up. */
  connected(): boolean;
  /** The connections' states, for messages. */
  state(): string;
  /** `err` means the channel is unreachable or too slow (as opposed to a bug or a refused command). */
  isUnavailable(err: unknown): boolean;
  /** Resolves once both connections are up or failed, or after `ms`; never rejects. */
  waitReady(ms: number): Promise<void>;
  listen(events: Partial<ChannelEvents>): void;
  /** Stops telling and unsubscribes. The connections stay open (the caller's). */
  close(): Promise<void>;
}

export interface PublishRequest {
  version: number;
  epoch: string | undefined;
  /** The ruleset, stored whole as the document; left out to store `delta` alone. */
  whole?: Ruleset;
  /** The same version as the change from version `base` (engine `RulesetDelta`, JSON), when made so. */
  delta?: { base: number; json: string };
}

export interface PublishReply {
  stored: boolean;
  /** The version held before (-1 for none). */
  previous: number;
  /** Not stored: a delta alone will not do (it does not follow on, or the deltas are at their bound). */
  needsDocument?: boolean;
  /** Stored, and enough deltas follow the document held that a newer one is due (`storeDocument`). */
  documentDue?: boolean;
}

/** The local copy of the ruleset in force (disk-mirror.ts). */
export interface RulesetMirror {
  readonly path: string;
  /** The ruleset kept, or undefined when there is none or it does not verify (the mirror logs why). */
  load(): Promise<Ruleset | undefined>;
  /** Keeps `ruleset` unless a newer one is kept; resolves to what went wrong, if anything (logged). */
  write(ruleset: Ruleset): Promise<string | undefined>;
  /** Waits for writes under way. */
  flush(): Promise<void>;
}

export interface RulesetSyncOptions {
  /** Compiles after order changes here; its holder is what every check reads. */
  compiler: RulesetCompiler;
  /** Owned by the caller; `stop` closes only its listening. */
  channel: RulesetChannel;
  /** The last ruleset on local disk, e.g. `<dataDir>/ruleset.mirror` and its deltas. */
  mirror: RulesetMirror;
  /**
   * Whether a ruleset of `epoch` may replace one of the epoch in force here (an instance's audit mirror
   * trusts only the history it holds, until `cordon restore` or an operator says otherwise). Default: yes.
   */
  trustsEpoch?: (epoch: string) => boolean;
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
  /** The epoch of the ruleset in force (its order history); absent for none. */
  epoch?: string;
  hash: string;
  /** The version Redis held at the last successful look; absent when it held none (or was never read). */
  redisVersion?: number;
  /** The epoch of the ruleset Redis held at the last successful look. */
  redisEpoch?: string;
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

export class RulesetSync {
  private readonly compiler: RulesetCompiler;
  private readonly holder: RulesetHolder;
  private readonly channel: RulesetChannel;
  private readonly mirror: RulesetMirror;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly trustsEpoch: (epoch: string) => boolean;

  private stopped = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private syncing: Promise<void> | undefined;
  private again = false;

  private redisVersion: number | undefined;
  /**
   * The last ruleset this instance knows Redis to hold (stored by its publish, or installed from Redis):
   * the base of the delta its next publish sends beside the document.
   */
  private inRedis: Ruleset | undefined;
  private redisEpoch: string | undefined;
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

  /** The last ruleset this instance stored in Redis: the one whose document it uploads when asked. */
  private published: Ruleset | undefined;
  /** The document that did not lead to the version in force when last read (see `sameDeadEnd`). */
  private deadEnd: { epoch: string | undefined; version: number } | undefined;
  /** The upload of a whole document under way (`storeDocumentSoon`), if any. */
  private uploading: Promise<void> | undefined;

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
  private readonly onMessage = (payload: string) => {
    // Any other version is news: a lower one may be a ruleset of another epoch (the message names no epoch).
    const version = Number(payload);
    if (!Number.isInteger(version) || version !== this.holder.current().version) void this.catchUp();
  };

  private constructor(opts: RulesetSyncOptions) {
    this.compiler = opts.compiler;
    this.holder = opts.compiler.holder;
    this.channel = opts.channel;
    this.mirror = opts.mirror;
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.clock = opts.clock;
    this.trustsEpoch = opts.trustsEpoch ?? (() => true);
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
    sync.channel.listen({ error: sync.onError });
    await sync.loadLocal();
    sync.channel.listen({
      ready: sync.onReady,
      subscriberReady: sync.onSubscriberReady,
      message: sync.onMessage,
    });

    await sync.channel.waitReady(opts.connectWaitMs ?? 2000);
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
    let reply: PublishReply;
    try {
      const delta = this.deltaFor(ruleset);
      const request: PublishRequest = {
        version: ruleset.version,
        epoch: ruleset.epoch,
        ...(delta ? { delta } : {}),
      };
      const whole = () => this.channel.publish({ ...request, whole: ruleset });
      // A change of a few orders goes as its delta alone; the whole document when that will not do.
      reply = delta ? await this.channel.publish(request) : await whole();
      if (reply.needsDocument) reply = await whole();
    } catch (err) {
      this.fail(`publish v${ruleset.version}`, err);
      if (!this.channel.isUnavailable(err)) throw err;
      this.unpublished = Math.max(this.unpublished ?? -1, ruleset.version);
      this.logger.warn("ruleset not stored in redis; retrying on reconnect and every poll", {
        version: ruleset.version,
        error: message(err),
      });
      if (this.holder.current() === ruleset) await this.persist(ruleset);
      return;
    }
    const { stored, previous } = reply;
    this.failing = false;
    this.redisVersion = stored ? ruleset.version : previous;
    if (stored) {
      this.redisEpoch = ruleset.epoch;
      this.inRedis = ruleset;
      this.published = ruleset;
    }
    if (this.unpublished !== undefined && this.unpublished <= this.redisVersion) this.unpublished = undefined;
    if (stored) {
      this.logger.info("ruleset published", { version: ruleset.version, hash: ruleset.hash, previous });
      if (reply.documentDue) this.storeDocumentSoon(ruleset);
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
      ...(ruleset.epoch !== undefined ? { epoch: ruleset.epoch } : {}),
      hash: ruleset.hash,
      ...(this.redisVersion !== undefined ? { redisVersion: this.redisVersion } : {}),
      ...(this.redisEpoch !== undefined ? { redisEpoch: this.redisEpoch } : {}),
      connected: this.channel.connected(),
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
    await this.channel.close();
    await this.syncing;
    await this.uploading;
    await this.mirror.flush();
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
    const held = await this.read("read version", () => this.channel.readVersion());
    if (held === FAILED) return;
    const versionText = held.version;
    const redisEpoch = held.epoch ?? undefined;
    const redisVersion = versionText === null ? undefined : Number(versionText);
    if (redisVersion !== undefined && !(Number.isInteger(redisVersion) && redisVersion >= 0)) {
      this.refuse(`redis holds an unreadable ruleset version ${JSON.stringify(versionText)}`);
      return;
    }
    // Not loaded yet: even a version-0 ruleset from Redis is news (an empty ruleset is still a ruleset).
    // A ruleset of another epoch is news whatever its version: versions count within one history.
    let received: Ruleset | undefined;
    const ours = this.holder.current();
    const otherEpoch = redisEpoch !== undefined && redisEpoch !== ours.epoch;
    const behind = redisVersion !== undefined && (redisVersion > ours.version || otherEpoch);
    // Behind in the same history: the deltas Redis keeps, when they chain from ours.
    if (behind && !otherEpoch && this.holder.isLoaded()) received = await this.followDeltas(ours);
    const reached = (r: Ruleset) =>
      redisVersion !== undefined && r.epoch === redisEpoch && r.version >= redisVersion;
    if (
      !(received && reached(received)) &&
      (behind || (redisVersion !== undefined && !this.holder.isLoaded())) &&
      !this.sameDeadEnd(redisEpoch, held.documentVersion ?? versionText)
    ) {
      const led = await this.documentAndDeltas(ours, redisVersion);
      if (led === FAILED) return;
      if (received === undefined || led.epoch !== received.epoch || led.version > received.version)
        received = led;
    }
    const at = received ?? ours;
    if (behind && at.epoch === redisEpoch && !reached(at)) {
      // What was reached is installed all the same below, when newer than ours. The instance that
      // stored the version in force is asked for a newer document, once (asked again after that, the
      // ask could outlive the document it asked for); the message or the poll tries again.
      const reason =
        `redis holds ruleset v${redisVersion}, but its document and the deltas after it lead only to ` +
        `v${at.version}`;
      if (this.invalid !== reason)
        void this.channel.requestDocument().catch((err: unknown) => {
          this.fail("ask for a document", err);
          this.invalid = undefined;
        });
      this.refuse(reason);
    } else {
      this.invalid = undefined;
    }
    this.failing = false;
    // The document may be newer than the version read just before it (a publish in between), and its
    // message may already have been judged "not news" against what we hold once it is installed.
    this.redisVersion =
      redisVersion === undefined
        ? undefined
        : received && received.epoch !== redisEpoch
          ? received.version
          : Math.max(redisVersion, received?.version ?? redisVersion);
    this.redisEpoch = redisVersion === undefined ? undefined : (received?.epoch ?? redisEpoch);
    this.lastSyncAt = new Date(this.clock()).toISOString();
    const newer =
      received !== undefined &&
      (!this.holder.isLoaded() || received.epoch !== ours.epoch || received.version > ours.version);
    if (received && newer && this.holder.install(received, "redis")) {
      this.inRedis = received;
      installs.add(1, { source: "redis" });
      this.logger.info("ruleset installed from redis", { version: received.version, hash: received.hash });
      await this.persist(received);
    }
    await this.retryPublish(this.redisVersion);
    this.checkLoss();
    await this.answerDocumentWanted();
  }

  /**
   * An instance that could not follow the deltas asked for a newer document: the instance that stored
   * the version in force uploads it (one instance, not all of them: it is 170 MB at a million orders).
   * The next publish would ask for one too, but orders may not change for a while.
   */
  private async answerDocumentWanted(): Promise<void> {
    const current = this.holder.current();
    if (this.published !== current || this.redisVersion !== current.version || this.uploading) return;
    if ((await this.read("read document wanted", () => this.channel.documentWanted())) === true)
      this.storeDocumentSoon(current);
  }

  /**
   * The document Redis holds and the deltas after it, verified; `FAILED` when it could not be read or is
   * refused (recorded). One that does not lead to the version in force is remembered (`sameDeadEnd`).
   */
  private async documentAndDeltas(
    ours: Ruleset,
    redisVersion: number | undefined,
  ): Promise<Ruleset | typeof FAILED> {
    let document: Ruleset | null;
    try {
      document = await this.channel.readDocument();
    } catch (err) {
      if (this.channel.isUnavailable(err)) {
        this.fail("read ruleset", err);
        return FAILED;
      }
      this.refuse(`redis holds an unreadable ruleset document (v${redisVersion} in force): ${message(err)}`);
      return FAILED;
    }
    if (document === null) {
      this.refuse(`redis holds version ${redisVersion} but no ruleset document`);
      return FAILED;
    }
    if (
      document.epoch !== undefined &&
      document.epoch !== ours.epoch &&
      this.holder.isLoaded() &&
      !this.trustsEpoch(document.epoch)
    ) {
      this.refuse(
        `redis holds ruleset v${redisVersion} of epoch ${document.epoch}, another order history than ` +
          `this instance's audit mirror holds; enforcing v${ours.version} of epoch ${ours.epoch ?? "none"} ` +
          "until the history is restored (cordon restore)",
      );
      return FAILED;
    }
    const led = (await this.followDeltas(document)) ?? document;
    const short = redisVersion !== undefined && led.version < redisVersion && led.epoch === document.epoch;
    this.deadEnd = short ? { epoch: document.epoch, version: document.version } : undefined;
    return led;
  }

  /**
   * Whether the document Redis holds (`documentVersion`, as read with the version) is the one that did
   * not lead to the version in force last time: then it is not read again (170 MB at a million orders)
   * until another is stored.
   */
  private sameDeadEnd(epoch: string | undefined, documentVersion: string | null): boolean {
    const end = this.deadEnd;
    return (
      end !== undefined &&
      this.holder.isLoaded() &&
      end.epoch === epoch &&
      String(end.version) === documentVersion
    );
  }

  /**
   * `ruleset` as the change from the one Redis holds, when it was recompiled from it; none for a delta of
   * many orders (sent as the document only: the stream stays small in Redis's memory).
   */
  private deltaFor(ruleset: Ruleset): { base: number; json: string } | undefined {
    if (this.inRedis === undefined) return undefined;
    const json = rulesetDeltaJson(ruleset, this.inRedis);
    return json !== undefined && json.length <= DELTA_MAX_CHARS
      ? { base: this.inRedis.version, json }
      : undefined;
  }

  /**
   * `from` brought as far as the deltas Redis keeps after it lead, applied in turn and each verified
   * (base, I1, hash): O(changed) where the document is every order. Undefined when none applies (none
   * held after it, the first not based on it: trimmed, emptied by a publish that did not follow on, or
   * `from` compiled here and never stored).
   */
  private async followDeltas(from: Ruleset): Promise<Ruleset | undefined> {
    const deltas = await this.channel.readDeltas(from.version).catch(() => undefined);
    let current: Ruleset | undefined;
    for (const { json } of deltas ?? []) {
      try {
        current = applyRulesetDelta(current ?? from, json, this.compiler.compileOptions);
      } catch {
        break;
      }
    }
    return current;
  }

  /**
   * Replaces the document Redis holds with `ruleset`'s, in the background: it is made and sent in
   * pieces, one per turn of the event loop, so that checks go on between them (a million orders are
   * some 170 MB). One upload at a time; the next publish says whether another is due.
   */
  private storeDocumentSoon(ruleset: Ruleset): void {
    if (this.uploading || this.stopped) return;
    this.uploading = this.channel
      .storeDocument(ruleset, () => this.pace())
      .then(
        (stored) =>
          this.logger.info(
            stored
              ? "ruleset document stored"
              : "ruleset document not stored: a newer one is held, or its version no longer leads on",
            {
              version: ruleset.version,
            },
          ),
        (err: unknown) => {
          if (this.stopped) return;
          redisErrors.add(1, { component: "ruleset" });
          this.logger.warn("ruleset document not stored; a later publish tries again", {
            version: ruleset.version,
            error: message(err),
          });
        },
      )
      .finally(() => {
        this.uploading = undefined;
      });
  }

  /** Between two pieces of an upload: a turn of the event loop, or the end of the upload once stopped. */
  private async pace(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (this.stopped) throw new Error("stopped");
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
   *   those orders, and the audit trail (I7) would not explain the denials. Redis refuses it anyway:
   *   a ruleset of an epoch is stored only while that epoch is the order history's.
   * Restoring the history (`cordon restore`, from an instance's audit mirror) is an operator's act, and
   * order changes are refused until then (MirroredOrderStore); this instance is degraded meanwhile, with
   * the versions in the reason, and logs one error per episode.
   */
  private checkLoss(): void {
    const { version: ours, epoch } = this.holder.current();
    // Within one history a lower version is older; a ruleset of no history under ours of an epoch is too.
    const noHistory = epoch !== undefined && this.redisEpoch === undefined;
    const older =
      this.redisVersion === undefined || noHistory || (this.redisEpoch === epoch && this.redisVersion < ours);
    if (this.unpublished !== undefined || !this.holder.isLoaded() || ours === 0 || !older) {
      this.loss = undefined;
      return;
    }
    const reason =
      this.redisVersion === undefined
        ? `redis holds no ruleset; v${ours} enforced here (data loss?)`
        : noHistory
          ? `redis holds ruleset v${this.redisVersion} of no order history, not v${ours} of epoch ${epoch} enforced here (data loss?)`
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
    const ruleset = await this.mirror.load();
    if (ruleset && this.holder.install(ruleset, "disk")) {
      installs.add(1, { source: "disk" });
      this.logger.info("ruleset installed from local file", {
        version: ruleset.version,
        path: this.mirror.path,
      });
    }
  }

  private async persist(ruleset: Ruleset): Promise<void> {
    const error = await this.mirror.write(ruleset);
    if (error !== undefined) this.lastError = error;
  }

  private async subscribe(): Promise<void> {
    if (this.stopped || !this.channel.subscriberReady()) return;
    try {
      await this.channel.subscribe();
    } catch (err) {
      // The next 'ready' subscribes again; the poll covers the gap.
      this.fail("subscribe", err);
    }
  }

  /** What `read` resolves to, or `FAILED` once the failure is recorded (see `fail`). */
  private async read<T>(what: string, read: () => Promise<T>): Promise<T | typeof FAILED> {
    try {
      return await read();
    } catch (err) {
      this.fail(what, err);
      return FAILED;
    }
  }

  private fail(what: string, err: unknown): void {
    redisErrors.add(1, { component: "ruleset" });
    if (!this.channel.isUnavailable(err)) {
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

  private source(): RulesetSyncStatus["source"] {
    const installed = this.holder.installed;
    if (!installed) return "none";
    if (installed.source === "redis" || installed.source === "disk") return installed.source;
    return this.redisVersion === installed.version ? "redis" : "local";
  }

  private reason(): string | undefined {
    const ruleset = this.holder.current();
    if (this.failing || !this.channel.connected()) {
      const why = this.lastError ?? `connection ${this.channel.state()}`;
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

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
