/**
 * The key that signs finalized reports' manifests (I9): CORDON_SIGNING_KEY when set (`cordon keygen`,
 * the key that signs edge rulesets), else one generated at the first finalization and kept in
 * `<dataDir>/report-signing.key` (PKCS#8, base64, mode 0600). The manifest publishes its public half, so
 * verification needs nothing from this file; keep it to sign later periods with the same key.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { readFileIfExists, writeFileAtomic } from "../../platform/node/atomic-file.js";
import { exportPrivateKey, generateSigningKey } from "../../rulesets/signed.js";
import { type ManifestSigner, manifestSigner } from "../../service/report-signing.js";

export const REPORT_KEY_FILE = "report-signing.key";

/** A signer made on first use and kept (the generated key's file is written once). */
export function reportSigner(
  dataDir: string,
  configured: { key: string | undefined; keyId: string | undefined },
): () => Promise<ManifestSigner> {
  let signer: Promise<ManifestSigner> | undefined;
  return () => {
    signer ??= (async () => {
      if (configured.key) return manifestSigner(configured.key, configured.keyId);
      const path = join(dataDir, REPORT_KEY_FILE);
      const existing = (await readFileIfExists(path))?.trim();
      if (existing) return manifestSigner(existing);
      await mkdir(dataDir, { recursive: true });
      const pkcs8 = await exportPrivateKey((await generateSigningKey()).privateKey);
      await writeFileAtomic(path, `${pkcs8}\n`, { mode: 0o600 });
      return manifestSigner(pkcs8);
    })();
    // A failure (a full disk, say) is not kept: the next finalization tries again.
    signer.catch(() => {
      signer = undefined;
    });
    return signer;
  };
}
