/**
 * `ReloadingGeo` (Node only): a MaxMind database file loaded into a `MaxmindGeo`, replaced in place when
 * the file changes, so operators update GeoIP data (geoipupdate, a cron job, a ConfigMap) without a
 * restart. Also `defaultDatabasePath()`, the GeoLite2 country database the npm package ships.
 *
 * The swap is one assignment of a fully built, already probed `MaxmindGeo`: a lookup sees the whole old
 * database or the whole new one, never a mix, and a file that does not open keeps the old one (I2 would
 * otherwise turn every check into GEO_UNKNOWN). Lifetime: one per process, until `close()`.
 */
import { type FSWatcher, watch } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import type { GeoAnswer, GeoInfo, SyncGeo } from "../../geo/interface.js";
import { MaxmindGeo, type MaxmindGeoOptions } from "../../geo/maxmind-geo.js";
import type { Logger } from "../../kernel/logger.js";

export interface ReloadingGeoOptions {
  logger?: Pick<Logger, "info" | "warn">;
  /** Called in the same tick as the swap, before any lookup can run: clear caches here (CachedGeo). */
  onReload?: (info: GeoInfo) => void;
  /** Quiet time after the last file event before loading; one update makes several events. Default 100. */
  debounceMs?: number;
  /**
   * Also compare the file's identity on this interval, because fs.watch misses events on network
   * filesystems and some container bind mounts. Default 60 000; 0 turns it off.
   */
  pollMs?: number;
  maxmind?: MaxmindGeoOptions;
}

/** What tells one version of the file from another without reading it. */
type FileSignature = string;

export function defaultDatabasePath(): string {
  return createRequire(import.meta.url).resolve(
    "@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb",
  );
}

export class ReloadingGeo implements SyncGeo {
  readonly path: string;
  #current: MaxmindGeo;
  /** The file version `#current` was read from, or the last version that failed to open. */
  #seen: FileSignature;
  readonly #options: ReloadingGeoOptions;
  #watcher: FSWatcher | undefined;
  #poller: ReturnType<typeof setInterval> | undefined;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  /** One load at a time; an event during a load asks for one more check after it. */
  #loading: Promise<void> | undefined;
  #again = false;
  #closed = false;

  private constructor(path: string, geo: MaxmindGeo, signature: FileSignature, options: ReloadingGeoOptions) {
    this.path = path;
    this.#current = geo;
    this.#seen = signature;
    this.#options = options;
  }

  /** Loads the file (throws if it does not open: a start without a database is a configuration error). */
  static async open(path: string, options: ReloadingGeoOptions = {}): Promise<ReloadingGeo> {
    const absolute = resolve(path);
    const { geo, signature } = await load(absolute, options.maxmind);
    const reloading = new ReloadingGeo(absolute, geo, signature, options);
    reloading.#watch();
    return reloading;
  }

  lookup(ip: string): GeoAnswer {
    return this.#current.lookup(ip);
  }

  info(): GeoInfo {
    return this.#current.info();
  }

  get dbVersion(): string {
    return this.#current.dbVersion;
  }

  /**
   * Loads the file now if it differs from the one in use (`force`: even if it looks the same). Resolves
   * once done; a file that does not open is logged and the old database kept. Watching calls this.
   */
  async reload(force = false): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = this.#reloadOnce(force).finally(() => {
      this.#loading = undefined;
    });
    await this.#loading;
    if (this.#again && !this.#closed) {
      this.#again = false;
      await this.reload();
    }
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#poller);
    clearTimeout(this.#debounce);
  }

  async #reloadOnce(force: boolean): Promise<void> {
    let loaded: Loaded;
    try {
      if (!force && (await signatureOf(this.path)) === this.#seen) return;
      loaded = await load(this.path, this.#options.maxmind);
    } catch (error) {
      // Remember a version that failed, so unrelated events in the directory do not retry and warn
      // again; it is the version as it was *before* reading, so a half-written file (in-place rewrite)
      // that is completed later has a new signature and is loaded then.
      if (error instanceof LoadError) this.#seen = error.signature;
      this.#options.logger?.warn("geo database not reloaded; keeping the one in use", {
        path: this.path,
        inUse: this.#current.dbVersion,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    if (this.#closed) return;
    const previous = this.#current.dbVersion;
    // The swap and the cache clear run in one synchronous stretch: no lookup can interleave.
    this.#current = loaded.geo;
    this.#seen = loaded.signature;
    try {
      this.#options.onReload?.(loaded.geo.info());
    } catch (error) {
      this.#options.logger?.warn("geo onReload callback failed", { error: String(error) });
    }
    this.#options.logger?.info("geo database reloaded", {
      path: this.path,
      previous,
      current: loaded.geo.dbVersion,
    });
  }

  #watch(): void {
    const schedule = () => {
      if (this.#closed) return;
      clearTimeout(this.#debounce);
      // reload() handles its own failures; the catch only keeps a throwing logger from crashing us.
      this.#debounce = setTimeout(() => this.reload().catch(() => {}), this.#options.debounceMs ?? 100);
    };
    // The directory, not the file: replacing a file by rename (how geoipupdate and `mv` work) gives it
    // a new inode, and a watch on the old inode would never fire again. Any event in the directory
    // only costs a stat; the signature decides whether our file changed, which also covers a symlink
    // retargeted elsewhere (Kubernetes ConfigMaps swap a `..data` link, not the file). A path that is a
    // symlink into another directory is not watched there; polling picks such a change up.
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, schedule);
      this.#watcher.on("error", (error) => {
        this.#options.logger?.warn("geo database watch failed; relying on polling", {
          path: this.path,
          error: error.message,
        });
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (error) {
      this.#options.logger?.warn("geo database cannot be watched; relying on polling", {
        path: this.path,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    const pollMs = this.#options.pollMs ?? 60_000;
    if (pollMs > 0) {
      this.#poller = setInterval(schedule, pollMs);
      this.#poller.unref();
    }
  }
}

interface Loaded {
  geo: MaxmindGeo;
  signature: FileSignature;
}

/** A version of the file that did not open, and which version that was. */
class LoadError extends Error {
  override readonly name = "LoadError";
  constructor(
    readonly signature: FileSignature,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * Reads and opens one version of the file. The handle pins the inode, so the signature and the bytes
 * belong to the same file even if another is renamed over it meanwhile.
 */
async function load(path: string, options?: MaxmindGeoOptions): Promise<Loaded> {
  const handle = await openFile(path, "r");
  try {
    const stats = await handle.stat();
    const signature = signatureFrom(stats);
    try {
      const bytes = await handle.readFile();
      // Written to while we read (an in-place rewrite): not one consistent version.
      if (bytes.length !== stats.size) {
        throw new Error(`file changed while reading (${stats.size} -> ${bytes.length} bytes)`);
      }
      return { geo: MaxmindGeo.fromBuffer(bytes, path, options), signature };
    } catch (error) {
      throw new LoadError(signature, error);
    }
  } finally {
    await handle.close();
  }
}

async function signatureOf(path: string): Promise<FileSignature> {
  const handle = await openFile(path, "r");
  try {
    return signatureFrom(await handle.stat());
  } finally {
    await handle.close();
  }
}

function signatureFrom(stats: {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}
