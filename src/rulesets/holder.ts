/**
 * Holds the ruleset every check reads. Long-lived: one per process (or Worker isolate). The swap is a
 * single reference assignment, so a check sees the whole old or the whole new ruleset, never a mix; an
 * older ruleset (a stale compile finishing late, an old KV value) never replaces a newer one.
 *
 * Runtime-free (the Worker uses it too). What fills it plugs in from outside: the compiler on the
 * server (`compiler.ts`), the Redis sync and its disk mirror, the edge's KV loader.
 */
import { emptyRuleset, type Ruleset } from "../engine/index.js";
import type { Clock } from "../kernel/runtime.js";

/** Where an installed ruleset came from: compiled here from the store, or received as a document. */
export type RulesetSource = "compile" | "redis" | "disk" | "kv";

export interface InstalledRuleset {
  source: RulesetSource;
  version: number;
  /** ISO time of the install, by the holder's clock. */
  at: string;
}

export class RulesetHolder {
  private ruleset: Ruleset;
  private loaded = false;
  private info: InstalledRuleset | undefined;
  private readonly installListeners = new Set<(ruleset: Ruleset) => void>();

  constructor(private readonly clock: Clock) {
    this.ruleset = emptyRuleset(new Date(0).toISOString());
  }

  current(): Ruleset {
    return this.ruleset;
  }

  /** True once any ruleset was installed (compiled, or received from Redis, disk or KV). */
  isLoaded(): boolean {
    return this.loaded;
  }

  /** The origin of the ruleset in force; undefined until one was installed. */
  get installed(): InstalledRuleset | undefined {
    return this.info;
  }

  /**
   * Installs a ruleset unless a newer one of the same order history is already in place. A ruleset of
   * another epoch (a restored or a deliberately new history) is taken whatever its version: versions
   * count within one history, so a lower number there is not an older ruleset. What decides that a new
   * epoch is the right one is the caller's (the Redis sync asks Redis, which holds the current epoch).
   */
  install(next: Ruleset, source: RulesetSource = "compile"): boolean {
    this.loaded = true;
    const otherEpoch = next.epoch !== undefined && next.epoch !== this.ruleset.epoch;
    if (!otherEpoch && next.version < this.ruleset.version) return false;
    this.ruleset = next;
    this.info = { source, version: next.version, at: new Date(this.clock()).toISOString() };
    for (const listener of this.installListeners) listener(next);
    return true;
  }

  /**
   * Calls `listener` after each ruleset installed, whatever filled it (the enforcement events reconcile
   * on it). Called synchronously within `install`: a listener starts its work and returns. Answers a
   * function that removes it.
   */
  onInstall(listener: (ruleset: Ruleset) => void): () => void {
    this.installListeners.add(listener);
    return () => this.installListeners.delete(listener);
  }
}
