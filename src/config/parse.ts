/**
 * The one environment parser, for Node (`process.env`) and the Worker (its vars and secrets): the
 * settings are strings, an empty one counts as unset, every problem is named in one message, and no
 * value is ever echoed (several are secrets). Also the fields both runtimes read.
 */
import { z } from "zod";
import { LOG_LEVELS } from "../kernel/logger.js";
import { ROLES, type Role } from "../kernel/roles.js";
import { tokenConflicts } from "../kernel/tokens.js";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Each problem on its own, `SETTING: what is wrong` (never a value). */
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = []) {
    super(message);
    this.problems = problems;
  }

  /** One line for a terminal: `invalid configuration: A: ...; B: ...`. */
  oneLine(): string {
    const [head = ""] = this.message.split("\n");
    return this.problems.length > 0
      ? `${head} ${this.problems.join("; ")}`
      : this.message.replace(/\s*\n\s*/g, " ");
  }
}

/**
 * Parses `env` with `schema`. Only non-empty strings are settings: the Worker's env also holds its
 * bindings (KV, Queue), and `VAR= cmd` in a shell means unset. Throws a `ConfigError` whose message
 * starts with `invalid <what>:` and names each problem on its own line.
 */
export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: Record<string, unknown>,
  what = "configuration",
): z.output<T> {
  const result = schema.safeParse(settingsOf(env));
  if (result.success) return result.data;
  const problems = issueLines(result.error);
  throw new ConfigError(`invalid ${what}:\n${problems.map((line) => `  ${line}`).join("\n")}`, problems);
}

/** Problems found after parsing (settings that conflict), in the same form as the parse errors. */
export function configError(problems: readonly string[], what = "configuration"): ConfigError {
  return new ConfigError(`invalid ${what}:\n${problems.map((line) => `  ${line}`).join("\n")}`, problems);
}

function settingsOf(env: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => {
      const value = entry[1];
      return typeof value === "string" && value !== "";
    }),
  );
}

function issueLines(error: z.ZodError): string[] {
  // Never the value: CORDON_TOKENS, CORDON_IP_HASH_KEY, CORDON_SIGNING_KEY and CF_API_TOKEN are secrets.
  return error.issues.map((issue) => `${issue.path.join(".") || "(env)"}: ${issue.message}`);
}

// Fields both runtimes read.

export const LogLevel = z.enum(LOG_LEVELS).default("info");

export interface TokenSpec {
  principal: string;
  role: Role;
  secret: string;
}

export const TOKEN_PART = /^[A-Za-z0-9._@-]+$/;

/**
 * `principal:role:secret,...`; the secret may itself contain colons. One CORDON_TOKENS serves both
 * runtimes. A principal named twice (in any case) or a secret given twice is refused (`tokenConflicts`).
 */
export const TokenList = z.string().transform((value, ctx): TokenSpec[] => {
  const out: TokenSpec[] = [];
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const [principal = "", role = "", ...rest] = entry.split(":");
    const secret = rest.join(":");
    // The principal is named only once the entry has the shape `principal:role:secret` with a real role:
    // before that, its first part may well be a secret pasted without its name (never echoed).
    if (rest.length === 0)
      ctx.addIssue({ code: "custom", message: `entry ${i + 1}: must be principal:role:secret` });
    else if (!TOKEN_PART.test(principal))
      ctx.addIssue({ code: "custom", message: `entry ${i + 1}: principal must be letters, digits, . _ @ -` });
    else if (!(ROLES as readonly string[]).includes(role))
      ctx.addIssue({
        code: "custom",
        message: `entry ${i + 1}: role must be one of ${ROLES.join(", ")}`,
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
  // I7: otherwise the last entry would win silently (one secret acting as two principals), and `Bob`
  // and `bob` would pass four eyes against each other. Only once every entry parsed, so that the
  // positions named are the entries' own.
  if (out.length === entries.length)
    for (const message of tokenConflicts(out)) ctx.addIssue({ code: "custom", message });
  return out;
});

/**
 * I6: the HMAC key of decision records' `ipHash`. Node and the Worker must use the same one, or the
 * report's distinct participants would count one person twice across the two runtimes.
 */
export const IpHashKey = (hint: string) => z.string().min(32, `must be at least 32 characters (${hint})`);
