/**
 * The embedded default's per-period IP-hash keys (I6): one file per half-year in `<data dir>/keys/`,
 * `ip-hash-2026-H2.key` (the key, base64, mode 0600) and, once destroyed, `ip-hash-2026-H2.destroyed`
 * (a tombstone: the period's key is never made again).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { link, mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { syncDirectory, writeFileAtomic } from "../../platform/node/atomic-file.js";
import {
  assertKeyPeriod,
  type IpHashKeyStore,
  type ObtainedKey,
  PERIOD_KEY_BYTES,
  PeriodKeyDestroyedError,
} from "../ip-hash-keys.js";

export class FileIpHashKeyStore implements IpHashKeyStore {
  private constructor(private readonly dir: string) {}

  /** `dir` is created (0700) when missing. */
  static async open(dir: string): Promise<FileIpHashKeyStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new FileIpHashKeyStore(dir);
  }

  async obtain(period: string, candidate?: Uint8Array): Promise<ObtainedKey> {
    assertKeyPeriod(period);
    await this.#refuseDestroyed(period);
    const path = this.#keyPath(period);
    const existing = await readKey(path);
    if (existing) return { key: existing, created: false };

    // Exclusive create of a complete file: the key is written and synced under a name of its own, then
    // hard-linked to its place, which fails when another process got there first (two stores on one
    // directory agree on the first key linked). `open(path, "wx")` alone would let a racing reader see an
    // empty file between the create and the write.
    const key = candidate ? Buffer.from(candidate) : randomBytes(PERIOD_KEY_BYTES);
    if (key.length !== PERIOD_KEY_BYTES) throw new RangeError(`a period key is ${PERIOD_KEY_BYTES} bytes`);
    const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
    const fh = await open(tmp, "wx", 0o600);
    let created = false;
    try {
      try {
        await fh.writeFile(`${key.toString("base64")}\n`, "utf8");
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await link(tmp, path);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    if (created) await syncDirectory(this.dir);
    // A destroy racing this create writes its tombstone before it unlinks the key: a key linked after
    // that unlink is seen here and removed again.
    if (await exists(this.#tombstonePath(period))) {
      if (created) await unlink(path).catch(() => undefined);
      throw new PeriodKeyDestroyedError(period);
    }
    if (created) return { key, created: true };
    const theirs = await readKey(path);
    if (theirs) return { key: theirs, created: false };
    await this.#refuseDestroyed(period);
    throw new Error(`${path} vanished while it was read`);
  }

  async destroy(period: string): Promise<void> {
    assertKeyPeriod(period);
    // The tombstone first: from here on no `obtain` hands out or re-creates the key.
    await writeFileAtomic(this.#tombstonePath(period), "destroyed\n", { mode: 0o600 });
    const path = this.#keyPath(period);
    // Overwritten before it is unlinked, so the key's bytes are not left in the freed blocks. On a
    // journaling or copy-on-write file system, or flash, older copies of the blocks may survive below
    // the file system: full-disk encryption is what covers those.
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      fh = await open(path, "r+");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    try {
      const { size } = await fh.stat();
      await fh.write(randomBytes(Math.max(size, 1)), 0, Math.max(size, 1), 0);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await unlink(path);
    await syncDirectory(this.dir);
  }

  async #refuseDestroyed(period: string): Promise<void> {
    if (await exists(this.#tombstonePath(period))) throw new PeriodKeyDestroyedError(period);
  }

  #keyPath(period: string): string {
    return join(this.dir, `ip-hash-${period}.key`);
  }

  #tombstonePath(period: string): string {
    return join(this.dir, `ip-hash-${period}.destroyed`);
  }
}

/** The key in a key file, or undefined when there is none; a file that is not a whole key throws. */
async function readKey(path: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const key = Buffer.from(text.trim(), "base64");
  // Never a shorter key: a damaged file must stop the sealing, not weaken it.
  if (key.length !== PERIOD_KEY_BYTES)
    throw new Error(`${path} does not hold a ${PERIOD_KEY_BYTES}-byte key`);
  return key;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
