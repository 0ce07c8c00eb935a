/**
 * Configuration: every environment variable Cordon reads, parsed once with zod at start. A bad value
 * stops the start with a message naming the variable. Pure: the entry hands in `process.env` (Node) or
 * the Worker's bindings.
 */
import { z } from "zod";
import { parseClusterUrl } from "../kernel/redis-url.js";
import { mayAccess, ROLES, type Role } from "../kernel/roles.js";
import { configError, IpHashKey, LogLevel, parseEnv, TokenList } from "./parse.js";

/** Ed25519 PKCS#8 is 48 bytes: a fixed 16-byte prefix (RFC 8410) and the 32-byte seed. */
const ED25519_PKCS8_PREFIX = "MC4CAQAwBQYDK2VwBCIEI";

/** CORDON_SIGNING_KEY: checked for shape here (sync, runtime-free); WebCrypto imports it at start. */
const SigningKeyText = z
  .string()
  .trim()
  .refine((value) => value.length === 64 && value.startsWith(ED25519_PKCS8_PREFIX) && isBase64(value), {
    message: "must be an Ed25519 private key, PKCS#8 in base64 (as `cordon keygen` prints)",
  });

function isBase64(value: string): boolean {
  try {
    return btoa(atob(value)) === value;
  } catch {
    return false;
  }
}

/** Signed rulesets for the edge, published to Workers KV: all optional, on when the four below are set. */
const EdgePublishFields = {
  CORDON_SIGNING_KEY: SigningKeyText.optional(),
  /** Defaults to an id derived from the public key (what `cordon keygen` prints). */
  CORDON_SIGNING_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, . _ or -")
    .optional(),
  CF_ACCOUNT_ID: z
    .string()
    .regex(/^[0-9a-f]{32}$/i, "must be the 32-hex-digit Cloudflare account id")
    .optional(),
  CF_KV_NAMESPACE_ID: z
    .string()
    .regex(/^[0-9a-f]{32}$/i, "must be the 32-hex-digit Workers KV namespace id")
    .optional(),
  CF_API_TOKEN: z.string().min(20, "must be a Cloudflare API token").optional(),
  CF_API_BASE: z
    .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
    .default("https://api.cloudflare.com/client/v4"),
};

/** One Redis (`redis://`, `rediss://`) or a Redis Cluster (`redis-cluster://host:port,...`). */
const RedisUrl = z.string().superRefine((value, ctx) => {
  let cluster: unknown;
  try {
    cluster = parseClusterUrl(value);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return;
  }
  if (cluster === undefined && !z.url({ protocol: /^rediss?$/ }).safeParse(value).success) {
    ctx.addIssue({
      code: "custom",
      message: "must be a redis://, rediss://, redis-cluster:// or rediss-cluster:// URL",
    });
  }
});

/**
 * OpenID Connect sign-in for the console: all optional, on when the issuer is set (with the client id
 * and the role mapping). `console/oidc.ts` uses them.
 */
const HttpsUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).refine(
  (value) => {
    const url = new URL(value);
    return url.protocol === "https:" || ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  },
  { message: "must be an https URL (http only for localhost)" },
);

/** `group:role,...`: a group value of the group claim, and the Cordon role it gives (a console role). */
const OidcRoles = z.string().transform((value, ctx): [string, Role][] => {
  const out: [string, Role][] = [];
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    // The last colon: group values may hold colons themselves (URNs, Keycloak paths do).
    const at = entry.lastIndexOf(":");
    const group = at > 0 ? entry.slice(0, at).trim() : "";
    const role = at > 0 ? entry.slice(at + 1).trim() : "";
    if (!group) ctx.addIssue({ code: "custom", message: `entry ${i + 1}: must be group:role` });
    else if (
      !(ROLES as readonly string[]).includes(role) ||
      !mayAccess({ name: "", role: role as Role }, "readOrders")
    )
      ctx.addIssue({
        code: "custom",
        message: `entry ${i + 1} (${group}): role must be a console role (${ROLES.filter((r) => mayAccess({ name: "", role: r }, "readOrders")).join(", ")})`,
      });
    else if (out.some(([g]) => g === group))
      ctx.addIssue({ code: "custom", message: `entry ${i + 1} (${group}): group named twice` });
    else out.push([group, role as Role]);
  });
  if (entries.length === 0) ctx.addIssue({ code: "custom", message: "must list at least one group:role" });
  return out;
});

const OidcFields = {
  CORDON_OIDC_ISSUER: HttpsUrl.optional(),
  CORDON_OIDC_CLIENT_ID: z.string().trim().min(1).max(500).optional(),
  /** Absent: a public client (PKCE alone). A secret: never echoed, so no shape beyond its length. */
  CORDON_OIDC_CLIENT_SECRET: z.string().min(1).max(1000, "must be at most 1000 characters").optional(),
  /** Default: `/console/oidc/callback` at the address the browser used to reach the console. */
  CORDON_OIDC_REDIRECT_URL: HttpsUrl.optional(),
  CORDON_OIDC_SCOPES: z
    .string()
    .trim()
    .regex(
      /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/,
      "must be scopes separated by single spaces",
    )
    .refine((value) => value.split(" ").includes("openid"), { message: "must include openid" })
    .default("openid email profile"),
  CORDON_OIDC_GROUP_CLAIM: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:/-]{1,100}$/, "must be a claim name (letters, digits, _ . : / -)")
    .default("groups"),
  CORDON_OIDC_ROLES: OidcRoles.optional(),
};

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().min(1).default("0.0.0.0"),
  CORDON_DATA_DIR: z.string().min(1).default("./data"),
  CORDON_TOKENS: TokenList.optional(),
  REDIS_URL: RedisUrl.optional(),
  CORDON_GEOIP_DB: z.string().min(1).optional(),
  CORDON_IP_HASH_KEY: IpHashKey("a random secret").optional(),
  /** Processes on one machine: on Redis, or on the embedded store with slot 0 its writer (workers.md). */
  CORDON_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  CORDON_GEO_CACHE_SIZE: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  CORDON_DECISION_FSYNC: z.enum(["never", "batch"]).default("never"),
  CORDON_LOG_LEVEL: LogLevel,
  /** Serves the Prometheus scrape endpoint `GET /metrics` to a scraper sending it as a bearer token. */
  CORDON_METRICS_TOKEN: z
    .string()
    .refine((value) => value.length >= 16 && !/\s/.test(value), {
      message: "must be at least 16 characters, without spaces (a bearer token for GET /metrics)",
    })
    .optional(),
  CORDON_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1-32 letters, digits, _ or -")
    .default("cordon"),
  /**
   * Redis mode: how many streams the decision records are spread over (each its own hash tag, so a Redis
   * Cluster spreads them over its shards). Fixed by the first instance: the same on every instance.
   */
  CORDON_DECISION_PARTITIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(256) // store/redis/keys.ts MAX_DECISION_PARTITIONS
    .default(16), // store/redis/keys.ts DEFAULT_DECISION_PARTITIONS
  /** Redis mode: how long shipped decision records stay in the local outbox (repairs a Redis data loss). */
  CORDON_OUTBOX_RETENTION_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 366)
    .default(168),
  /**
   * Redis mode: how long decision records gather in the outbox before the shipper sends them to the
   * streams, ms. Longer: fewer, larger pages and less CPU per record (most of a page's cost is per page);
   * the records reach the streams that much later. Checks never wait on it.
   */
  CORDON_SHIP_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  /** Days after a period's end before it may be finalized (I9): late records have this long to arrive. */
  CORDON_FINALIZE_GRACE_DAYS: z.coerce.number().int().min(0).max(366).default(14),
  /** Who publishes the transparency report, as its page names it (e.g. "Example Meetings B.V."). */
  CORDON_REPORT_PUBLISHER: z.string().trim().min(1).max(200).optional(),
  /** The service the report is about (e.g. "Example Meetings"). */
  CORDON_REPORT_SERVICE: z.string().trim().min(1).max(200).optional(),
  CORDON_RULESET_POLL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  /** How long enforcement events stay readable for a subscriber resuming with its cursor. */
  CORDON_EVENTS_RETENTION_HOURS: z.coerce
    .number()
    .min(1)
    .max(24 * 366)
    .default(168),
  /** The longest wait between two reconciles of the enforcement events (boundaries are timed exactly). */
  CORDON_EVENTS_POLL_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
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
  ...EdgePublishFields,
  ...OidcFields,
});
export type Config = z.infer<typeof Env>;

/** What the console's OpenID Connect sign-in needs; from `oidcSettings`. */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  redirectUrl: string | undefined;
  scopes: string;
  groupClaim: string;
  /** Group value to role, in the order given: a user in several mapped groups gets the first one's role. */
  roles: [string, Role][];
}

/** The OIDC settings, or undefined when OIDC sign-in is off (CORDON_OIDC_ISSUER unset). */
export function oidcSettings(config: Config): OidcConfig | undefined {
  const { CORDON_OIDC_ISSUER, CORDON_OIDC_CLIENT_ID, CORDON_OIDC_ROLES } = config;
  if (!CORDON_OIDC_ISSUER || !CORDON_OIDC_CLIENT_ID || !CORDON_OIDC_ROLES) return undefined;
  return {
    issuer: CORDON_OIDC_ISSUER,
    clientId: CORDON_OIDC_CLIENT_ID,
    clientSecret: config.CORDON_OIDC_CLIENT_SECRET,
    redirectUrl: config.CORDON_OIDC_REDIRECT_URL,
    scopes: config.CORDON_OIDC_SCOPES,
    groupClaim: config.CORDON_OIDC_GROUP_CLAIM,
    roles: CORDON_OIDC_ROLES,
  };
}

const OIDC_NEEDS = ["CORDON_OIDC_ISSUER", "CORDON_OIDC_CLIENT_ID", "CORDON_OIDC_ROLES"] as const;
const OIDC_OPTIONAL = ["CORDON_OIDC_CLIENT_SECRET", "CORDON_OIDC_REDIRECT_URL"] as const;

/** All or none for OIDC sign-in, naming what is missing; empty when fine. */
function oidcProblems(config: Config): string[] {
  const set = OIDC_NEEDS.filter((name) => config[name] !== undefined);
  const missing = OIDC_NEEDS.filter((name) => config[name] === undefined);
  const extra = OIDC_OPTIONAL.filter((name) => config[name] !== undefined);
  if (missing.length === 0 || (set.length === 0 && extra.length === 0)) return [];
  return [
    `${missing.join(", ")}: OpenID Connect sign-in needs all of ${OIDC_NEEDS.join(", ")} (${[...set, ...extra].join(", ")} set), or none`,
  ];
}

/** Where and how the Node side publishes signed rulesets; from `kvPublishSettings`. */
export interface KvPublishSettings {
  signingKey: string;
  keyId: string | undefined;
  accountId: string;
  namespaceId: string;
  apiToken: string;
  apiBase: string;
}

type EdgePublishConfig = z.infer<z.ZodObject<typeof EdgePublishFields>>;

const KV_PUBLISH_VARS = [
  "CORDON_SIGNING_KEY",
  "CF_ACCOUNT_ID",
  "CF_KV_NAMESPACE_ID",
  "CF_API_TOKEN",
] as const;

/** The KV publishing settings, or undefined when publishing is off (none of the four set). */
export function kvPublishSettings(config: EdgePublishConfig): KvPublishSettings | undefined {
  const { CORDON_SIGNING_KEY, CF_ACCOUNT_ID, CF_KV_NAMESPACE_ID, CF_API_TOKEN } = config;
  if (!CORDON_SIGNING_KEY || !CF_ACCOUNT_ID || !CF_KV_NAMESPACE_ID || !CF_API_TOKEN) return undefined;
  return {
    signingKey: CORDON_SIGNING_KEY,
    keyId: config.CORDON_SIGNING_KEY_ID,
    accountId: CF_ACCOUNT_ID,
    namespaceId: CF_KV_NAMESPACE_ID,
    apiToken: CF_API_TOKEN,
    apiBase: config.CF_API_BASE,
  };
}

/** "All or none" for KV publishing, naming the missing ones; empty when fine. */
function kvPublishProblems(config: EdgePublishConfig): string[] {
  const set = KV_PUBLISH_VARS.filter((name) => config[name] !== undefined);
  const missing = KV_PUBLISH_VARS.filter((name) => config[name] === undefined);
  const problems: string[] = [];
  // The signing key alone is fine: it also signs finalized reports' manifests (I9), with KV publishing off.
  const kvOnly = set.length === 1 && set[0] === "CORDON_SIGNING_KEY";
  if (set.length > 0 && missing.length > 0 && !kvOnly) {
    problems.push(
      `${missing.join(", ")}: publishing signed rulesets to Workers KV needs all of ${KV_PUBLISH_VARS.join(", ")} (${set.join(", ")} set), or none`,
    );
  }
  if (config.CORDON_SIGNING_KEY_ID && !config.CORDON_SIGNING_KEY) {
    problems.push("CORDON_SIGNING_KEY_ID: names a signing key, but CORDON_SIGNING_KEY is not set");
  }
  return problems;
}

/**
 * The settings `cordon publish` needs, from the environment: the signing key always, the KV ones unless
 * the signed value goes to a file (`--out`). Parsed apart from `parseConfig`, which also judges the
 * server's settings and would refuse a signing key without KV credentials.
 */
export function parsePublishConfig(
  env: Record<string, string | undefined>,
  opts: { kv: boolean },
): { signingKey: string; keyId: string | undefined; kv: KvPublishSettings | undefined } {
  const config = parseEnv(z.object(EdgePublishFields), env);
  const problems: string[] = [];
  if (!config.CORDON_SIGNING_KEY) problems.push("CORDON_SIGNING_KEY: must be set to sign a ruleset");
  const missing = opts.kv ? KV_PUBLISH_VARS.slice(1).filter((name) => config[name] === undefined) : [];
  if (missing.length > 0) {
    problems.push(
      `${missing.join(", ")}: must be set to publish to Workers KV (or write the value to a file with --out)`,
    );
  }
  if (problems.length > 0 || !config.CORDON_SIGNING_KEY) throw configError(problems);
  return {
    signingKey: config.CORDON_SIGNING_KEY,
    keyId: config.CORDON_SIGNING_KEY_ID,
    kv: opts.kv ? kvPublishSettings(config) : undefined,
  };
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const config = parseEnv(Env, env);
  const problems: string[] = [];
  if (env.CORDON_TOKENS === "") {
    // Empty elsewhere means unset; here that would quietly generate (or reuse) tokens nobody asked for.
    problems.push(
      "CORDON_TOKENS: is set but empty; list principal:role:secret entries, or unset it to use the tokens kept in the data directory",
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
  if (config.CORDON_METRICS_TOKEN && config.CORDON_WORKERS > 1) {
    // Each process counts alone and the shared port hands a scrape to any one of them.
    problems.push(
      "CORDON_METRICS_TOKEN: GET /metrics would show one worker's counts per scrape with CORDON_WORKERS > 1; export over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT) instead",
    );
  }
  problems.push(...kvPublishProblems(config));
  problems.push(...oidcProblems(config));
  if (problems.length > 0) throw configError(problems);
  return config;
}
