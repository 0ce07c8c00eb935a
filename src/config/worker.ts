/**
 * The Worker's configuration: its vars and secrets (`wrangler.toml` `[vars]`, `wrangler secret put`),
 * parsed with zod once per isolate. A bad value stops the isolate's start with a message naming the
 * variable, never its value (CORDON_TOKENS and CORDON_IP_HASH_KEY are secrets). Tokens follow the Node
 * rule (`TokenList` from `config.ts`), so one CORDON_TOKENS value serves both runtimes.
 */
import { z } from "zod";
import { ConfigError, TokenList } from "./node.js";

const EdgeEnv = z.object({
  /** `principal:role:secret,...`: the edge needs checker tokens (and readers of the ruleset summary). */
  CORDON_TOKENS: TokenList,
  /**
   * I6: the HMAC key for decision records' `ipHash`. It must equal Node's CORDON_IP_HASH_KEY, or the
   * report's distinct participants would count one person twice across the two runtimes.
   */
  CORDON_IP_HASH_KEY: z.string().min(32, "must be at least 32 characters (the key Node uses)"),
  /** Trusted Ed25519 public keys for the signed ruleset in KV (`keyId:rawBase64,...`, `cordon keygen`). */
  RULESET_PUBLIC_KEYS: z.string().trim().min(1, "must list at least one public key"),
  /** How long a KV read of the ruleset stays fresh before the next request reads again (ms). */
  CORDON_RULESET_REFRESH_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  CORDON_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
});
export type EdgeConfig = z.infer<typeof EdgeEnv>;

/** The queue consumer's own settings: where decision records go (Node's ingest route) and as whom. */
const ConsumerEnv = z.object({
  CORDON_INGEST_URL: z.url({ protocol: /^https?$/, message: "must be the Node service's http(s) base URL" }),
  CORDON_INGEST_TOKEN: z.string().min(16, "must be a token with the admin role on the Node service"),
  CORDON_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
});
export type ConsumerConfig = z.infer<typeof ConsumerEnv>;

export function parseEdgeConfig(env: Record<string, unknown>): EdgeConfig {
  return parse(EdgeEnv, env);
}

export function parseConsumerConfig(env: Record<string, unknown>): ConsumerConfig {
  return parse(ConsumerEnv, env);
}

function parse<T extends z.ZodType>(schema: T, env: Record<string, unknown>): z.output<T> {
  // Only strings are configuration; bindings (KV, Queue) share the env object. Empty counts as unset.
  const vars = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string" && v !== ""));
  const result = schema.safeParse(vars);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(env)"}: ${issue.message}`);
  throw new ConfigError(`invalid Worker configuration:\n${lines.join("\n")}`);
}
