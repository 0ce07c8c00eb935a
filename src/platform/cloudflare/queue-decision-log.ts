/**
 * `QueueDecisionLog`: the edge's decision sink. It only appends: records become messages on the
 * `DECISIONS` Queue, many records per message (`decision-messages.ts`), and the Queue consumer
 * (`decision-consumer.ts`) delivers them to Node's decision log.
 *
 * Group commit: records appended by concurrent checks in one isolate within `windowMs` of the first go
 * out in one flush (one `sendBatch`, more only past the Queue's per-send limits). I5 at the edge: each
 * `append` resolves only once the flush carrying its records has been accepted (persisted) by the
 * Queue, and the check route awaits it before answering; a flush that fails, or is not confirmed within
 * `timeoutMs`, fails every append it carried with StoreUnavailableError (a 503), never an answer
 * without a record.
 * Lifetime: one per isolate, like the Queue binding.
 */
import type { Queue } from "@cloudflare/workers-types";
import type { DecisionRecord } from "../../engine/index.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { DecisionSink } from "../../store/interface.js";
import { jsonBytes, MAX_MESSAGE_BYTES, MAX_SEND_BYTES, packRecords } from "./decision-messages.js";

export interface QueueDecisionLogOptions {
  /**
   * How long the first pending record waits for others before the flush (ms). It is added to a check's
   * latency, so it stays a few milliseconds: enough for the checks an isolate serves at once to share
   * a message during a busy moment, which is when the Queue's message rate matters.
   */
  windowMs?: number;
  /**
   * How long past its window a group may stay unsent before a check waiting on it sends it itself: the
   * request that opened it was cancelled (a client that went away) before its window ended.
   */
  takeoverMs?: number;
  /**
   * How long an append waits for its flush once it is being sent. A send belongs to the request that
   * started it; if that request is cancelled, the send may never settle, and the checks waiting on it
   * answer 503.
   */
  timeoutMs?: number;
  /** Bytes of JSON per message body. */
  maxMessageBytes?: number;
}

export const DEFAULT_WINDOW_MS = 5;
export const DEFAULT_TAKEOVER_MS = 250;
export const DEFAULT_TIMEOUT_MS = 10_000;
/** How often a check whose records another check is sending looks whether that send is done (ms). */
const POLL_MS = 2;

/** Records waiting for one flush, and how that flush went. Plain data, read by every check it carries. */
interface Group {
  records: DecisionRecord[];
  bytes: number;
  openedAt: number;
  state: "open" | "sending" | "sent" | "failed";
  error?: StoreUnavailableError;
}

export class QueueDecisionLog implements DecisionSink {
  private open: Group | undefined;
  private readonly windowMs: number;
  private readonly takeoverMs: number;
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;

  constructor(
    // Typed by what it takes, not by the message body: the binding is declared for records of either form.
    private readonly queue: Pick<Queue<unknown>, "sendBatch">,
    options: QueueDecisionLogOptions = {},
  ) {
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.takeoverMs = options.takeoverMs ?? DEFAULT_TAKEOVER_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  }

  /**
   * The first check of a group leads it: it waits the window, then sends the group's records from its
   * own request. The others wait for that send by looking at the group's state with their own timers.
   * workerd ties a promise and a timer to the request that made it (resolving one request's promise
   * from another's send fails there with "Cannot perform I/O on behalf of a different request"), so
   * no check awaits anything another request created.
   */
  async append(records: readonly DecisionRecord[]): Promise<void> {
    if (records.length === 0) return;
    let joined = this.open;
    // Past its window and still open: its leader is gone. Its own waiters will send it; start anew.
    if (joined !== undefined && this.abandoned(joined)) joined = this.open = undefined;
    if (joined !== undefined) {
      joined.records.push(...records);
      joined.bytes += jsonBytes(records);
      // A full send's worth already: the leader sends now rather than after its window.
      if (joined.bytes >= MAX_SEND_BYTES) this.open = undefined;
      return this.waitFor(joined);
    }
    const group: Group = {
      records: [...records],
      bytes: jsonBytes(records),
      openedAt: performance.now(),
      state: "open",
    };
    this.open = group;
    await this.window(group);
    // Sent by a waiting check meanwhile (this request was too slow to come back): wait for that send.
    if (group.state !== "open") return this.waitFor(group);
    return this.sendGroup(group);
  }

  /** The leader's wait: the window, cut short when the group is closed because it is full. */
  protected async window(group: Group): Promise<void> {
    const until = group.openedAt + this.windowMs;
    while (this.open === group && performance.now() < until) await sleep(POLL_MS);
  }

  private abandoned(group: Group): boolean {
    return group.state === "open" && performance.now() - group.openedAt > this.windowMs + this.takeoverMs;
  }

  private async waitFor(group: Group): Promise<void> {
    const deadline = performance.now() + this.windowMs + this.takeoverMs + this.timeoutMs;
    while (group.state === "open" || group.state === "sending") {
      if (this.abandoned(group)) return this.sendGroup(group);
      // The sender's request may have been cancelled mid-send: no answer without a confirmed record.
      if (performance.now() > deadline) {
        throw new StoreUnavailableError(
          `decision queue did not confirm the records within ${this.timeoutMs} ms`,
        );
      }
      await sleep(POLL_MS);
    }
    if (group.state === "failed") throw group.error;
  }

  private async sendGroup(group: Group): Promise<void> {
    if (this.open === group) this.open = undefined;
    group.state = "sending";
    try {
      await this.send(group.records);
      group.state = "sent";
    } catch (err) {
      group.error = err as StoreUnavailableError;
      group.state = "failed";
      throw err;
    }
  }

  private async send(records: readonly DecisionRecord[]): Promise<void> {
    const { sends } = packRecords(records, this.maxMessageBytes);
    // All sends are awaited, even after one fails, so none is still in flight when the 503 goes out.
    // Sends that were accepted stay queued: records of a check that was not answered are harmless
    // (each is one decision that was made), whereas an answer without its record is what I5 forbids.
    const results = await Promise.allSettled(
      sends.map((bodies) =>
        this.queue.sendBatch(bodies.map((body) => ({ body, contentType: "json" as const }))),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
      throw new StoreUnavailableError(`decision queue refused the records: ${reason}`, {
        cause: failed.reason,
      });
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
