/**
 * Offline verification of a data directory's audit log (I7), for the `cordon verify-audit` command and
 * for auditors. It reports and never throws on a bad file: a verifier that crashes on exactly the files
 * it exists to judge is no use. It judges a file the way `OrderJournal.open` would (same replay), without
 * opening the store, so it neither takes the lock nor repairs anything: it can run beside a live server.
 */
import { join } from "node:path";
import { JOURNAL_FILE, replayJournal } from "../store/file/order-journal.js";
import { AuditChainError } from "../store/interface.js";

export type AuditVerdict =
  | {
      ok: true;
      /** Verified entries; seq of the last one. */
      count: number;
      head: { seq: number; hash: string };
      /** Set when the last line is torn: a write that never returned, which the store drops at open. */
      warning?: string;
    }
  | {
      ok: false;
      /** The first seq that does not verify (0: the file could not be read at all). */
      seq: number;
      reason: string;
    };

export async function verifyAudit(dataDir: string): Promise<AuditVerdict> {
  const path = join(dataDir, JOURNAL_FILE);
  try {
    const replay = await replayJournal(path, () => undefined);
    const verdict: AuditVerdict = { ok: true, count: replay.head.seq, head: replay.head };
    if (replay.torn)
      verdict.warning = `${replay.torn.reason} at byte ${replay.torn.offset} (unacknowledged write)`;
    return verdict;
  } catch (err) {
    if (err instanceof AuditChainError) return { ok: false, seq: err.seq, reason: err.message };
    // A missing or unreadable file is not "ok": a mistyped directory must not pass as an empty log.
    return {
      ok: false,
      seq: 0,
      reason: `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
