/**
 * Configuration: every environment variable Cordon reads, parsed once with zod at start. A bad value
 * stops the start with a message naming the variable. Pure: the entry hands in `process.env` (Node) or
 * the Worker's bindings.
 */
import { z } from "zod";

export const ROLES = ["checker", "responder", "approver", "auditor", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface TokenSpec {
  principal: string;
  role: Role;
  secret: string;
}

const TOKEN_PART = /^[A-Za-z0-9._@-]+$/;

/** `principal:role:secret,...`; the secret may itself contain colons. */
export const TokenList = z.string().transform((value, ctx): TokenSpec[] => {
  const out: TokenSpec[] = [];
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const [principal = "", role = "", ...rest] = entry.split(":");
    const secret = rest.join(":");
    if (!TOKEN_PART.test(principal))
      ctx.addIssue({ code: "custom", message: `entry ${i + 1}: principal must be letters, digits, . _ @ -` });
    else if (!(ROLES as readonly string[]).includes(role))
      ctx.addIssue({
        code: "custom",
        message: `entry ${i + 1} (${principal}): role must be one of ${ROLES.join(", ")}`,
      });
    else if (secret.length < 16)
      ctx.addIssue({
        code: "custom",
        message: `entry ${i + 1} (${principal}): secret must be at least 16 characters`,
      });
    else out.push({ principal, role: role as Role, secret });
  });
  if (entries.length === 0)
    ctx.addIssue({ code: "custom", message: "must list at least one principal:role:secret" });
  return out;
});

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().min(1).default("0.0.0.0"),
  CORDON_DATA_DIR: z.string().min(1).default("./data"),
  CORDON_TOKENS: TokenList.optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/, message: "must be a redis:// or rediss:// URL" }).optional(),
  CORDON_GEOIP_DB: z.string().min(1).optional(),
  CORDON_IP_HASH_KEY: z.string().min(32, "must be at least 32 characters (a random secret)").optional(),
  CORDON_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  CORDON_GEO_CACHE_SIZE: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  CORDON_DECISION_FSYNC: z.enum(["never", "batch"]).default("never"),
  CORDON_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  CORDON_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1-32 letters, digits, _ or -")
    .default("cordon"),
  /** How often each instance compares its ruleset version with Redis's, in case a message was missed. */
  /** Redis mode: how long shipped decision records stay in the local outbox (repairs a Redis data loss). */
  CORDON_OUTBOX_RETENTION_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 366)
    .default(168),
  CORDON_RULESET_POLL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  MAXMIND_ACCOUNT_ID: z
    .string()
    .regex(/^\d{1,12}$/, "must be the numeric MaxMind account id")
    .optional(),
  MAXMIND_LICENSE_KEY: z.string().min(6, "must be a MaxMind licence key").optional(),
  MAXMIND_HOST: z.string().min(1).default("geoip.maxmind.com"),
  MAXMIND_ENDPOINT: z.enum(["city", "country"]).default("city"),
  MAXMIND_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(1500),
  /** L2 geo cache in Redis: `auto` enables it for the web service only (bench/README.md: it slows a local mmdb). */
  CORDON_GEO_L2: z.enum(["auto", "on", "off"]).default("auto"),
  CORDON_GEO_L2_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(90 * 86_400)
    .default(7 * 86_400),
});
export type Config = z.infer<typeof Env>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset, as in most shells' `VAR= cmd` habit.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = Env.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) => `  ${issue.path.join(".") || "(env)"}: ${issue.message}`,
    );
    // Never echo values: CORDON_TOKENS and CORDON_IP_HASH_KEY are secrets.
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const config = result.data;
  const problems: string[] = [];
  if (config.CORDON_WORKERS > 1 && !config.REDIS_URL) {
    problems.push(
      "CORDON_WORKERS: more than one process needs REDIS_URL (the embedded store has one writer)",
    );
  }
  if (config.REDIS_URL && !config.CORDON_TOKENS) {
    // Generated tokens live in one data directory; instances sharing Redis must share their tokens.
    problems.push("CORDON_TOKENS: must be set (the same on every instance) when REDIS_URL is set");
  }
  if (config.REDIS_URL && !config.CORDON_IP_HASH_KEY) {
    // Instances sharing Redis must hash addresses alike, or distinct-participant counts break.
    problems.push("CORDON_IP_HASH_KEY: must be set (the same on every instance) when REDIS_URL is set");
  }
  if (Boolean(config.MAXMIND_ACCOUNT_ID) !== Boolean(config.MAXMIND_LICENSE_KEY)) {
    problems.push(
      "MAXMIND_ACCOUNT_ID, MAXMIND_LICENSE_KEY: set both to use the MaxMind web service, or neither",
    );
  }
  if (config.MAXMIND_ACCOUNT_ID && config.CORDON_GEOIP_DB) {
    problems.push("CORDON_GEOIP_DB: choose one geo source, a database file or the MaxMind web service");
  }
  if (config.CORDON_GEO_L2 === "on" && !config.REDIS_URL) {
    problems.push("CORDON_GEO_L2: the L2 cache lives in Redis; set REDIS_URL");
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n${problems.map((line) => `  ${line}`).join("\n")}`);
  }
  return config;
}
