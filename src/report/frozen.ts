/**
 * Finalized reports (I9): what a finalization freezes, the manifest that commits to it, and the pure
 * rebuild that `ReportService.finalize` and `cordon verify-report` share, so the frozen bytes and their
 * verification come from one function. The stores: `FileFrozenReportStore`, `RedisFrozenReportStore`.
 * Pure (the signature is the service's: WebCrypto is async and runtime-provided).
 */
import type { DecisionRecord, Order } from "../engine/index.js";
import type { Language } from "../i18n/language.js";
import type { AuditEntry } from "../store/interface.js";
import { byDecisionId, recordsRoot, sha256Hex } from "../store/merkle.js";
import { accumulate, accumulateLate } from "./accumulate.js";
import { emptyMonth } from "./aggregate-store.js";
import { buildReport } from "./build.js";
import type { MonthAggregate, Publisher, Report } from "./model.js";
import { monthOf, type Period } from "./periods.js";
import { renderCsv, renderHtml, renderJson } from "./render.js";
import { suppressReport } from "./suppress.js";

/** The frozen publications: JSON, the CSV dataset, the HTML page in each language; default threshold. */
export const FROZEN_FORMATS = ["json", "csv", "html-en", "html-nl"] as const;
export type FrozenFormat = (typeof FROZEN_FORMATS)[number];

/** A finalized period's records, each list sorted by decisionId. */
export interface RecordArchive {
  /** The records of the period counted in it (their `at` lies in the period). */
  records: DecisionRecord[];
  /** Records of earlier, finalized periods that this period counted late. */
  late: DecisionRecord[];
}

/** What the manifest says, signed as its canonical JSON (`signedText`). */
export interface ManifestBody {
  v: 1;
  period: string;
  /** When it was finalized; also the frozen report's `generatedAt`. */
  finalizedAt: string;
  /** SHA-256 (hex) of each frozen format's UTF-8 bytes. */
  sha256: Record<FrozenFormat, string>;
  counts: {
    requests: number;
    pendingAtEnd: number;
    deniedJoins: number;
    shadowMatches: number;
    lateRecords: number;
  };
  /** The audit chain's head when the report was built: its orders are the chain's up to here. */
  audit: { seq: number; hash: string };
  /** The period's decision records: their number and Merkle root (store/merkle.ts). */
  records: { count: number; merkleRoot: string };
  /** The late records it counted, the same way. */
  late: { count: number; merkleRoot: string };
  /** Ed25519; `publicKey` is the raw 32-byte key in base64, `keyId` as `cordon keygen` names it. */
  signer: { alg: "Ed25519"; keyId: string; publicKey: string };
}

export interface Manifest extends ManifestBody {
  /** Ed25519 signature (base64url) over the UTF-8 bytes of the canonical JSON of every other field. */
  signature: string;
}

export interface FrozenReport {
  manifest: Manifest;
  /** The exact text served for each format. */
  formats: Record<FrozenFormat, string>;
}

export interface FrozenReportStore {
  /**
   * Stores a period's records before its report is committed. Finalizing twice (or on two instances at
   * once) archives the same records: the months are frozen first, so the set cannot differ.
   */
  putArchive(period: Period, archive: RecordArchive): Promise<void>;
  archive(period: string): Promise<RecordArchive | undefined>;
  /**
   * Stores the frozen report unless the period has one already (set-if-absent), and resolves to the one
   * stored: two finalizations racing agree on the first.
   */
  commit(period: string, frozen: FrozenReport): Promise<FrozenReport>;
  get(period: string): Promise<FrozenReport | undefined>;
  /** The finalized periods. */
  list(): Promise<string[]>;
}

/** The orders as the audit chain left them at `seq` (each order's state after its last entry up to it). */
export function ordersAt(entries: Iterable<AuditEntry>, seq: number): Order[] {
  const orders = new Map<string, Order>();
  for (const entry of entries) if (entry.seq <= seq) orders.set(entry.orderId, entry.order);
  return [...orders.values()];
}

/**
 * The report a finalization freezes, from the archived records and the orders: the period's months
 * built from its own records, its late records added to its late count, not provisional. A dataset
 * row's denied joins come from the period's records, which hold all of them: an order denies only once
 * approved, and its row is in the period of its approval.
 */
export function frozenReport(input: {
  period: Period;
  orders: readonly Order[];
  archive: RecordArchive;
  finalizedAt: string;
  /** As the live report names it; `verify-report` takes it from the frozen JSON it checks. */
  publisher?: Publisher;
}): Report {
  const { period, archive } = input;
  const months = new Map<string, MonthAggregate>(period.months.map((m) => [m, emptyMonth(m)]));
  for (const record of archive.records) {
    const month = months.get(monthOf(record.at));
    if (month === undefined) throw new RangeError(`record ${record.decisionId} is not in ${period.id}`);
    accumulate(month, record);
  }
  const first = months.get(period.months[0] as string) as MonthAggregate;
  for (const record of archive.late) accumulateLate(first, record);
  const all = [...months.values()];
  return buildReport({
    period,
    orders: input.orders,
    months: all,
    history: all,
    generatedAt: input.finalizedAt,
    ...(input.publisher === undefined ? {} : { publisher: input.publisher }),
    provisional: false,
  });
}

export function renderFormats(report: Report): Record<FrozenFormat, string> {
  return {
    json: renderJson(report),
    csv: renderCsv(report),
    "html-en": renderHtml(report, "en"),
    "html-nl": renderHtml(report, "nl"),
  };
}

/** Everything the manifest says but its signer. */
export function manifestBody(input: {
  report: Report;
  formats: Record<FrozenFormat, string>;
  archive: RecordArchive;
  audit: { seq: number; hash: string };
  signer: ManifestBody["signer"];
}): ManifestBody {
  const { report } = input;
  const sum = (key: "deniedJoins" | "shadowMatches") =>
    Object.values(report.enforcement.byJurisdiction).reduce((n, c) => n + c[key], 0);
  return {
    v: 1,
    period: report.period,
    finalizedAt: report.generatedAt,
    sha256: Object.fromEntries(
      FROZEN_FORMATS.map((f) => [f, sha256Hex(input.formats[f])]),
    ) as ManifestBody["sha256"],
    counts: {
      requests: report.requests.total,
      pendingAtEnd: report.requests.pendingAtEnd.count,
      deniedJoins: sum("deniedJoins"),
      shadowMatches: sum("shadowMatches"),
      lateRecords: report.late.records,
    },
    audit: { seq: input.audit.seq, hash: input.audit.hash },
    records: recordsRoot(input.archive.records),
    late: recordsRoot(input.archive.late),
    signer: input.signer,
  };
}

/** The manifest without its signature: what is signed is the canonical JSON of this. */
export function unsigned(manifest: Manifest): ManifestBody {
  const { signature: _signature, ...body } = manifest;
  return body;
}

/** The frozen format for a request, and the language it fixes. */
export function frozenFormat(format: "json" | "csv" | "html", lang: Language): FrozenFormat {
  return format === "html" ? `html-${lang}` : format;
}

/**
 * A variant at another threshold, derived from the frozen JSON: the same report (its numbers exact in
 * the JSON), masked at `threshold` and rendered again. Deterministic: the same bytes for the same
 * threshold on every request. Only the default-threshold bytes are frozen and signed.
 */
export function derivedReport(frozen: FrozenReport, threshold: number): Report {
  const { definitions: _definitions, ...report } = JSON.parse(frozen.formats.json) as Report & {
    definitions?: unknown;
  };
  return suppressReport({ ...report, threshold });
}

/** Sorted by decisionId, each once: the archive's form. */
export function archiveOf(
  records: readonly DecisionRecord[],
  late: readonly DecisionRecord[],
): RecordArchive {
  return { records: byDecisionId(records), late: byDecisionId(late) };
}
