/**
 * `FileFrozenReportStore`: finalized reports in the embedded data directory (I9), one directory per
 * period under the report directory, in files a reader can check with `sha256sum`:
 *
 *   <dir>/frozen/2026-H1/records.jsonl   the period's records, canonical JSON, by decisionId
 *   <dir>/frozen/2026-H1/late.jsonl      the late records it counted, the same way
 *   <dir>/frozen/2026-H1/report.json     the frozen bytes of each format
 *   <dir>/frozen/2026-H1/report.csv
 *   <dir>/frozen/2026-H1/report.en.html
 *   <dir>/frozen/2026-H1/report.nl.html
 *   <dir>/frozen/2026-H1/manifest.json   the signed manifest, written last: the period is finalized
 *                                        once it exists
 *
 * Every file is written whole (atomic-file.ts). The data directory has one writer (its LOCK), and the
 * service finalizes one period at a time, so set-if-absent is a check for manifest.json before writing.
 * The read functions take no lock: `cordon verify-report` reads beside a running server.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { readFileIfExists, syncDirectory, writeFileAtomic } from "../../platform/node/atomic-file.js";
import {
  FROZEN_FORMATS,
  type FrozenFormat,
  type FrozenReport,
  type FrozenReportStore,
  type Manifest,
  type RecordArchive,
} from "../../report/frozen.js";
import { type Period, parsePeriod } from "../../report/periods.js";
import { canonicalJson } from "../audit.js";

export const FROZEN_DIR = "frozen";
export const MANIFEST_FILE = "manifest.json";

/** The file holding each frozen format. */
export const FORMAT_FILES: Record<FrozenFormat, string> = {
  json: "report.json",
  csv: "report.csv",
  "html-en": "report.en.html",
  "html-nl": "report.nl.html",
};

const ARCHIVE_FILES = { records: "records.jsonl", late: "late.jsonl" } as const;

export class FileFrozenReportStore implements FrozenReportStore {
  /** `reportDir`: the report directory (`<dataDir>/report`). */
  constructor(private readonly reportDir: string) {}

  async putArchive(period: Period, archive: RecordArchive): Promise<void> {
    const dir = await this.periodDir(period.id);
    for (const kind of ["records", "late"] as const) {
      const text = archive[kind].map((r) => `${canonicalJson(r)}\n`).join("");
      await writeFileAtomic(join(dir, ARCHIVE_FILES[kind]), text, { syncDirectory: false });
    }
    await syncDirectory(dir);
  }

  archive(period: string): Promise<RecordArchive | undefined> {
    return readArchive(this.reportDir, period);
  }

  async commit(period: string, frozen: FrozenReport): Promise<FrozenReport> {
    const existing = await this.get(period);
    if (existing !== undefined) return existing;
    const dir = await this.periodDir(period);
    for (const format of FROZEN_FORMATS) {
      await writeFileAtomic(join(dir, FORMAT_FILES[format]), frozen.formats[format], {
        syncDirectory: false,
      });
    }
    await syncDirectory(dir);
    // Last: its presence is what makes the period finalized (the formats are durable before it).
    await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(frozen.manifest, null, 2)}\n`);
    return frozen;
  }

  get(period: string): Promise<FrozenReport | undefined> {
    return readFrozen(this.reportDir, period);
  }

  async list(): Promise<string[]> {
    const names = await readdir(join(this.reportDir, FROZEN_DIR)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as string[];
      throw err;
    });
    const out: string[] = [];
    for (const name of names) {
      if (parsePeriod(name) === undefined) continue;
      if ((await readFileIfExists(join(this.reportDir, FROZEN_DIR, name, MANIFEST_FILE))) !== undefined) {
        out.push(name);
      }
    }
    return out.sort();
  }

  private async periodDir(period: string): Promise<string> {
    if (parsePeriod(period) === undefined) throw new RangeError(`not a period: ${period}`);
    const dir = join(this.reportDir, FROZEN_DIR, period);
    await mkdir(dir, { recursive: true });
    return dir;
  }
}

/** The frozen report of a period, or undefined when it is not finalized. Throws on unreadable files. */
export async function readFrozen(reportDir: string, period: string): Promise<FrozenReport | undefined> {
  if (parsePeriod(period) === undefined) return undefined;
  const dir = join(reportDir, FROZEN_DIR, period);
  const manifestText = await readFileIfExists(join(dir, MANIFEST_FILE));
  if (manifestText === undefined) return undefined;
  const formats = {} as Record<FrozenFormat, string>;
  for (const format of FROZEN_FORMATS) {
    const text = await readFileIfExists(join(dir, FORMAT_FILES[format]));
    if (text === undefined) throw new Error(`${join(dir, FORMAT_FILES[format])} is missing`);
    formats[format] = text;
  }
  return { manifest: JSON.parse(manifestText) as Manifest, formats };
}

/** A period's archived records, or undefined when none were archived. Throws on a line that is not JSON. */
export async function readArchive(reportDir: string, period: string): Promise<RecordArchive | undefined> {
  if (parsePeriod(period) === undefined) return undefined;
  const dir = join(reportDir, FROZEN_DIR, period);
  const out: Partial<RecordArchive> = {};
  for (const kind of ["records", "late"] as const) {
    const text = await readFileIfExists(join(dir, ARCHIVE_FILES[kind]));
    if (text === undefined) return undefined;
    out[kind] = text
      .split("\n")
      .filter((line) => line !== "")
      .map((line, i) => {
        try {
          return JSON.parse(line) as DecisionRecord;
        } catch {
          throw new Error(`${join(dir, ARCHIVE_FILES[kind])} line ${i + 1} is not JSON`);
        }
      });
  }
  return out as RecordArchive;
}
