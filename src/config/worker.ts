/**
 * The Worker's configuration: its vars and secrets (`wrangler.toml` `[vars]`, `wrangler secret put`),
 * parsed once per isolate by the same parser as Node's (`parse.ts`): a bad value stops the isolate's
 * start with a message naming the variable, never its value. Tokens follow the Node rule, so one
 * CORDON_TOKENS value serves both runtimes.
 */
import { z } from "zod";
import { IpHashKey, LogLevel, parseEnv, TokenList } from "./parse.js";

const EdgeEnv = z.object({
  /** `principal:role:secret,...`: the edge needs checker tokens (and readers of the ruleset summary). */
  CORDON_TOKENS: TokenList,
  /** Equal to Node's CORDON_IP_HASH_KEY (see `IpHashKey`). */
  CORDON_IP_HASH_KEY: IpHashKey("the key Node uses"),
  /**
   * The meeting service's HS256 key for join tickets (`POST /v1/check/self`). Unset: the Worker serves
   * no browser-direct check (the route is not registered), rather than one no ticket could pass.
   */
  CORDON_TICKET_KEY: z
    .string()
    .min(32, "must be at least 32 characters (the meeting service's join-ticket key)")
    .optional(),
  /** Trusted Ed25519 public keys for the signed ruleset in KV (`keyId:rawBase64,...`, `cordon keygen`). */
  RULESET_PUBLIC_KEYS: z.string().trim().min(1, "must list at least one public key"),
  /** How long a KV read of the ruleset stays fresh before the next request reads again (ms). */
  CORDON_RULESET_REFRESH_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  CORDON_LOG_LEVEL: LogLevel,
});
export type EdgeConfig = z.infer<typeof EdgeEnv>;

/**
 * The Worker's token for Node's ingest route: one `principal:edge:secret` entry, the same line as in
 * Node's CORDON_TOKENS. Written out with its role so that the Worker can refuse anything but `edge`: a
 * leaked Worker secret then adds decision records and nothing else (never an admin token).
 */
const EdgeToken = TokenList.transform((tokens, ctx) => {
  const [token] = tokens;
  if (tokens.length !== 1 || token === undefined || token.role !== "edge") {
    ctx.addIssue({
      code: "custom",
      message: "must be one principal:edge:secret entry of Node's CORDON_TOKENS (the edge role, never admin)",
    });
    return z.NEVER;
  }
  return token;
});

/** The queue consumer's own settings: where decision records go (Node's ingest route) and as whom. */
const ConsumerEnv = z.object({
  CORDON_INGEST_URL: z.url({ protocol: /^https?$/, message: "must be the Node service's http(s) base URL" }),
  CORDON_EDGE_TOKEN: EdgeToken,
  // 0.1.0's setting held an admin secret; refusing it makes an upgrade replace it with an edge token.
  CORDON_INGEST_TOKEN: z
    .undefined({ error: "replaced by CORDON_EDGE_TOKEN (principal:edge:secret, a token with the edge role)" })
    .optional(),
  CORDON_LOG_LEVEL: LogLevel,
});
export type ConsumerConfig = z.infer<typeof ConsumerEnv>;

/** The replay route (`POST /v1/edge/replay`): CORDON_TOKENS, whose `admin` tokens may call it. */
const ReplayEnv = z.object({ CORDON_TOKENS: TokenList });
export type ReplayConfig = z.infer<typeof ReplayEnv>;

const WHAT = "Worker configuration";

export function parseEdgeConfig(env: Record<string, unknown>): EdgeConfig {
  return parseEnv(EdgeEnv, env, WHAT);
}

export function parseConsumerConfig(env: Record<string, unknown>): ConsumerConfig {
  return parseEnv(ConsumerEnv, env, WHAT);
}

export function parseReplayConfig(env: Record<string, unknown>): ReplayConfig {
  return parseEnv(ReplayEnv, env, WHAT);
}
