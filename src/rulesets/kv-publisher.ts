/**
 * Publishes signed rulesets to Workers KV through Cloudflare's REST API, for the edge to read. Long-lived:
 * one per process, listening to the `RulesetCompiler`'s compiles (see `listener`), and used once by
 * `cordon publish`.
 *
 * A ruleset is published sharded (`sharded.ts`), so that no KV value nears KV's 25 MiB limit: first the
 * shards the manifest in KV does not name yet (content-addressed, so an order change writes only the
 * shards it touches), then the signed manifest, which is the switch: a Worker never sees a manifest
 * before its shards were written. Shards a manifest stops naming are listed in it as retired and
 * deleted by a later publish once retired for `retireAfterMs`, long after any Worker moved on. The
 * single value of earlier releases (`ruleset/current`) is deleted once a manifest replaced it.
 *
 * Shards no manifest ever named (a process that died between its shard writes and its manifest, a
 * manifest whose write failed and whose next publish wrote other shards, a foreign manifest replaced)
 * would stay in KV for ever: once every `retireAfterMs` a publish lists the shard keys and retires the
 * ones neither named nor retired, so they go the same way, after the same wait (another instance may
 * be about to name them: its manifest then takes them out of the retired list).
 *
 * KV has no compare-and-set and is last-writer-wins, so the ordering Redis gets from its script is
 * approximated here:
 * - publishes run one at a time, and a ruleset superseded by a newer request before its turn is
 *   skipped, so a slow older PUT can never land after a newer one from this process (it also keeps
 *   bursts under KV's one write per second per key);
 * - each PUT is preceded by a GET, and a value that verifies under our key with a newer version is left
 *   alone (another instance, or a restart from an older disk copy). The GET and PUT are not atomic, so
 *   two instances racing can still leave the older one in KV for a while; the Worker refuses older
 *   versions for as long as an isolate lives, and the next compile anywhere publishes again.
 *
 * Failures never reach the caller: the order change they follow is committed and enforced on the Node
 * side, so they are logged (never with the API token), counted, and retried every `retryMs` until a
 * publish succeeds, as well as on the next compile.
 */
import { metrics } from "@opentelemetry/api";
import { z } from "zod";
import type { KvPublishSettings } from "../config/node.js";
import type { Ruleset } from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { CompiledListener } from "./compiler.js";
import {
  RULESET_MANIFEST_KV_KEY,
  RULESET_SHARD_KV_PREFIX,
  type RulesetManifest,
  shardKey,
  shardRuleset,
  signManifest,
  verifySignedManifest,
} from "./sharded.js";
import { loadSigningKey, RULESET_KV_KEY, type SigningKey, verifySignedRuleset } from "./signed.js";

export interface KvPublisherOptions {
  kv: Pick<KvPublishSettings, "accountId" | "namespaceId" | "apiToken" | "apiBase">;
  /** The signing key, with its public half (to read back what KV holds). */
  key: SigningKey & { publicKey: CryptoKey };
  /** Shards are made as few as keep each under this size. Default 1 MiB. */
  maxShardBytes?: number;
  /** A shard no manifest names any more is deleted once retired this long. Default 10 minutes. */
  retireAfterMs?: number;
  logger?: Logger;
  /** Epoch ms. */
  clock?: () => number;
  /** Per API request. Default 10 s. */
  requestTimeoutMs?: number;
  /** Retry interval after a failed publish; 0 turns retrying off (the CLI). Default 30 s. */
  retryMs?: number;
}

export type PublishOutcome =
  | { outcome: "published"; version: number }
  | { outcome: "skipped"; version: number; reason: string }
  | { outcome: "failed"; version: number; error: string };

export interface KvPublisherStatus {
  /** The last version this process wrote to KV, or found there already. */
  publishedVersion: number | null;
  publishedAt: string | null;
  /** Failed publishes since start. */
  failures: number;
  /** Set while the last publish failed: a retry is due. */
  lastError?: string;
}

/** A failed Cloudflare API call; the message never holds the token. */
export class KvApiError extends Error {
  override readonly name = "KvApiError";
}

const meter = metrics.getMeter("cordon");
const publishes = meter.createCounter("cordon.kv.publishes", {
  description: "Signed ruleset publishes to Workers KV, by outcome (published, skipped, failed).",
});

/** A page of KV's key listing (`GET .../keys`), as far as it is read here. */
const KeysPage = z.object({
  success: z.boolean(),
  result: z.array(z.object({ name: z.string() })),
  result_info: z.object({ cursor: z.string().optional() }).optional(),
});

/** Shard writes (and deletes) in flight at once. */
const CONCURRENT_WRITES = 4;

/** What KV holds, as far as it verifies under our key. */
interface Held {
  version: number;
  hash: string;
  /** Set when KV holds a manifest. */
  manifest?: RulesetManifest;
  /** KV holds the single value of earlier releases (and no manifest). */
  single: boolean;
}

export class KvPublisher {
  private readonly valuesUrl: string;
  private readonly keysUrl: string;
  private readonly token: string;
  private readonly key: KvPublisherOptions["key"];
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly requestTimeoutMs: number;
  private readonly retryMs: number;
  private readonly maxShardBytes: number;
  private readonly retireAfterMs: number;

  /** Publishes, one at a time (see the header). */
  private chain: Promise<unknown> = Promise.resolve();
  /** The newest ruleset asked for: an older one still queued is skipped. */
  private newest: Ruleset | undefined;
  private published: { version: number; hash: string; at: number } | undefined;
  private failures = 0;
  private lastError: string | undefined;
  /** When shard keys were last listed for orphans (epoch ms); undefined: not yet, so the first publish does. */
  private sweptAt: number | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(opts: KvPublisherOptions) {
    const base = opts.kv.apiBase.replace(/\/+$/, "");
    const namespace = `${base}/accounts/${encodeURIComponent(opts.kv.accountId)}/storage/kv/namespaces/${encodeURIComponent(opts.kv.namespaceId)}`;
    this.valuesUrl = `${namespace}/values/`;
    this.keysUrl = `${namespace}/keys`;
    this.token = opts.kv.apiToken;
    this.key = opts.key;
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.clock = opts.clock ?? Date.now;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.retryMs = opts.retryMs ?? 30_000;
    this.maxShardBytes = opts.maxShardBytes ?? 1024 * 1024;
    this.retireAfterMs = opts.retireAfterMs ?? 10 * 60_000;
  }

  /** From the environment's settings: imports CORDON_SIGNING_KEY (a bad key fails here, at start). */
  static async fromSettings(
    settings: KvPublishSettings,
    opts: Omit<KvPublisherOptions, "kv" | "key"> = {},
  ): Promise<KvPublisher> {
    const key = await loadSigningKey(settings.signingKey, settings.keyId);
    return new KvPublisher({ ...opts, kv: settings, key });
  }

  get keyId(): string {
    return this.key.keyId;
  }

  /**
   * Shards and signs `ruleset` and writes it to KV unless KV already holds it or newer. Resolves once done, with
   * what happened; never rejects.
   */
  publish(ruleset: Ruleset): Promise<PublishOutcome> {
    if (!this.newest || ruleset.version >= this.newest.version) this.newest = ruleset;
    const run = this.chain.then(() => this.publishOnce(ruleset));
    this.chain = run;
    return run;
  }

  /**
   * A `RulesetCompiler` compiled-ruleset listener that publishes each compile and waits for it at most
   * `waitMs`. The order routes await compiled listeners; a KV PUT usually takes a few hundred ms, so
   * in the common case the order change is answered once KV has the new ruleset (and the edge's
   * freshness bound can be counted from the answer), while a slow or unreachable Cloudflare API adds at
   * most `waitMs` to an order change and never fails it. The publish goes on in the background.
   */
  listener(waitMs = 1000): CompiledListener {
    return async (ruleset) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      });
      try {
        await Promise.race([this.publish(ruleset), timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
  }

  status(): KvPublisherStatus {
    return {
      publishedVersion: this.published?.version ?? null,
      publishedAt: this.published ? new Date(this.published.at).toISOString() : null,
      failures: this.failures,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  /** Stops retrying and waits for a publish in flight (bounded by the request timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.chain;
  }

  private async publishOnce(ruleset: Ruleset): Promise<PublishOutcome> {
    const version = ruleset.version;
    if (this.stopped) return this.skipped(version, "publisher stopped");
    if (this.newest && this.newest.version > version) {
      return this.skipped(version, `superseded by v${this.newest.version}`);
    }
    if (this.published?.version === version && this.published.hash === ruleset.hash) {
      return this.skipped(version, `v${version} already published`);
    }
    let shards: number;
    try {
      const held = await this.readHeld();
      // Asked for something newer while reading: its turn comes next, and one write saves a KV write.
      if (this.newest && this.newest.version > version) {
        return this.skipped(version, `superseded by v${this.newest.version}`);
      }
      if (held && held.version > version) {
        return this.skipped(version, `KV holds v${held.version}, newer than v${version}`);
      }
      if (held?.manifest && held.version === version && held.hash === ruleset.hash) {
        this.succeeded(version, ruleset.hash);
        return this.skipped(version, `KV already holds v${version}`);
      }
      shards = await this.write(ruleset, held);
    } catch (err) {
      return this.failed(version, err);
    }
    this.succeeded(version, ruleset.hash);
    publishes.add(1, { outcome: "published" });
    this.logger.info("signed ruleset published to KV", {
      version,
      hash: ruleset.hash,
      signer: this.keyId,
      shards,
    });
    return { outcome: "published", version };
  }

  /**
   * Shards first, then the manifest: a manifest is never in KV before the shards it names. Answers how
   * many shards were written.
   */
  private async write(ruleset: Ruleset, held: Held | undefined): Promise<number> {
    const split = await shardRuleset(ruleset, {
      maxShardBytes: this.maxShardBytes,
      ...(held?.manifest ? { minShards: held.manifest.shards.length } : {}),
    });
    const present = new Set(held?.manifest?.shards.flatMap((e) => (e ? [e.sha256] : [])) ?? []);
    const toWrite = split.shards.flatMap((s) => (s && !present.has(s.sha256) ? [s] : []));
    await inBatches(toWrite, (s) => this.request("PUT", shardKey(s.sha256), s.text));

    // Retired: what earlier manifests named and this one does not, kept until old enough to delete.
    const named = new Set(split.manifest.shards.flatMap((e) => (e ? [e.sha256] : [])));
    const now = this.clock();
    const retired = new Map<string, string>();
    for (const r of held?.manifest?.retired ?? []) retired.set(r.sha256, r.at);
    for (const d of present) if (!retired.has(d)) retired.set(d, new Date(now).toISOString());
    for (const d of named) retired.delete(d);
    for (const d of await this.orphans(named, retired, now)) retired.set(d, new Date(now).toISOString());
    const due = [...retired].filter(([, at]) => !(now - Date.parse(at) < this.retireAfterMs));
    await inBatches(due, async ([digest]) => {
      try {
        await this.request("DELETE", shardKey(digest));
        retired.delete(digest);
      } catch (err) {
        // Listed again, and deleted by a later publish.
        this.logger.warn("retired ruleset shard not deleted from KV; will retry", {
          shard: digest,
          error: this.scrub(err instanceof Error ? err.message : String(err)),
        });
      }
    });

    const manifest: RulesetManifest = {
      ...split.manifest,
      retired: [...retired].map(([sha256, at]) => ({ sha256, at })),
    };
    await this.request("PUT", RULESET_MANIFEST_KV_KEY, await signManifest(manifest, this.key));
    // Workers read the single value only while no manifest exists; once one does, the old value goes.
    if (held?.single) await this.request("DELETE", RULESET_KV_KEY);
    return toWrite.length;
  }

  /**
   * Shard keys in KV that neither `named` nor `retired` lists, at most once every `retireAfterMs`.
   * A failed listing is logged and tried again on the next publish; it never fails this one.
   */
  private async orphans(named: Set<string>, retired: Map<string, string>, now: number): Promise<string[]> {
    if (this.sweptAt !== undefined && now - this.sweptAt < this.retireAfterMs) return [];
    try {
      const found = (await this.listKeys(RULESET_SHARD_KV_PREFIX))
        .map((name) => name.slice(RULESET_SHARD_KV_PREFIX.length))
        .filter((digest) => !named.has(digest) && !retired.has(digest));
      this.sweptAt = now;
      if (found.length > 0)
        this.logger.info("ruleset shards no manifest names found in KV; retired", { shards: found.length });
      return found;
    } catch (err) {
      this.logger.warn("could not list ruleset shards in KV; will retry", {
        error: this.scrub(err instanceof Error ? err.message : String(err)),
      });
      return [];
    }
  }

  /** Every key under `prefix`, page by page (KV's list: up to 1000 a page, a cursor for the next). */
  private async listKeys(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let cursor = "";
    do {
      const query = new URLSearchParams({ prefix, limit: "1000", ...(cursor ? { cursor } : {}) });
      let res: Response;
      try {
        res = await fetch(`${this.keysUrl}?${query}`, {
          headers: { authorization: `Bearer ${this.token}` },
          signal: AbortSignal.timeout(this.requestTimeoutMs),
        });
      } catch (err) {
        throw new KvApiError(`list KV keys ${prefix}: ${describeFetchError(err)}`);
      }
      const text = await res.text().catch(() => "");
      if (!res.ok) throw new KvApiError(`list KV keys ${prefix}: HTTP ${res.status}${apiErrors(text)}`);
      const page = KeysPage.safeParse(parseEnvelope(text));
      if (!page.success || !page.data.success)
        throw new KvApiError(`list KV keys ${prefix}: unexpected answer${apiErrors(text)}`);
      for (const { name } of page.data.result) names.push(name);
      cursor = page.data.result_info?.cursor ?? "";
    } while (cursor !== "");
    return names;
  }

  /**
   * What KV holds, if it verifies under our key: the manifest, or else the single value of earlier
   * releases. A foreign or tampered manifest is overwritten (its shards are left behind).
   */
  private async readHeld(): Promise<Held | undefined> {
    const text = await this.request("GET", RULESET_MANIFEST_KV_KEY);
    if (text !== null) {
      try {
        const manifest = await verifySignedManifest(text, [
          { keyId: this.key.keyId, key: this.key.publicKey },
        ]);
        return { version: manifest.version, hash: manifest.hash, manifest, single: false };
      } catch (err) {
        this.logger.warn("KV holds a ruleset manifest our key does not verify; replacing it", {
          error: this.scrub(err instanceof Error ? err.message : String(err)),
        });
        return undefined;
      }
    }
    const single = await this.request("GET", RULESET_KV_KEY);
    if (single === null) return undefined;
    try {
      const ruleset = await verifySignedRuleset(single, [{ keyId: this.key.keyId, key: this.key.publicKey }]);
      return { version: ruleset.version, hash: ruleset.hash, single: true };
    } catch (err) {
      this.logger.warn("KV holds a ruleset our key does not verify; replacing it", {
        error: this.scrub(err instanceof Error ? err.message : String(err)),
      });
      return { version: -1, hash: "", single: true };
    }
  }

  /**
   * GET answers the value (null for none); PUT and DELETE answer null (deleting nothing is no failure).
   * Throws `KvApiError` on any failure.
   */
  private async request(
    method: "GET" | "PUT" | "DELETE",
    key: string,
    body?: string,
  ): Promise<string | null> {
    let res: Response;
    try {
      // Key names go percent-encoded in the path (`ruleset%2Fmanifest`), as the API asks.
      res = await fetch(this.valuesUrl + encodeURIComponent(key), {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "text/plain;charset=UTF-8" }),
        },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      throw new KvApiError(`${method} KV value ${key}: ${describeFetchError(err)}`);
    }
    const text = await res.text().catch(() => "");
    if (method !== "PUT" && res.status === 404) return null;
    if (!res.ok) throw new KvApiError(`${method} KV value ${key}: HTTP ${res.status}${apiErrors(text)}`);
    if (method === "GET") return text;
    // A write answers the API envelope; `success: false` with a 200 is still a failure.
    if (parseEnvelope(text)?.success === false) {
      throw new KvApiError(`${method} KV value ${key}: refused${apiErrors(text)}`);
    }
    return null;
  }

  private succeeded(version: number, hash: string): void {
    this.published = { version, hash, at: this.clock() };
    if (this.lastError !== undefined) this.logger.info("KV publishing recovered", { version });
    this.lastError = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private skipped(version: number, reason: string): PublishOutcome {
    publishes.add(1, { outcome: "skipped" });
    this.logger.debug("signed ruleset not published", { version, reason });
    return { outcome: "skipped", version, reason };
  }

  private failed(version: number, err: unknown): PublishOutcome {
    const error = this.scrub(err instanceof Error ? err.message : String(err));
    this.failures += 1;
    this.lastError = error;
    publishes.add(1, { outcome: "failed" });
    this.logger.error("signed ruleset not published to KV; will retry", {
      version,
      error,
      retryInMs: this.retryMs,
    });
    this.scheduleRetry();
    return { outcome: "failed", version, error };
  }

  private scheduleRetry(): void {
    if (this.retryMs <= 0 || this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.newest && !this.stopped) void this.publish(this.newest);
    }, this.retryMs);
    // A pending retry must not keep a stopping process (or the CLI) alive.
    this.retryTimer.unref();
  }

  /** Defence in depth: whatever an error says, it never carries the token on to a log. */
  private scrub(text: string): string {
    return this.token ? text.replaceAll(this.token, "[redacted]") : text;
  }
}

/** Runs `fn` over `items`, `CONCURRENT_WRITES` at a time; rejects with the first failure. */
async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENT_WRITES) {
    await Promise.all(items.slice(i, i + CONCURRENT_WRITES).map(fn));
  }
}

function parseEnvelope(text: string): { success?: unknown; errors?: unknown } | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Cloudflare's `errors: [{code, message}]`, short. */
function apiErrors(text: string): string {
  const errors = parseEnvelope(text)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return "";
  const parts = errors
    .slice(0, 3)
    .map((e: { code?: unknown; message?: unknown }) =>
      `${String(e?.code ?? "?")} ${String(e?.message ?? "")}`.trim(),
    );
  return `: ${parts.join("; ").slice(0, 300)}`;
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError") return "timed out";
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err instanceof Error ? err.message : String(err)}${cause}`;
}
