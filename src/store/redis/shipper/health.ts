/**
 * What the shipper says about itself: its status for /readyz (connected, backlog, degraded) and its
 * failure reports, one warning when an outage starts and then one per 10 s.
 */
import type { Logger } from "../../../kernel/logger.js";
import { isUnavailable } from "../../../platform/node/redis.js";
import type { Backlog } from "./backlog.js";
import { instruments } from "./metrics.js";

export interface ShipperStatus {
  /** Redis answers and the last command to it succeeded. */
  connected: boolean;
  /** Records in the outbox not yet in the stream (an estimate while appends race the count). */
  backlog: number;
  /** ISO time of the last acknowledged batch, null before the first. */
  lastShippedAt: string | null;
  lastError?: string;
  /** Redis is unreachable, or the oldest unshipped record waits longer than `degradedAfterMs`. */
  degraded: boolean;
}

export class ShipperHealth {
  /** Failed steps in a row; 0 while shipping works. */
  failures = 0;
  private lastError: string | undefined;
  private lastShippedAt: string | null = null;
  private lastWarnAt = 0;

  constructor(
    private readonly backlog: Backlog,
    private readonly degradedAfterMs: number,
    private readonly logger: Logger,
  ) {}

  status(redisReady: boolean): ShipperStatus {
    const connected = redisReady && this.failures === 0;
    const backlog = this.backlog.value();
    return {
      connected,
      backlog,
      lastShippedAt: this.lastShippedAt,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      degraded: !connected || (backlog > 0 && this.backlog.waitingMs() > this.degradedAfterMs),
    };
  }

  shipped(): void {
    this.lastShippedAt = new Date().toISOString();
  }

  /** A connection error event: commands fail on their own as well, and the loop reports those. */
  connectionError(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
  }

  failed(err: unknown): void {
    this.failures++;
    this.lastError = err instanceof Error ? err.message : String(err);
    const redisFault = isUnavailable(err) || (err instanceof Error && err.name === "ReplyError");
    if (redisFault) instruments.redisErrors.add(1, { component: "stream-shipper" });
    // One warning when an outage starts, then one per 10 s: an outage must not flood the logs.
    const now = Date.now();
    if (this.failures === 1 || now - this.lastWarnAt > 10_000) {
      this.lastWarnAt = now;
      this.logger.warn("decision stream: shipping failed; records wait in the outbox", {
        error: this.lastError,
        failures: this.failures,
        backlog: this.backlog.value(),
      });
    }
  }

  /** A step succeeded: an outage, if there was one, is over. */
  succeeded(): void {
    if (this.failures === 0) return;
    this.logger.info("decision stream: shipping again", { failures: this.failures });
    this.failures = 0;
  }
}
