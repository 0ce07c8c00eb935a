/**
 * `RedisOrderStore`: orders and their hash-chained audit log (I7) in RedisClient, behind `OrderStore`, for
 * deployments with `REDIS_URL`. It owns these keys (names from keys.ts), all under one hash tag so
 * one script may touch them together on Redis Cluster:
 *
 *   orders              HASH orderId -> the order's current state (JSON)
 *   order-ids           LIST order ids in creation order
 *   audit               LIST audit entries (JSON); index = seq - 1
 *   order-audit:<id>    LIST the seqs of one order's entries
 *   head                HASH {seq, hash}: the chain's last entry
 *   epoch               STRING a random token made with the history's first entry
 *
 * One write per change (I7). The new state is computed in JS (the engine is JS), then one Lua script
 * (APPLY_CHANGE below) checks that the head is still the one the change was computed from and, in the
 * same atomic step, stores the order, appends the entry and moves the head. Redis runs a script to the end
 * before anything else and persists its effects as one transaction, so neither a crash of this process
 * nor one of Redis leaves an order without its entry or an entry without its order.
 *
 * Several Cordon instances may share one Redis. Within an instance, changes are serialised by a promise
 * chain (as in OrderJournal); across instances, by optimistic concurrency on the head: a script that finds
 * the head moved writes nothing, and the change is re-read and recomputed. Every write extends the head it
 * read, so the chain stays gapless, and `change` always judges the latest state: of two approvals from
 * two instances one lands and the other, re-run on the approved order, throws ILLEGAL_TRANSITION.
 *
 * Failures. An unreachable, restarting or slow Redis makes every call reject with StoreUnavailableError
 * within the command timeout (the client does not queue while disconnected). A write whose reply never
 * came may still have landed: the audit log is the answer to "did it?". The client does not resend such
 * a write after reconnecting, so it cannot land long after its caller was told it failed.
 *
 * Epoch. A Redis that restarts without its data answers like a new deployment: no head, no orders. The
 * epoch tells the two apart: a store that has seen the history's epoch writes only while Redis still holds
 * it (checked in the same script as the head), so an emptied Redis is refused (HistoryLostError), never
 * silently given a new history whose seqs and ruleset versions restart at 1. A store that has not seen
 * one (a new deployment) begins the history and its epoch with the first entry; MirroredOrderStore tells
 * it the epoch an instance mirrored before it opened.
 *
 * Durability is Redis's: a change resolves once Redis executed it, and survives a crash of Redis only as
 * far as its persistence does (AOF with `appendfsync always` for what OrderJournal promises).
 */
import { randomUUID } from "node:crypto";
import type { ChainableCommander, RedisOptions } from "ioredis";
import type { Order } from "../../engine/index.js";
import { HistoryLostError, StoreUnavailableError } from "../../kernel/errors.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import { createRedis, isUnavailable, nodeFor, type RedisClient } from "../../platform/node/redis.js";
import {
  type ChainHead,
  type ChainVerdict,
  canonicalJson,
  changeEntry,
  deepFreeze,
  verifyChain,
  verifyNext,
  ZERO_HASH,
} from "../audit.js";
import { type ApplyChange, AuditChainError, type AuditEntry, type OrderStore } from "../interface.js";
import { type RedisKeys, redisKeys } from "./keys.js";

export interface RedisOrderStoreOptions {
  /** Key prefix and hash tag (keys.ts); several deployments can share one Redis. Default `cordon`. */
  prefix?: string;
  logger?: Logger;
  /** Per-command timeout, ms. Default 1000 (createRedis). */
  commandTimeoutMs?: number;
  /** How long `open` waits for the first connection, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Extra ioredis options (tests shorten timeouts). */
  redis?: Partial<RedisOptions>;
  /** How long an order change waits for a replica's acknowledgement (WAIT), ms. Default 500, under the command timeout. */
  replicaWaitMs?: number;
}

/**
 * The one write of a change. All reads and checks come before the first write: Redis does not roll back a
 * script that fails halfway, so nothing may fail once writing has begun.
 *
 * KEYS: 1 orders, 2 order-ids, 3 audit, 4 order-audit:<orderId>, 5 head, 6 epoch.
 * ARGV: 1 expected head seq, 2 expected head hash, 3 orderId, 4 order JSON, 5 entry JSON, 6 entry seq,
 *       7 entry hash, 8 expected epoch ('' when none is known: a new history), 9 the epoch to begin one with.
 * Writes: the order, the entry, the entry's seq on the order's list, the head; and the order id on
 *         order-ids when the order did not exist before (its create), so the list is the creation order;
 *         and the epoch with the first entry of a new history.
 * Reply: {"ok", seq} when written; {"conflict", current head seq} when the head is no longer the expected
 *        one (nothing written); {"epoch", the epoch held or ''} when the epoch is not the expected one
 *        (nothing written); an error starting with CORDON_CORRUPT when the audit list's length does not
 *        match the head, or a history has no epoch (nothing written: appending would fork or gap the chain).
 */
const APPLY_CHANGE = `
local epoch = redis.call('GET', KEYS[6])
if (epoch or '') ~= ARGV[8] then
  return {'epoch', epoch or ''}
end
local head = redis.call('HMGET', KEYS[5], 'seq', 'hash')
local seq = head[1] or '0'
if seq ~= ARGV[1] or (head[1] and head[2] ~= ARGV[2]) then
  return {'conflict', seq}
end
local len = redis.call('LLEN', KEYS[3])
if len ~= tonumber(seq) then
  return redis.error_reply('CORDON_CORRUPT the audit list holds ' .. len .. ' entries but the head is at seq ' .. seq)
end
if not epoch and seq ~= '0' then
  return redis.error_reply('CORDON_CORRUPT the history has ' .. seq .. ' entries but no epoch')
end
local created = redis.call('HEXISTS', KEYS[1], ARGV[3]) == 0
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[5])
if created then redis.call('RPUSH', KEYS[2], ARGV[3]) end
redis.call('RPUSH', KEYS[4], ARGV[6])
redis.call('HSET', KEYS[5], 'seq', ARGV[6], 'hash', ARGV[7])
if not epoch then redis.call('SET', KEYS[6], ARGV[9]) end
return {'ok', ARGV[6]}
`;

const APPLY_COMMAND = "cordonApplyOrderChange";

type ApplyReply = [status: "ok" | "conflict" | "epoch", seqOrEpoch: string];

type ScriptedRedis = RedisClient & {
  [APPLY_COMMAND](...keysAndArgs: string[]): Promise<ApplyReply>;
};

/**
 * Conflicts only happen while other instances write, and each one means some instance's change landed,
 * so the chain always makes progress; the bound stops one unlucky instance from spinning forever.
 */
const MAX_ATTEMPTS = 50;
/** Audit entries per LRANGE when streaming the whole log. */
const PAGE = 1000;
const HASH_HEX = /^[0-9a-f]{64}$/;

export class RedisOrderStore implements OrderStore {
  /** Tail of the promise chain that serialises `applyChange` within this instance. */
  private tail: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  /** Set while disconnected, so a Redis outage logs one warning rather than one per reconnect attempt. */
  private down = false;
  /** The epoch of the history this store writes in; undefined until it has seen or begun one. */
  private writingEpoch: string | undefined;

  private constructor(
    private readonly client: ScriptedRedis,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
    private readonly replicaWaitMs: number,
  ) {
    client.on("error", (err: Error) => {
      if (this.down) return;
      this.down = true;
      this.logger.warn("redis order store: connection lost, answering StoreUnavailableError", {
        error: err.message,
      });
    });
    client.on("ready", () => {
      this.down = false;
    });
  }

  /**
   * Connects, and checks that the head matches the last audit entry before answering anything: a store
   * whose head and log disagree is refused (AuditChainError) rather than written on.
   */
  static async open(url: string, options: RedisOrderStoreOptions = {}): Promise<RedisOrderStore> {
    const client = createRedis(url, {
      name: "orders",
      ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
      // A write whose reply was lost must not be sent again after a reconnect: its caller has already
      // been told it failed, and the write may have landed the first time.
      overrides: { autoResendUnfulfilledCommands: false, ...options.redis },
    }) as ScriptedRedis;
    client.defineCommand(APPLY_COMMAND, { numberOfKeys: 6, lua: APPLY_CHANGE });
    const store = new RedisOrderStore(
      client,
      redisKeys(options.prefix),
      options.logger ?? SILENT_LOGGER,
      options.replicaWaitMs ?? 500,
    );
    try {
      await waitReady(client, options.connectTimeoutMs ?? 5000);
      await store.checkHead();
      return store;
    } catch (err) {
      client.disconnect();
      throw err;
    }
  }

  // ---- reads ----

  async listOrders(): Promise<Order[]> {
    // One transaction, so the list and the hash are from the same moment.
    const [ids, stored] = (await this.exec("listOrders", (m) =>
      m.lrange(this.keys.orderIds, 0, -1).hgetall(this.keys.orders),
    )) as [string[], Record<string, string>];
    const orders = ids.map((id) => {
      const text = stored[id];
      if (text === undefined) throw new AuditChainError(`order ${id} is listed but not stored`, 0);
      return parseOrder(id, text);
    });
    if (Object.keys(stored).length !== ids.length) {
      throw new AuditChainError(`${Object.keys(stored).length} orders stored but ${ids.length} listed`, 0);
    }
    return orders;
  }

  async getOrder(id: string): Promise<Order | undefined> {
    const text = await this.call("getOrder", () => this.client.hget(this.keys.orders, id));
    return text === null ? undefined : parseOrder(id, text);
  }

  async readAudit(opts: { orderId?: string; after?: number; limit?: number }): Promise<AuditEntry[]> {
    const { orderId, after = 0, limit = Number.POSITIVE_INFINITY } = opts;
    const from = Math.max(0, Math.floor(after));
    const count = Math.ceil(limit);
    if (!Number.isSafeInteger(from) || !(count > 0)) return [];

    if (orderId === undefined) {
      // seq n sits at index n - 1, so "seq > after" starts at index `after`.
      const to = Number.isSafeInteger(from + count) ? from + count - 1 : -1;
      const texts = await this.call("readAudit", () => this.client.lrange(this.keys.audit, from, to));
      // Each entry must hash right and sit at its seq, and each must link to the one before it.
      let prev: ChainHead | undefined;
      return texts.map((text, i) => {
        const entry = parseEntry(text, from + i + 1, prev);
        prev = { seq: entry.seq, hash: entry.hash };
        return entry;
      });
    }

    const seqs = (
      await this.call("readAudit", () => this.client.lrange(this.keys.orderAudit(orderId), 0, -1))
    )
      .map(Number)
      .filter((seq) => seq > from)
      .slice(0, count);
    if (seqs.length === 0) return [];
    const texts = (await this.exec("readAudit", (m) => {
      for (const seq of seqs) m.lindex(this.keys.audit, seq - 1);
      return m;
    })) as (string | null)[];
    return texts.map((text, i) => {
      const seq = seqs[i] as number;
      if (text === null)
        throw new AuditChainError(`order ${orderId} lists seq ${seq}, which is not in the log`, seq);
      const entry = parseEntry(text, seq);
      if (entry.orderId !== orderId) {
        throw new AuditChainError(
          `order ${orderId} lists seq ${seq}, which belongs to ${entry.orderId}`,
          seq,
        );
      }
      return entry;
    });
  }

  async head(): Promise<{ seq: number; hash: string }> {
    const [seq, hash] = await this.call("head", () => this.client.hmget(this.keys.head, "seq", "hash"));
    return parseHead(seq ?? null, hash ?? null);
  }

  /** The epoch of the history held; undefined when Redis holds none (a new deployment, or emptied). */
  async epoch(): Promise<string | undefined> {
    return (await this.call("epoch", () => this.client.get(this.keys.epoch))) ?? undefined;
  }

  /**
   * What MirroredOrderStore compares with an instance's audit mirror, from one moment: the epoch, the
   * head, and the hash of the entry at `seq` (null when there is none, or it is not an entry).
   */
  async chainState(seq: number): Promise<{ epoch: string | null; head: ChainHead; hashAt: string | null }> {
    const [epoch, [headSeq, headHash], text] = (await this.exec("chainState", (m) =>
      m
        .get(this.keys.epoch)
        .hmget(this.keys.head, "seq", "hash")
        .lindex(this.keys.audit, Math.max(0, seq - 1)),
    )) as [string | null, [string | null, string | null], string | null];
    const entry = seq > 0 && text !== null ? (tryParse(text) as { hash?: unknown } | undefined) : undefined;
    return {
      epoch,
      head: parseHead(headSeq, headHash),
      hashAt: typeof entry?.hash === "string" ? entry.hash : null,
    };
  }

  /**
   * The epoch this store must write in: one an instance's audit mirror holds, so that a store opened on
   * an emptied Redis does not begin a new history there. A store already writing in another is refused.
   */
  expectEpoch(epoch: string): void {
    if (this.writingEpoch !== undefined && this.writingEpoch !== epoch) {
      throw new HistoryLostError(`this store writes in epoch ${this.writingEpoch}, not ${epoch}`);
    }
    this.writingEpoch = epoch;
  }

  // ---- the write ----

  readonly applyChange: ApplyChange = (...change) => {
    if (this.closing) return Promise.reject(new StoreUnavailableError("the store is closed"));
    const result = this.tail.then(() => this.commit(...change));
    this.tail = result.catch(() => undefined);
    return result;
  };

  /**
   * `change` may run more than once: each time another instance got its write in first, it is re-run
   * on the state that write left. It must therefore be pure, as the engine's functions are.
   */
  private async commit(
    ...[orderId, action, actor, at, change]: Parameters<ApplyChange>
  ): Promise<AuditEntry> {
    for (let attempt = 1; ; attempt++) {
      // Head and order from one moment: were they read apart, a write landing in between could pass the
      // head check below with the change computed from the order as it was before that write.
      const [[seq, hash], text] = (await this.exec("applyChange", (m) =>
        m.hmget(this.keys.head, "seq", "hash").hget(this.keys.orders, orderId),
      )) as [[string | null, string | null], string | null];
      const head = parseHead(seq, hash);
      const next = change(text === null ? undefined : parseOrder(orderId, text));
      const entry = changeEntry(head, { orderId, action, actor, at, order: next });
      const begin = this.writingEpoch === undefined ? randomUUID() : "";
      const [status, detail] = await this.call("applyChange", () =>
        this.client[APPLY_COMMAND](
          this.keys.orders,
          this.keys.orderIds,
          this.keys.audit,
          this.keys.orderAudit(orderId),
          this.keys.head,
          this.keys.epoch,
          String(head.seq),
          head.hash,
          orderId,
          JSON.stringify(entry.order),
          JSON.stringify(entry),
          String(entry.seq),
          entry.hash,
          this.writingEpoch ?? "",
          begin,
        ),
      );
      if (status === "ok") {
        if (this.writingEpoch === undefined) {
          this.writingEpoch = begin;
          this.logger.info("order history begun", { epoch: begin });
        }
        await this.awaitReplica(entry.seq);
        return deepFreeze(entry);
      }
      if (status === "epoch") {
        // Another store began the history first: write in it. Any other mismatch is a lost history.
        if (this.writingEpoch !== undefined || detail === "") {
          throw new HistoryLostError(
            `redis holds ${detail === "" ? "no order history epoch" : `epoch ${detail}`}, not epoch ${this.writingEpoch} this store wrote in`,
          );
        }
        this.writingEpoch = detail;
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new StoreUnavailableError(
          `applyChange: the head moved under ${MAX_ATTEMPTS} attempts in a row`,
        );
      }
      // Jitter, so instances that collided do not collide again in lockstep.
      await sleep(Math.random() * Math.min(2 ** attempt, 50));
    }
  }

  /**
   * DESIGN: an order change waits for a replica's acknowledgement when replicas exist, so a failover
   * right after the answer does not lose it. The write is already committed on the primary: a replica
   * that does not answer in time is logged, not turned into a failed change.
   */
  private async awaitReplica(seq: number): Promise<void> {
    // On a cluster, the shard that took the write: its master's replicas are the ones that matter.
    const node = await this.call("replicas", () => nodeFor(this.client, this.keys.head));
    const info = await this.call("replicas", () => node.info("replication"));
    const replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
    if (replicas === 0) return;
    const acked = await this.call("replicas", () => node.wait(1, this.replicaWaitMs));
    if (acked < 1) {
      this.logger.warn("order change not yet acknowledged by a replica", {
        seq,
        replicas,
        waitedMs: this.replicaWaitMs,
      });
    }
  }

  // ---- verification ----

  /**
   * Reads the whole log and judges it: the chain verifies from seq 1 and ends exactly at the head, every
   * order's stored state is the order of its last entry, the order list is the creation order, and every
   * per-order seq list matches the log. Reads a snapshot at the current head (entries are append-only, so
   * writes going on meanwhile do not disturb it). Throws only StoreUnavailableError. Holds the whole log
   * in memory while it judges it, as OrderJournal does all the time: orders are few and change rarely.
   */
  async verify(): Promise<ChainVerdict> {
    const [[seq, hash], ids, stored] = (await this.exec("verify", (m) =>
      m.hmget(this.keys.head, "seq", "hash").lrange(this.keys.orderIds, 0, -1).hgetall(this.keys.orders),
    )) as [[string | null, string | null], string[], Record<string, string>];
    let head: ChainHead;
    try {
      head = parseHead(seq, hash);
    } catch (err) {
      return { ok: false, seq: 0, reason: (err as Error).message };
    }

    const entries: AuditEntry[] = [];
    for (let from = 0; from < head.seq; from += PAGE) {
      const to = Math.min(from + PAGE, head.seq) - 1;
      const texts = await this.call("verify", () => this.client.lrange(this.keys.audit, from, to));
      for (const [i, text] of texts.entries()) {
        const entry = tryParse(text);
        if (entry === undefined) return { ok: false, seq: from + i + 1, reason: "entry is not JSON" };
        entries.push(entry as AuditEntry);
      }
      if (texts.length < to - from + 1) break; // a short log: verifyChain names where it ends
    }
    const verdict = verifyChain(entries, { head });
    if (!verdict.ok) return verdict;

    // The last entry of each order, in creation order (Map keeps first-insertion order).
    const last = new Map<string, AuditEntry>();
    const seqsOf = new Map<string, number[]>();
    for (const entry of entries) {
      last.set(entry.orderId, entry);
      const seqs = seqsOf.get(entry.orderId);
      if (seqs) seqs.push(entry.seq);
      else seqsOf.set(entry.orderId, [entry.seq]);
    }
    const created = [...last.keys()];
    if (canonicalJson(ids) !== canonicalJson(created)) {
      return {
        ok: false,
        seq: head.seq,
        reason: "the order list differs from the creation order in the log",
      };
    }
    if (Object.keys(stored).length !== created.length) {
      return { ok: false, seq: head.seq, reason: "orders are stored that the log never created" };
    }
    const lists = (await this.exec("verify", (m) => {
      for (const id of created) m.lrange(this.keys.orderAudit(id), 0, -1);
      return m;
    })) as string[][];
    for (const [i, id] of created.entries()) {
      const entry = last.get(id) as AuditEntry;
      const text = stored[id];
      if (text === undefined || canonicalJson(tryParse(text) ?? null) !== canonicalJson(entry.order)) {
        return { ok: false, seq: entry.seq, reason: `order ${id} differs from its last audit entry` };
      }
      // Seqs past the snapshot's head belong to writes made since; they are judged next time.
      const listed = (lists[i] ?? []).map(Number).filter((s) => s <= head.seq);
      if (canonicalJson(listed) !== canonicalJson(seqsOf.get(id))) {
        return { ok: false, seq: entry.seq, reason: `the audit index of order ${id} differs from the log` };
      }
    }
    return verdict;
  }

  /** The cheap check of `open`: the head is the last entry of the log, and that entry is intact. */
  private async checkHead(): Promise<void> {
    const [[seq, hash], length, lastText, orderCount, epoch] = (await this.exec("open", (m) =>
      m
        .hmget(this.keys.head, "seq", "hash")
        .llen(this.keys.audit)
        .lindex(this.keys.audit, -1)
        .hlen(this.keys.orders)
        .get(this.keys.epoch),
    )) as [[string | null, string | null], number, string | null, number, string | null];
    const head = parseHead(seq, hash);
    if (length !== head.seq) {
      throw new AuditChainError(
        `the audit log holds ${length} entries but the head is at seq ${head.seq}`,
        head.seq,
      );
    }
    if (head.seq === 0) {
      if (orderCount !== 0) throw new AuditChainError(`${orderCount} orders stored without an audit log`, 0);
      this.writingEpoch = epoch ?? undefined;
      return;
    }
    const last = parseEntry(lastText as string, head.seq);
    if (last.hash !== head.hash) {
      throw new AuditChainError(`the head hash differs from the hash of entry ${head.seq}`, head.seq);
    }
    this.writingEpoch = epoch ?? (await this.giveEpoch(head.seq));
  }

  /** A history written before epochs existed gets one now (SET NX: every instance ends up with the same). */
  private async giveEpoch(seq: number): Promise<string> {
    const [, held] = (await this.exec("open", (m) =>
      m.set(this.keys.epoch, randomUUID(), "NX").get(this.keys.epoch),
    )) as [unknown, string];
    this.logger.info("order history had no epoch; it has one now", { seq, epoch: held });
    return held;
  }

  /** Waits for changes under way, then disconnects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.tail;
      try {
        await this.client.quit();
      } catch {
        this.client.disconnect(); // Redis is gone: nothing to say goodbye to
      }
    })();
    return this.closing;
  }

  // ---- Redis calls ----

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw translate(what, err);
    }
  }

  /** A MULTI/EXEC: its commands run as one step. Resolves with their replies, or throws the first error. */
  private async exec(what: string, build: (m: ChainableCommander) => ChainableCommander): Promise<unknown[]> {
    const replies = await this.call(what, () => build(this.client.multi()).exec());
    if (replies === null) throw new StoreUnavailableError(`redis: ${what}: the transaction was aborted`);
    return replies.map(([err, reply]) => {
      if (err) throw translate(what, err);
      return reply;
    });
  }
}

function translate(what: string, err: unknown): unknown {
  if (err instanceof StoreUnavailableError || err instanceof AuditChainError) return err;
  if (isUnavailable(err)) {
    return new StoreUnavailableError(`redis: ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (err instanceof Error && err.message.startsWith("CORDON_CORRUPT")) {
    return new AuditChainError(err.message.replace(/^CORDON_CORRUPT /, ""), 0);
  }
  return err;
}

async function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("ready", onReady);
      reject(new StoreUnavailableError(`redis: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once("ready", onReady);
  });
}

function parseHead(seq: string | null, hash: string | null): ChainHead {
  if (seq === null && hash === null) return { seq: 0, hash: ZERO_HASH };
  const n = Number(seq);
  if (!Number.isSafeInteger(n) || n < 1 || String(n) !== seq || hash === null || !HASH_HEX.test(hash)) {
    throw new AuditChainError(`the chain head is malformed: seq ${seq}, hash ${hash}`, 0);
  }
  return { seq: n, hash };
}

/** An audit entry read back: it must be JSON, sit at `seq`, hash right and, given `prev`, link to it. */
function parseEntry(text: string, seq: number, prev?: ChainHead): AuditEntry {
  const entry = tryParse(text) as AuditEntry | undefined;
  if (entry === null || typeof entry !== "object") {
    throw new AuditChainError(`audit entry ${seq} is not a JSON object`, seq);
  }
  // Without a known predecessor, its own prevHash stands in: the seq, hash and orderId are still checked.
  const problem = verifyNext(prev ?? { seq: seq - 1, hash: entry.prevHash }, entry);
  if (problem !== undefined) throw new AuditChainError(`audit entry ${seq}: ${problem}`, seq);
  return deepFreeze(entry);
}

function parseOrder(id: string, text: string): Order {
  const order = tryParse(text) as Order | undefined;
  if (order?.id !== id) throw new AuditChainError(`the stored order ${id} is not an order with that id`, 0);
  // Frozen like OrderJournal's: an order handed out cannot be edited in place behind the log's back.
  return deepFreeze(order);
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
