/**
 * `MirroredOrderStore`: the Redis order store as an instance uses it, following the audit chain into the
 * instance's `AuditMirror` on local disk and comparing the two before every call. While Redis holds the
 * history the mirror holds (same epoch, the mirror's last entry at its seq, nothing cut off) calls go
 * through and new entries are mirrored; when Redis holds no history under a mirror that has one (emptied,
 * restarted without its data) or another one, every call is refused with HistoryLostError (a 503 naming
 * `cordon restore`) and one error is logged, so nothing is written over the history that was lost and
 * no order list from the wrong history is shown. Once Redis holds the history again (restored), calls
 * go through again by themselves.
 */
import { HistoryLostError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import type { AuditMirror } from "../file/audit-mirror.js";
import { type ApplyChange, AuditChainError, type OrderStore } from "../interface.js";
import type { RedisOrderStore } from "./order-store.js";

export interface MirroredOrderStoreOptions {
  logger: Logger;
  /** How often the chain is followed while no call comes, ms (so a quiet instance mirrors too). */
  followMs: number;
}

export class MirroredOrderStore implements OrderStore {
  /** One follow at a time: appends to the mirror must not interleave. */
  private following: Promise<unknown> = Promise.resolve();
  /** Why calls are refused, while they are (logged once per episode). */
  private lost: string | undefined;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly logger: Logger;

  constructor(
    private readonly store: RedisOrderStore,
    private readonly mirror: AuditMirror,
    options: MirroredOrderStoreOptions,
  ) {
    this.logger = options.logger;
    this.timer = setInterval(() => void this.follow().catch(() => undefined), options.followMs);
    this.timer.unref();
  }

  async listOrders() {
    await this.follow();
    return this.store.listOrders();
  }

  async getOrder(id: string) {
    await this.follow();
    return this.store.getOrder(id);
  }

  async readAudit(opts: Parameters<OrderStore["readAudit"]>[0]) {
    await this.follow();
    return this.store.readAudit(opts);
  }

  async head() {
    await this.follow();
    return this.store.head();
  }

  async epoch() {
    await this.follow();
    return this.store.epoch();
  }

  readonly applyChange: ApplyChange = async (...change) => {
    await this.follow();
    const entry = await this.store.applyChange(...change);
    // Mirrored now rather than at the next call; a failure here is the next follow's to repeat.
    await this.follow().catch(() => undefined);
    return entry;
  };

  /** Why order calls are refused, if they are (for readiness). */
  refusal(): string | undefined {
    return this.lost;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.following.catch(() => undefined);
    await this.store.close();
  }

  /** Compares Redis with the mirror and mirrors what is new; throws HistoryLostError when they differ. */
  private follow(): Promise<void> {
    const run = this.following.then(() => this.followOnce());
    this.following = run.catch(() => undefined);
    return run;
  }

  private async followOnce(): Promise<void> {
    if (this.mirror.problem !== undefined) this.refuse(this.mirror.problem);
    const mirrored = this.mirror.head;
    const state = await this.store.chainState(mirrored.seq);
    const problem = divergence(this.mirror.epoch, mirrored, state);
    if (problem !== undefined) this.refuse(problem);
    if (state.epoch === null) return; // nothing anywhere yet: the first write begins the history
    await this.mirror.adopt(state.epoch);
    this.store.expectEpoch(state.epoch);
    if (state.head.seq > mirrored.seq) {
      try {
        await this.mirror.append(await this.store.readAudit({ after: mirrored.seq }));
      } catch (err) {
        if (err instanceof AuditChainError)
          this.refuse(`the entries after the mirror's do not follow it: ${err.message}`);
        throw err;
      }
    }
    if (this.lost !== undefined) {
      this.logger.warn("order history in redis matches the audit mirror again; order changes resume", {
        epoch: state.epoch,
        seq: state.head.seq,
      });
      this.lost = undefined;
    }
  }

  private refuse(reason: string): never {
    if (this.lost !== reason) {
      this.logger.error(
        "order history in redis lost or diverged from the audit mirror; order changes refused",
        {
          reason,
          mirror: this.mirror.path,
          remedy:
            "cordon restore --redis <url> --from <an instance's audit-mirror directory or a copy of it>",
        },
      );
    }
    this.lost = reason;
    throw new HistoryLostError(reason);
  }
}

/** What makes Redis's history not the mirror's, or undefined when Redis holds it (and perhaps more). */
function divergence(
  epoch: string | undefined,
  mirrored: { seq: number; hash: string },
  state: Awaited<ReturnType<RedisOrderStore["chainState"]>>,
): string | undefined {
  if (state.epoch === null) {
    if (epoch === undefined && mirrored.seq === 0) return undefined;
    return `redis holds no order history (no epoch, ${state.head.seq} entries) where the audit mirror holds ${mirrored.seq} entries of epoch ${epoch}: redis was emptied or restarted without its data`;
  }
  if (epoch !== undefined && state.epoch !== epoch) {
    return `redis holds the order history of epoch ${state.epoch}, not epoch ${epoch} that the audit mirror holds`;
  }
  if (state.head.seq < mirrored.seq) {
    return `redis's order history ends at seq ${state.head.seq}, before the audit mirror's seq ${mirrored.seq}: entries were lost`;
  }
  if (mirrored.seq > 0 && state.hashAt !== mirrored.hash) {
    return `redis's audit entry ${mirrored.seq} differs from the audit mirror's`;
  }
  return undefined;
}
