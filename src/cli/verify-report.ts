/**
 * `cordon verify-report <period>`: recomputes a finalized period's report from the data and checks it
 * against the signed manifest (I9). Everything is read, nothing trusted: the manifest's signature, the
 * hash of each frozen format, the audit chain (whole, and its entry at the manifest's head), the
 * archived records against the manifest's counts and Merkle roots and against the decision log (file)
 * or stream (RedisClient), and the report rebuilt from those records and the orders at the head, byte for byte.
 * Each check prints one line; any failure exits 1, naming what differs. A data directory is read without
 * its lock (like verify-audit), so it can run beside a server.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DecisionRecord } from "../engine/index.js";
import type { RedisClient } from "../platform/node/redis.js";
import {
  FROZEN_FORMATS,
  type FrozenReport,
  frozenReport,
  ordersAt,
  type RecordArchive,
  renderFormats,
} from "../report/frozen.js";
import { contains, type Period } from "../report/periods.js";
import { manifestSignatureValid } from "../service/report-signing.js";
import { type ChainVerdict, canonicalJson } from "../store/audit.js";
import { readArchive, readFrozen } from "../store/file/frozen-store.js";
import { JOURNAL_FILE, replayJournal } from "../store/file/order-journal.js";
import { DECISIONS_DIR, listSegments, segmentFile } from "../store/file/segments.js";
import { AuditChainError, type AuditEntry } from "../store/interface.js";
import { recordsRoot, sha256Hex } from "../store/merkle.js";
import { RedisFrozenReportStore } from "../store/redis/frozen-store.js";
import { redisKeys } from "../store/redis/keys.js";
import { RedisOrderStore } from "../store/redis/order-store.js";
import { storedRedisKeys } from "../store/redis/partition-count.js";
import { field } from "../store/redis/stream-ids.js";

/** Where the data is: each part read as it is stored, with its failures kept as findings. */
export interface VerifySource {
  name: string;
  frozen(period: string): Promise<FrozenReport | undefined>;
  archive(period: string): Promise<RecordArchive | undefined>;
  audit(): Promise<{ verdict: ChainVerdict; entries: AuditEntry[] }>;
  /**
   * The decision records the log still holds, the first of each id; `complete` when the log never drops
   * a record (the embedded one), so an archived record missing from it is a failure; `problems`, lines
   * that are not records.
   */
  live(): Promise<{ records: Map<string, DecisionRecord>; complete: boolean; problems: string[] }>;
  close(): Promise<void>;
}

export interface Verdict {
  ok: boolean;
  lines: string[];
}

export async function verifyReport(
  period: Period,
  source: VerifySource,
  opts: { publicKey?: string } = {},
): Promise<Verdict> {
  const lines: string[] = [];
  let ok = true;
  const pass = (what: string) => lines.push(`ok    ${what}`);
  const fail = (what: string) => {
    ok = false;
    lines.push(`FAIL  ${what}`);
  };
  const check = (good: boolean, what: string, otherwise: string) => (good ? pass(what) : fail(otherwise));
  const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (err) {
      fail(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };

  const frozen = await attempt("frozen report", async () => {
    const found = await source.frozen(period.id);
    if (found === undefined) throw new Error(`${period.id} is not finalized in ${source.name}`);
    return found;
  });
  if (frozen === undefined) return { ok, lines };
  const { manifest } = frozen;

  // The manifest: signed, for this period, by the expected key when one is given.
  check(
    await manifestSignatureValid(manifest),
    `manifest signature (Ed25519, key ${manifest.signer?.keyId})`,
    "manifest signature does not verify: the manifest was changed, or not signed by the key it names",
  );
  if (opts.publicKey !== undefined) {
    check(
      manifest.signer?.publicKey === opts.publicKey,
      "manifest signed by the expected public key",
      `manifest signed by ${manifest.signer?.publicKey}, not by the expected key ${opts.publicKey}`,
    );
  }
  check(manifest.period === period.id, "manifest names the period", `manifest is for ${manifest.period}`);

  // The frozen bytes.
  for (const format of FROZEN_FORMATS) {
    check(
      sha256Hex(frozen.formats[format]) === manifest.sha256?.[format],
      `frozen ${format} matches its sha256 in the manifest`,
      `frozen ${format} differs from the manifest's sha256 (the stored report was changed)`,
    );
  }

  // The audit chain, whole, and its head at finalization.
  const audit = await attempt("audit log", () => source.audit());
  if (audit !== undefined) {
    if (audit.verdict.ok) pass(`audit chain (${audit.verdict.count} entries)`);
    else fail(`audit chain broken at seq ${audit.verdict.seq}: ${audit.verdict.reason}`);
    const at = audit.entries.find((e) => e.seq === manifest.audit?.seq);
    check(
      manifest.audit?.seq === 0 || at?.hash === manifest.audit?.hash,
      `audit entry ${manifest.audit?.seq} is the manifest's head`,
      `audit entry ${manifest.audit?.seq} ${at === undefined ? "is missing" : "has another hash than the manifest's head"}`,
    );
  }

  // The archived records: the manifest's counts and roots, and the log's copies.
  const archive = await attempt("archived records", async () => {
    const found = await source.archive(period.id);
    if (found === undefined) throw new Error(`none stored for ${period.id}`);
    return found;
  });
  if (archive !== undefined) {
    const own = recordsRoot(archive.records);
    check(
      own.count === manifest.records?.count && own.merkleRoot === manifest.records?.merkleRoot,
      `${own.count} records, Merkle root ${own.merkleRoot.slice(0, 16)}…`,
      `archived records (${own.count}, root ${own.merkleRoot}) differ from the manifest's (${manifest.records?.count}, root ${manifest.records?.merkleRoot})`,
    );
    const late = recordsRoot(archive.late);
    check(
      late.count === manifest.late?.count && late.merkleRoot === manifest.late?.merkleRoot,
      `${late.count} late records, Merkle root ${late.merkleRoot.slice(0, 16)}…`,
      `archived late records (${late.count}, root ${late.merkleRoot}) differ from the manifest's (${manifest.late?.count}, root ${manifest.late?.merkleRoot})`,
    );
    const outside = archive.records.filter((r) => !contains(period, r.at));
    check(
      outside.length === 0,
      "every archived record lies in the period",
      `${outside.length} archived record(s) lie outside ${period.id} (first: ${outside[0]?.decisionId})`,
    );

    const live = await attempt("decision log", () => source.live());
    if (live !== undefined) {
      for (const problem of live.problems) fail(problem);
      let compared = 0;
      const differs: string[] = [];
      const missing: string[] = [];
      for (const record of [...archive.records, ...archive.late]) {
        const copy = live.records.get(record.decisionId);
        if (copy === undefined) missing.push(record.decisionId);
        else if (canonicalJson(copy) !== canonicalJson(record)) differs.push(record.decisionId);
        else compared++;
      }
      check(
        differs.length === 0,
        `${compared} archived records equal their copies in the ${source.name} decision log`,
        `${differs.length} record(s) in the decision log differ from the archived ones (first: ${differs[0]})`,
      );
      if (missing.length > 0 && live.complete) {
        fail(`${missing.length} archived record(s) are missing from the decision log (first: ${missing[0]})`);
      } else if (missing.length > 0) {
        lines.push(
          `note  ${missing.length} archived record(s) are no longer in the stream (trimmed after archiving)`,
        );
      }
      const archived = new Set(archive.records.map((r) => r.decisionId));
      const after = [...live.records.values()].filter(
        (r) => contains(period, r.at) && !archived.has(r.decisionId),
      );
      if (after.length > 0) {
        lines.push(
          `note  ${after.length} record(s) of ${period.id} arrived after it was frozen: counted late elsewhere`,
        );
      }
    }

    // The report, rebuilt from the archived records and the orders at the manifest's head.
    if (audit?.verdict.ok) {
      try {
        const report = frozenReport({
          period,
          orders: ordersAt(audit.entries, manifest.audit.seq),
          archive,
          finalizedAt: manifest.finalizedAt,
          // Who published it is part of the frozen (signed) bytes: taken from them, not from this shell.
          ...publisherOf(frozen.formats.json),
        });
        const rebuilt = renderFormats(report);
        for (const format of FROZEN_FORMATS) {
          check(
            rebuilt[format] === frozen.formats[format],
            `${format} rebuilt from the records and orders equals the frozen bytes`,
            `${format} rebuilt from the records and orders differs from the frozen bytes`,
          );
        }
      } catch (err) {
        fail(`the report cannot be rebuilt: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  return { ok, lines };
}

/** A data directory, read without its lock. */
export function fileSource(dataDir: string): VerifySource {
  const reportDir = join(dataDir, "report");
  return {
    name: dataDir,
    frozen: (period) => readFrozen(reportDir, period),
    archive: (period) => readArchive(reportDir, period),
    async audit() {
      const entries: AuditEntry[] = [];
      try {
        const replay = await replayJournal(join(dataDir, JOURNAL_FILE), (e) => entries.push(e));
        return { verdict: { ok: true, count: replay.head.seq, head: replay.head }, entries };
      } catch (err) {
        if (!(err instanceof AuditChainError)) throw err;
        return { verdict: { ok: false, seq: err.seq, reason: err.message }, entries };
      }
    },
    async live() {
      const dir = join(dataDir, DECISIONS_DIR);
      const records = new Map<string, DecisionRecord>();
      const problems: string[] = [];
      const segments = await listSegments(dir);
      for (const [i, seg] of segments.entries()) {
        const text = await readFile(join(dir, segmentFile(seg)), "utf8");
        const lines = text.split("\n");
        // The active segment may end in a torn line (a write that never returned): not a record.
        const last = lines.pop();
        if (last !== "" && i < segments.length - 1) problems.push(`${segmentFile(seg)} ends inside a record`);
        for (const [n, line] of lines.entries()) {
          try {
            const record = JSON.parse(line) as DecisionRecord;
            if (!records.has(record.decisionId)) records.set(record.decisionId, record);
          } catch {
            problems.push(`${DECISIONS_DIR}/${segmentFile(seg)} line ${n + 1} is not a decision record`);
          }
        }
      }
      return { records, complete: true, problems };
    },
    close: async () => undefined,
  };
}

/** A Redis deployment: orders and audit, the frozen reports, the archive and the stream. */
export async function redisSource(url: string, prefix: string, redis: RedisClient): Promise<VerifySource> {
  const keys = redisKeys(prefix);
  const frozen = new RedisFrozenReportStore(redis, keys);
  let orders: RedisOrderStore | undefined;
  return {
    name: "Redis",
    frozen: (period) => frozen.get(period),
    archive: (period) => frozen.archive(period),
    async audit() {
      try {
        orders ??= await RedisOrderStore.open(url, { prefix });
      } catch (err) {
        if (!(err instanceof AuditChainError)) throw err;
        return { verdict: { ok: false, seq: err.seq, reason: err.message }, entries: [] };
      }
      const verdict = await orders.verify();
      // A broken chain cannot be read entry by entry (the store refuses a bad entry): judged as it is.
      if (!verdict.ok) return { verdict, entries: [] };
      const entries: AuditEntry[] = [];
      for (;;) {
        const page = await orders.readAudit({ after: entries.length, limit: 1000 });
        if (page.length === 0) break;
        entries.push(...page);
      }
      return { verdict, entries };
    },
    async live() {
      const records = new Map<string, DecisionRecord>();
      const problems: string[] = [];
      // Every partition's stream, and the legacy one of earlier versions (one stream per command).
      const { legacy, partitions } = await storedRedisKeys(redis, prefix);
      for (const stream of [legacy.stream, ...partitions.map((p) => p.stream)]) {
        let from = "-";
        for (;;) {
          const page = (await redis.xrange(stream, from, "+", "COUNT", 1000)) as [string, string[]][];
          if (page.length === 0) break;
          for (const [id, fields] of page) {
            try {
              const record = JSON.parse(field(fields, "r") ?? "") as DecisionRecord;
              if (!records.has(record.decisionId)) records.set(record.decisionId, record);
            } catch {
              problems.push(`decision stream entry ${id} of ${stream} is not a decision record`);
            }
          }
          from = `(${(page.at(-1) as [string, string[]])[0]}`;
        }
      }
      // The stream is trimmed once a period's records are archived: an archived record may be gone.
      return { records, complete: false, problems };
    },
    async close() {
      await orders?.close();
    },
  };
}

/** The publisher named in a frozen JSON report, if any (an unreadable one is reported by the checks). */
function publisherOf(json: string): { publisher?: { name: string; service: string } } {
  try {
    const publisher = (JSON.parse(json) as { publisher?: { name: string; service: string } }).publisher;
    return publisher === undefined ? {} : { publisher };
  } catch {
    return {};
  }
}
