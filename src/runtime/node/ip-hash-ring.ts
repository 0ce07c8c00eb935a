/**
 * I6 on the check's path: the per-period IP-hash keys this process holds in memory, and the sealing
 * done with them. `hashIp` and `sealEdgeHash` are synchronous, so the keys a record may need (the
 * current half-year's, the next one's ahead of the boundary, the last one's while late records may
 * come) are loaded at start and rolled forward by a timer; a record whose key is not held is refused
 * with 503 (`StoreUnavailableError`), never written with a hash that is not sealed.
 */
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import type { Readiness } from "../../kernel/runtime.js";
import { type Period, parsePeriod, periodOf } from "../../report/periods.js";
import {
  type IpHashKeyStore,
  KEY_PERIOD,
  LATE_SEAL_MS,
  PeriodKeyDestroyedError,
} from "../../store/ip-hash-keys.js";

const HEX_HASH = /^[0-9a-f]{64}$/;
/**
 * Addresses whose sealed hash each held key remembers (the oldest goes first): a participant who
 * rejoins, or many behind one NAT, costs two HMACs once rather than on every check.
 */
const SEALED_CACHE = 8192;
/** A key that stays unloaded for the same reason is logged again at most this often. */
const WARN_EVERY_MS = 60_000;

export interface IpHashKeyRingOptions {
  store: IpHashKeyStore;
  /** CORDON_IP_HASH_KEY or the `ip-hash.key` file: the inner hash, the one the edge computes too. */
  masterKey: Uint8Array;
  clock: () => number;
  logger: Logger;
  /**
   * Whether the deployment is new (no order ever entered): a key created for a period under way is then
   * the first start's, not a lost one, and is logged as information rather than a warning.
   */
  isNewDeployment?: () => Promise<boolean>;
  /** How often the held keys are checked and rolled forward, ms. Default 60 s. */
  refreshMs?: number;
  /** How often while the current period's key is missing (the store unreachable), ms. Default 1 s. */
  retryMs?: number;
  /** How long before a half-year starts its key is loaded, ms. Default one day: an outage of the store at the boundary must be longer than that to matter. */
  leadMs?: number;
  /** How long `open` retries for the current half-year's key (a Redis client still connecting), ms. Default 2 s. */
  startWaitMs?: number;
}

interface HeldKey {
  period: Period;
  raw: Buffer;
  /** Long-lived: node:crypto keeps the imported key, so each seal skips copying and padding it. */
  hmacKey: KeyObject;
  /**
   * Address → its `ipHash` under this key (bounded, oldest out first). In memory only, and it goes
   * with the key: a destroyed or replaced key takes its hashes with it.
   */
  sealed: Map<string, string>;
}

export class IpHashKeyRing {
  readonly #store: IpHashKeyStore;
  readonly #inner: KeyObject;
  readonly #clock: () => number;
  readonly #logger: Logger;
  readonly #refreshMs: number;
  readonly #retryMs: number;
  readonly #leadMs: number;
  readonly #isNewDeploymentOption: (() => Promise<boolean>) | undefined;
  readonly #held = new Map<string, HeldKey>();
  /** Periods loaded on request (`ensure`) whatever the clock says. */
  readonly #pinned = new Set<string>();
  /** Destroyed by this process: a load that raced the destruction must not bring the key back. */
  readonly #destroyed = new Set<string>();
  /** The key of the last seal: the current half-year's, nearly always. */
  #hot: HeldKey | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastError: string | undefined;
  #lastWarnAt = 0;
  #stopped = false;

  private constructor(options: IpHashKeyRingOptions) {
    this.#store = options.store;
    this.#inner = createSecretKey(Buffer.from(options.masterKey));
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#refreshMs = options.refreshMs ?? 60_000;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#leadMs = options.leadMs ?? 24 * 3_600_000;
    this.#isNewDeploymentOption = options.isNewDeployment;
  }

  /** Loads the keys the clock calls for and starts the timer. A store that fails is retried, not fatal. */
  static async open(options: IpHashKeyRingOptions): Promise<IpHashKeyRing> {
    const ring = new IpHashKeyRing(options);
    // Real time, not the records' clock (which tests fix).
    const deadline = Date.now() + (options.startWaitMs ?? 2_000);
    await ring.refresh();
    while (!ring.#holdsCurrent() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      await ring.refresh();
    }
    ring.#schedule();
    return ring;
  }

  /** A record's `ipHash` for an address checked at `at` (epoch ms): sealed under that half-year's key. */
  hashIp(ip: string, at: number): string {
    const held = this.#keyAt(at);
    let hash = held.sealed.get(ip);
    if (hash === undefined) {
      hash = sealWith(held, createHmac("sha256", this.#inner).update(ip).digest());
      if (held.sealed.size >= SEALED_CACHE) held.sealed.delete(held.sealed.keys().next().value as string);
      held.sealed.set(ip, hash);
    }
    return hash;
  }

  /** An edge record's `ipHash` (the inner hash, hex) sealed for the record's `at` (ISO 8601). */
  sealEdgeHash(hash: string, at: string): string {
    const t = Date.parse(at);
    if (!HEX_HASH.test(hash) || Number.isNaN(t)) {
      throw new RangeError("an edge ipHash is 64 lowercase hex characters, sealed for a valid instant");
    }
    return sealWith(this.#keyAt(t), Buffer.from(hash, "hex"));
  }

  /** Loads (creating where needed) and pins the keys of these half-years, e.g. for a clock that jumps. */
  async ensure(periods: readonly string[]): Promise<void> {
    for (const period of periods) this.#pinned.add(period);
    await this.refresh();
    const missing = periods.filter((p) => !this.#held.has(p));
    if (missing.length > 0) throw new StoreUnavailableError(`IP-hash keys not loaded: ${missing.join(", ")}`);
  }

  /**
   * Called when a report period is finalized: for a half-year, its key is destroyed in the store (which
   * remembers it, so nothing re-creates it) and let go here. Months and quarters destroy nothing: their
   * half-year's records still need the key. Other instances let go of it at their next refresh.
   */
  async destroy(period: string): Promise<boolean> {
    if (!KEY_PERIOD.test(period)) return false;
    this.#destroyed.add(period);
    this.#drop(period);
    await this.#store.destroy(period);
    this.#logger.info("ip-hash key destroyed: the period's records can no longer be linked to addresses", {
      period,
    });
    return true;
  }

  /** Brings the held keys in line with the clock: loads what is due, lets go of what is past. */
  async refresh(): Promise<void> {
    const wanted = this.#wanted(this.#clock());
    for (const label of this.#held.keys()) if (!wanted.has(label)) this.#drop(label);
    let failed: string | undefined;
    for (const label of wanted) {
      try {
        await this.#load(label);
      } catch (err) {
        if (err instanceof PeriodKeyDestroyedError) {
          this.#drop(label);
          continue;
        }
        failed = `${label}: ${err instanceof Error ? err.message : String(err)}`;
        // Retried every second while the store is away: logged when the reason changes, else once a minute.
        if (failed === this.#lastError && Date.now() - this.#lastWarnAt < WARN_EVERY_MS) continue;
        this.#lastWarnAt = Date.now();
        this.#logger.warn("ip-hash key not loaded (records of the period are refused until it is)", {
          period: label,
          error: failed,
        });
      }
    }
    this.#lastError = failed;
  }

  /** Not ready while the current half-year's key is missing: every check would answer 503. */
  readiness(): Readiness {
    return {
      name: "ip-hash-keys",
      ready: this.#holdsCurrent(),
      detail: {
        periods: [...this.#held.keys()].sort(),
        ...(this.#lastError ? { lastError: this.#lastError } : {}),
      },
    };
  }

  /** Half-years whose keys are held, sorted. */
  periods(): string[] {
    return [...this.#held.keys()].sort();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #holdsCurrent(): boolean {
    return this.#held.has(periodOf(this.#clock(), "half").id);
  }

  /** The held key of the half-year of `at`; a record whose key is not held is refused (I6). */
  #keyAt(at: number): HeldKey {
    let held = this.#hot;
    if (held === undefined || at < held.period.start || at >= held.period.end) {
      const label = periodOf(at, "half").id;
      held = this.#held.get(label);
      if (held === undefined) {
        throw new StoreUnavailableError(
          `the IP-hash key of ${label} is not loaded: no record is written without it (I6)`,
        );
      }
      this.#hot = held;
    }
    return held;
  }

  #wanted(now: number): Set<string> {
    const current = periodOf(now, "half");
    const wanted = new Set([current.id, ...this.#pinned]);
    if (now >= current.end - this.#leadMs) wanted.add(periodOf(current.end, "half").id);
    if (now < current.start + LATE_SEAL_MS) wanted.add(periodOf(current.start - 1, "half").id);
    return wanted;
  }

  async #isNewDeployment(): Promise<boolean> {
    try {
      return (await this.#isNewDeploymentOption?.()) ?? false;
    } catch {
      return false; // unknown (the store unreachable): warn, as for a lost key
    }
  }

  async #load(label: string): Promise<void> {
    const period = parsePeriod(label);
    if (period?.kind !== "half") throw new RangeError(`not a half-year period: ${label}`);
    const held = this.#held.get(label);
    // What this process holds is offered back: a store that lost the key gets the same one again.
    const { key, created } = await this.#store.obtain(label, held?.raw);
    const raw = Buffer.from(key);
    if (this.#destroyed.has(label)) throw new PeriodKeyDestroyedError(label);
    if (held?.raw.equals(raw)) {
      if (created) {
        this.#logger.error("ip-hash key had vanished from the store; restored from this instance's memory", {
          period: label,
        });
      }
      return;
    }
    if (held) {
      // Only if the store lost the key and another instance made a new one first: that one wins, so every
      // instance seals alike from here on; records sealed before count apart in distinct participants.
      this.#logger.error("ip-hash key in the store differs from the one held: taking the store's", {
        period: label,
        effect: "distinct participants of the period count a participant once per key",
      });
    } else if (created && this.#clock() >= period.start && (await this.#isNewDeployment())) {
      this.#logger.info("ip-hash key created for the current half-year", { period: label });
    } else if (created && this.#clock() >= period.start) {
      // Not a new deployment: the store lost a key no instance still held.
      this.#logger.warn("ip-hash key created for a period already under way", {
        period: label,
        effect:
          "if records of the period were sealed under a lost key, distinct participants count them apart",
      });
    } else if (created) {
      this.#logger.info("ip-hash key created ahead of its period", { period: label });
    }
    const entry: HeldKey = { period, raw, hmacKey: createSecretKey(raw), sealed: new Map() };
    this.#held.set(label, entry);
    if (this.#hot?.period.id === label) this.#hot = entry;
  }

  #drop(label: string): void {
    const held = this.#held.get(label);
    held?.raw.fill(0);
    held?.sealed.clear();
    this.#held.delete(label);
    this.#pinned.delete(label);
    if (this.#hot?.period.id === label) this.#hot = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = this.#holdsCurrent() ? this.#refreshMs : this.#retryMs;
    this.#timer = setTimeout(() => {
      this.refresh().finally(() => this.#schedule());
    }, delay);
    // The process may exit with the timer pending: nothing is lost, the next start loads the keys.
    this.#timer.unref();
  }
}

/** The outer HMAC: the inner hash sealed under the half-year's key. */
function sealWith(held: HeldKey, inner: Buffer): string {
  return createHmac("sha256", held.hmacKey).update(inner).digest("hex");
}
