/** The embedded ingest index: see `store/ingest-index.ts` for the claims and the order of operations. */
import { appendFile, mkdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { DecisionRecord } from "../../engine/index.js";
import { InvalidCursorError } from "../../kernel/errors.js";
import { readFileIfExists, writeFileAtomic } from "../../platform/node/atomic-file.js";
import { byMonth, type Claim, type IngestEntry, type IngestIndex, judge, PENDING } from "../ingest-index.js";
import { decodeCursor } from "./segments.js";

/**
 * Months kept in memory. Ingest consults only the months a 14-day window (and 5 minutes ahead) touches,
 * at most three around a month's turn; an older one is read again from its file if ever needed.
 */
const MONTHS_IN_MEMORY = 3;
const CLAIMS_FILE = "claims.json";
const SCAN_PAGE = 5000;

/** The decision log as the index sees it: where it ends now, and its records from a cursor on. */
export interface IngestLog {
  end(): string;
  page(opts: { after?: string; limit: number }): Promise<{ records: DecisionRecord[]; next: string | null }>;
}

interface ClaimsFile {
  version: 1;
  /** Claims not yet confirmed, each with the log's end when it was made: its record can only lie after. */
  claims: (IngestEntry & { after: string })[];
}

/**
 * One append-only file per month under `<dataDir>/ingested/`, `<month>.digests`, a line `id digest` per
 * confirmed record, loaded into memory on first use. One process owns an embedded data directory, and
 * ingest runs one delivery at a time.
 *
 * A crash between the append and the confirmation must not let a retry append the record again (the
 * report counts log positions, so the log must hold each decisionId once). With the decision log given,
 * the claims not yet confirmed are also written to `claims.json` (atomically, before the append), each
 * with the log's end at the time. The first claim after a start reads the log from the earliest of those
 * cursors to its end: a claimed record found there was appended, and is confirmed now; one not found
 * never was, and its claim is dropped. Without a log (tests of ingest alone) claims live in memory only.
 * (0.1.0 wrote `<month>.ids`, ids only; those ids are not in the edge's namespace and never looked up.)
 */
export class FileIngestIndex implements IngestIndex {
  readonly #months = new Map<string, Promise<Map<string, string>>>();
  /** Claimed, not yet confirmed, as in `claims.json`. */
  readonly #claims = new Map<string, IngestEntry & { after: string }>();
  #reconciled: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly log?: IngestLog,
  ) {}

  #load(month: string): Promise<Map<string, string>> {
    let loaded = this.#months.get(month);
    if (loaded) {
      // Most recently used last, so the oldest is evicted first.
      this.#months.delete(month);
    } else {
      loaded = readFile(join(this.dir, `${month}.digests`), "utf8").then(
        (text) => {
          const entries = new Map<string, string>();
          for (const line of text.split("\n")) {
            const [id, digest] = line.split(" ");
            if (id && digest) entries.set(id, digest);
          }
          return entries;
        },
        (error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT") return new Map<string, string>();
          throw error;
        },
      );
      // A failed read is not kept: the next delivery reads again.
      loaded.catch(() => this.#months.delete(month));
    }
    this.#months.set(month, loaded);
    while (this.#months.size > MONTHS_IN_MEMORY) {
      const oldest = this.#months.keys().next().value as string;
      this.#months.delete(oldest);
    }
    return loaded;
  }

  async claim(entries: readonly IngestEntry[]): Promise<Claim[]> {
    await this.#reconcile();
    const claims = new Map<IngestEntry, Claim>();
    const fresh: IngestEntry[] = [];
    for (const [month, list] of byMonth(entries)) {
      const stored = await this.#load(month);
      for (const e of list) {
        const claim = judge(stored.get(e.decisionId), e.digest);
        if (claim === "new") {
          stored.set(e.decisionId, PENDING + e.digest);
          fresh.push(e);
        }
        claims.set(e, claim);
      }
    }
    if (this.log !== undefined && fresh.length > 0) {
      const after = this.log.end();
      for (const e of fresh) this.#claims.set(e.decisionId, { ...e, after });
      await this.#writeClaims();
    }
    return entries.map((e) => claims.get(e) as Claim);
  }

  async confirm(entries: readonly IngestEntry[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.#confirm(entries);
    for (const e of entries) this.#claims.delete(e.decisionId);
    // Nothing left to reconcile: the file goes (not synced: a claims file that comes back after a power
    // loss only makes the next start read the log's tail for nothing).
    if (this.log !== undefined && this.#claims.size === 0) await this.#removeClaims();
  }

  async #confirm(entries: readonly IngestEntry[]): Promise<void> {
    for (const [month, list] of byMonth(entries)) {
      const stored = await this.#load(month);
      await appendFile(
        join(this.dir, `${month}.digests`),
        list.map((e) => `${e.decisionId} ${e.digest}\n`).join(""),
      );
      for (const e of list) stored.set(e.decisionId, e.digest);
    }
  }

  async #writeClaims(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file: ClaimsFile = { version: 1, claims: [...this.#claims.values()] };
    await writeFileAtomic(join(this.dir, CLAIMS_FILE), `${JSON.stringify(file)}\n`);
  }

  async #removeClaims(): Promise<void> {
    await unlink(join(this.dir, CLAIMS_FILE)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }

  /** Once per process, before the first claim: settles the claims a previous process left (see above). */
  #reconcile(): Promise<void> {
    if (this.log === undefined) return Promise.resolve();
    this.#reconciled ??= this.#reconcileNow(this.log).catch((err) => {
      this.#reconciled = undefined; // tried again at the next claim
      throw err;
    });
    return this.#reconciled;
  }

  async #reconcileNow(log: IngestLog): Promise<void> {
    const text = await readFileIfExists(join(this.dir, CLAIMS_FILE));
    if (text === undefined) return;
    const left = (JSON.parse(text) as ClaimsFile).claims;
    const wanted = new Map(left.map((c) => [c.decisionId, c]));
    const appended: IngestEntry[] = [];
    // The earliest cursor is the smallest (segment, offset); cursors compare as strings only by chance.
    let after: string | undefined = left.map((c) => c.after).sort(byPosition)[0];
    for (;;) {
      let page: Awaited<ReturnType<IngestLog["page"]>>;
      try {
        page = await log.page({ ...(after === undefined ? {} : { after }), limit: SCAN_PAGE });
      } catch (err) {
        if (!(err instanceof InvalidCursorError) || after === undefined) throw err;
        after = undefined; // pruned meanwhile: what is kept, from its start
        continue;
      }
      for (const record of page.records) {
        const claim = wanted.get(record.decisionId);
        if (claim === undefined) continue;
        appended.push({ decisionId: claim.decisionId, at: claim.at, digest: claim.digest });
        wanted.delete(record.decisionId);
      }
      if (page.records.length === 0 || page.next === null || wanted.size === 0) break;
      after = page.next;
    }
    if (appended.length > 0) {
      await mkdir(this.dir, { recursive: true });
      await this.#confirm(appended);
    }
    await this.#removeClaims();
  }
}

function byPosition(a: string, b: string): number {
  const pa = decodeCursor(a);
  const pb = decodeCursor(b);
  if (pa === undefined || pb === undefined) return 0;
  return pa.seg - pb.seg || pa.off - pb.off;
}
