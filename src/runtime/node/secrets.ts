/**
 * Secrets kept in the data directory on the embedded default: the IP hash key (I6) and the digests of
 * generated tokens. Files are created with mode 0600 and written atomically (temp file + rename).
 */

import { createHmac, randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { configError, TOKEN_PART, type TokenSpec } from "../../config/parse.js";
import { ROLES } from "../../kernel/roles.js";
import { tokenConflicts } from "../../kernel/tokens.js";
import { readFileIfExists, writeFileAtomic } from "../../platform/node/atomic-file.js";
import { digestSecret, type TokenDigest } from "../../service/auth.js";

const writePrivate = (path: string, content: string) => writeFileAtomic(path, content, { mode: 0o600 });

/** Shorter keys are refused: `IpHashKey` asks as much of CORDON_IP_HASH_KEY. */
const MIN_IP_HASH_KEY_BYTES = 32;

/**
 * The configured key, or one generated on first start and kept in `<dataDir>/ip-hash.key`. A key file
 * that is empty or shorter than 32 bytes (truncated, or written by hand) stops the start: an HMAC under
 * it would hash addresses with next to no secret.
 */
export async function loadIpHashKey(dataDir: string, configured: string | undefined): Promise<Buffer> {
  if (configured) return Buffer.from(configured, "utf8");
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, "ip-hash.key");
  const existing = await readFileIfExists(path);
  if (existing !== undefined) {
    const key = Buffer.from(existing.trim(), "base64");
    if (key.length < MIN_IP_HASH_KEY_BYTES) {
      throw configError(
        [
          `${path}: holds a ${key.length}-byte key; an IP-hash key needs at least ${MIN_IP_HASH_KEY_BYTES} bytes (base64). Restore the file, or set CORDON_IP_HASH_KEY`,
        ],
        "IP-hash key",
      );
    }
    return key;
  }
  const key = randomBytes(32);
  await writePrivate(path, `${key.toString("base64")}\n`);
  return key;
}

/** HMAC-SHA-256 of the normalised address, hex: the same participant hashes alike across records. */
export function ipHasher(key: Buffer): (ip: string) => string {
  return (ip) => createHmac("sha256", key).update(ip).digest("hex");
}

export interface TokenBootstrap {
  tokens: TokenDigest[];
  /** Secrets generated on this start, to print once the server listens; empty otherwise. */
  generated: TokenSpec[];
  /** The file of kept digests, when the tokens come from (or go to) one; unset with CORDON_TOKENS. */
  file?: string;
  /**
   * Keeps the generated tokens' digests in `file`; nothing to do otherwise. Called once the server
   * listens, just before the secrets are printed: a start that fails earlier keeps nothing, and the
   * next start generates (and shows) tokens again.
   */
  save(): Promise<void>;
}

const nothingToSave = async () => undefined;

/**
 * Tokens from CORDON_TOKENS when set. Otherwise the digests kept in `<dataDir>/tokens.json`; on the very
 * first start one token per role is generated, and `save` keeps their digests. With `waitMs` (an embedded
 * worker following the writer), none are generated: the writer's file is waited for that long.
 */
export async function loadTokens(
  dataDir: string,
  configured: TokenSpec[] | undefined,
  opts: { waitMs?: number } = {},
): Promise<TokenBootstrap> {
  if (configured) {
    return {
      tokens: configured.map((t) => ({
        principal: t.principal,
        role: t.role,
        sha256: digestSecret(t.secret),
      })),
      generated: [],
      save: nothingToSave,
    };
  }
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, "tokens.json");
  let existing = await readFileIfExists(path);
  const deadline = Date.now() + (opts.waitMs ?? 0);
  while (!existing && opts.waitMs !== undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    existing = await readFileIfExists(path);
  }
  if (existing)
    return { tokens: parseTokensFile(existing, path), generated: [], file: path, save: nothingToSave };
  if (opts.waitMs !== undefined) throw new Error(`${path}: the writer has not kept its tokens there`);
  const generated: TokenSpec[] = ROLES.map((role) => ({
    principal: `${role}-1`,
    role,
    secret: `cdn_${randomBytes(24).toString("base64url")}`,
  }));
  // A second responder and approver so four eyes can be exercised from the first start.
  for (const role of ["responder", "approver"] as const) {
    generated.push({ principal: `${role}-2`, role, secret: `cdn_${randomBytes(24).toString("base64url")}` });
  }
  const tokens = generated.map((t) => ({
    principal: t.principal,
    role: t.role,
    sha256: digestSecret(t.secret),
  }));
  return {
    tokens,
    generated,
    file: path,
    save: () => writePrivate(path, `${JSON.stringify(tokens, null, 2)}\n`),
  };
}

const TokenDigestEntry = z.object({
  principal: z.string().regex(TOKEN_PART),
  role: z.enum(ROLES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * The kept digests, held to CORDON_TOKENS' rules (I7): an edited file that names a principal twice (in
 * any case) or gives two principals one secret stops the start, naming the file and the entries.
 */
function parseTokensFile(text: string, path: string): TokenDigest[] {
  const refuse = (problems: string[]) => configError(problems, `tokens file ${path}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw refuse(["not JSON"]);
  }
  if (!Array.isArray(json)) throw refuse(["must be a list of {principal, role, sha256}"]);
  const problems: string[] = [];
  const tokens: TokenDigest[] = [];
  json.forEach((entry, i) => {
    const parsed = TokenDigestEntry.safeParse(entry);
    if (parsed.success) tokens.push(parsed.data);
    else problems.push(`entry ${i + 1}: must be {principal, role (${ROLES.join(", ")}), sha256 (64 hex)}`);
  });
  if (problems.length === 0)
    problems.push(...tokenConflicts(tokens.map((t) => ({ principal: t.principal, secret: t.sha256 }))));
  if (problems.length > 0) throw refuse(problems);
  return tokens;
}
