/**
 * Publishes signed rulesets to Workers KV through Cloudflare's REST API, for the edge to read. Long-lived:
 * one per process, listening to the `RulesetCompiler`'s compiles (see `listener`), and used once by
 * `cordon publish`.
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
import type { KvPublishSettings } from "../config/node.js";
import type { Ruleset } from "../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../kernel/logger.js";
import type { CompiledListener } from "./compiler.js";
import {
  loadSigningKey,
  RULESET_KV_KEY,
  type SigningKey,
  signRuleset,
  verifySignedRuleset,
} from "./signed.js";

export interface KvPublisherOptions {
  kv: Pick<KvPublishSettings, "accountId" | "namespaceId" | "apiToken" | "apiBase">;
  /** The signing key, with its public half (to read back what KV holds). */
  key: SigningKey & { publicKey: CryptoKey };
  /** Default `ruleset/current`, the key the Worker reads. */
  keyName?: string;
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

export class KvPublisher {
  private readonly url: string;
  private readonly token: string;
  private readonly key: KvPublisherOptions["key"];
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly requestTimeoutMs: number;
  private readonly retryMs: number;

  /** Publishes, one at a time (see the header). */
  private chain: Promise<unknown> = Promise.resolve();
  /** The newest ruleset asked for: an older one still queued is skipped. */
  private newest: Ruleset | undefined;
  private published: { version: number; hash: string; at: number } | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(opts: KvPublisherOptions) {
    const base = opts.kv.apiBase.replace(/\/+$/, "");
    const keyName = opts.keyName ?? RULESET_KV_KEY;
    // Key names go percent-encoded in the path (`ruleset%2Fcurrent`), as the API asks.
    this.url = `${base}/accounts/${encodeURIComponent(opts.kv.accountId)}/storage/kv/namespaces/${encodeURIComponent(opts.kv.namespaceId)}/values/${encodeURIComponent(keyName)}`;
    this.token = opts.kv.apiToken;
    this.key = opts.key;
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.clock = opts.clock ?? Date.now;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.retryMs = opts.retryMs ?? 30_000;
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
   * Signs `ruleset` and writes it to KV unless KV already holds it or newer. Resolves once done, with
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
    try {
      const held = await this.readHeld();
      // Asked for something newer while reading: its turn comes next, and one write saves a KV write.
      if (this.newest && this.newest.version > version) {
        return this.skipped(version, `superseded by v${this.newest.version}`);
      }
      if (held && held.version > version) {
        return this.skipped(version, `KV holds v${held.version}, newer than v${version}`);
      }
      if (held && held.version === version && held.hash === ruleset.hash) {
        this.succeeded(version, ruleset.hash);
        return this.skipped(version, `KV already holds v${version}`);
      }
      await this.request("PUT", await signRuleset(ruleset, this.key));
    } catch (err) {
      return this.failed(version, err);
    }
    this.succeeded(version, ruleset.hash);
    publishes.add(1, { outcome: "published" });
    this.logger.info("signed ruleset published to KV", { version, hash: ruleset.hash, signer: this.keyId });
    return { outcome: "published", version };
  }

  /** What KV holds, if it verifies under our key; a foreign or tampered value is overwritten. */
  private async readHeld(): Promise<Ruleset | undefined> {
    const text = await this.request("GET");
    if (text === null) return undefined;
    try {
      return await verifySignedRuleset(text, [{ keyId: this.key.keyId, key: this.key.publicKey }]);
    } catch (err) {
      this.logger.warn("KV holds a ruleset our key does not verify; replacing it", {
        error: this.scrub(err instanceof Error ? err.message : String(err)),
      });
      return undefined;
    }
  }

  /** GET answers the value (null for none); PUT answers null. Throws `KvApiError` on any failure. */
  private async request(method: "GET" | "PUT", body?: string): Promise<string | null> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "text/plain;charset=UTF-8" }),
        },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      throw new KvApiError(`${method} KV value: ${describeFetchError(err)}`);
    }
    const text = await res.text().catch(() => "");
    if (method === "GET" && res.status === 404) return null;
    if (!res.ok) throw new KvApiError(`${method} KV value: HTTP ${res.status}${apiErrors(text)}`);
    if (method === "GET") return text;
    // A PUT answers the API envelope; `success: false` with a 200 is still a failure.
    if (parseEnvelope(text)?.success === false) {
      throw new KvApiError(`PUT KV value: refused${apiErrors(text)}`);
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
