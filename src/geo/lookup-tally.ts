/**
 * A geo cache's lookups by result, kept twice: as numbers for the cache's `stats()`, and as an
 * OpenTelemetry counter (by `result`) for dashboards. Shared by the L1 (`CachedGeo`) and the Redis L2.
 */
import { type Attributes, type Counter, metrics } from "@opentelemetry/api";

const HIT: Attributes = Object.freeze({ result: "hit" });
const MISS: Attributes = Object.freeze({ result: "miss" });
const ERROR: Attributes = Object.freeze({ result: "error" });

export class LookupTally {
  hits = 0;
  misses = 0;
  errors = 0;
  readonly #counter: Counter;

  /**
   * Call from the cache's constructor, not at module load: the metrics API has no proxy meter, so an
   * instrument made before an SDK registers stays a no-op for good. Without an SDK, `add` is an empty call.
   */
  constructor(name: string, description: string) {
    this.#counter = metrics.getMeter("cordon").createCounter(name, { description });
  }

  hit(): void {
    this.hits++;
    this.#counter.add(1, HIT);
  }

  miss(): void {
    this.misses++;
    this.#counter.add(1, MISS);
  }

  error(): void {
    this.errors++;
    this.#counter.add(1, ERROR);
  }
}
