/**
 * Re-seeds an emptied Redis with an order history (`cordon restore`): from a verified audit chain (an
 * instance's mirror, or a copy of one) it rebuilds exactly what RedisOrderStore keeps (order-store.ts
 * lists the keys: orders, order ids, audit, per-order audit lists, head, and the epoch) by replaying the
 * entries, and writes it in one script that first checks that Redis holds no history at all. Nothing is
 * written over a history, and a running instance cannot slip a write in between the check and the seed.
 */

import type { RedisClient } from "../../platform/node/redis.js";
import type { ChainHead } from "../audit.js";
import type { AuditEntry } from "../interface.js";
import type { RedisKeys } from "./keys.js";

/** What a restore writes: the replayed state of a verified chain. */
export interface RestorePlan {
  epoch: string;
  head: ChainHead;
  entries: readonly AuditEntry[];
  /** Order ids in creation order, each with its current state (its last entry's) and its entries' seqs. */
  orders: { id: string; order: AuditEntry["order"]; seqs: number[] }[];
}

/** Replays a chain (already verified from seq 1) into the state RedisOrderStore would hold after it. */
export function planRestore(epoch: string, entries: readonly AuditEntry[]): RestorePlan {
  const orders = new Map<string, { id: string; order: AuditEntry["order"]; seqs: number[] }>();
  for (const entry of entries) {
    const held = orders.get(entry.orderId);
    if (held) {
      held.order = entry.order;
      held.seqs.push(entry.seq);
    } else {
      orders.set(entry.orderId, { id: entry.orderId, order: entry.order, seqs: [entry.seq] });
    }
  }
  const last = entries.at(-1);
  if (last === undefined) throw new Error("an empty chain: nothing to restore");
  return { epoch, head: { seq: last.seq, hash: last.hash }, entries, orders: [...orders.values()] };
}

/**
 * KEYS: 1 epoch, 2 head, 3 audit, 4 orders, 5 order-ids, then order-audit:<id> of each order in
 * creation order. ARGV: 1 epoch, 2 head seq, 3 head hash, 4 entry count N, then N entries (JSON), then
 * per order: its id, its JSON and its seqs joined by ','.
 * All reads (the emptiness check) come before the first write. Answers the number of entries written,
 * or an error starting with CORDON_NOT_EMPTY naming a key that holds data.
 */
const RESTORE = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return redis.error_reply('CORDON_NOT_EMPTY ' .. KEYS[i])
  end
end
local n = tonumber(ARGV[4])
for i = 1, n do redis.call('RPUSH', KEYS[3], ARGV[4 + i]) end
local at = 4 + n
for k = 6, #KEYS do
  local id, order, seqs = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  at = at + 3
  redis.call('HSET', KEYS[4], id, order)
  redis.call('RPUSH', KEYS[5], id)
  for seq in string.gmatch(seqs, '[^,]+') do redis.call('RPUSH', KEYS[k], seq) end
end
redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'hash', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1])
return n
`;

/** Redis already holds (part of) an order history: a restore never writes over one. */
export class HistoryPresentError extends Error {
  override readonly name = "HistoryPresentError";
}

/** Writes `plan` into a Redis that holds no order history, in one script; throws HistoryPresentError if it holds one. */
export async function seedHistory(redis: RedisClient, keys: RedisKeys, plan: RestorePlan): Promise<number> {
  const keyList = [
    keys.epoch,
    keys.head,
    keys.audit,
    keys.orders,
    keys.orderIds,
    ...plan.orders.map((o) => keys.orderAudit(o.id)),
  ];
  const args = [
    plan.epoch,
    String(plan.head.seq),
    plan.head.hash,
    String(plan.entries.length),
    ...plan.entries.map((e) => JSON.stringify(e)),
    ...plan.orders.flatMap((o) => [o.id, JSON.stringify(o.order), o.seqs.join(",")]),
  ];
  try {
    return Number(await redis.eval(RESTORE, keyList.length, ...keyList, ...args));
  } catch (err) {
    if (err instanceof Error && err.message.startsWith("CORDON_NOT_EMPTY")) {
      throw new HistoryPresentError(
        `redis already holds an order history (${err.message.replace(/^CORDON_NOT_EMPTY /, "")} exists); a restore never writes over one`,
      );
    }
    throw err;
  }
}
