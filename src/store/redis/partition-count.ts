/**
 * The deployment's number of decision partitions, as Redis records it (keys.ts `partitionCount`, set by the
 * first instance): tools that are no instance (the report and verify CLIs) read the partitions the
 * instances write, whatever their own environment says.
 */
import type { RedisClient } from "../../platform/node/redis.js";
import { DEFAULT_DECISION_PARTITIONS, type RedisKeys, redisKeys } from "./keys.js";

/** `redisKeys(prefix)` with the partition count stored in Redis (the default when none is stored yet). */
export async function storedRedisKeys(redis: RedisClient, prefix: string): Promise<RedisKeys> {
  const stored = await redis.get(redisKeys(prefix, { partitions: 1 }).partitionCount);
  const partitions = stored === null ? DEFAULT_DECISION_PARTITIONS : Number(stored);
  return redisKeys(prefix, { partitions });
}
