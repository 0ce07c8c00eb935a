/** The embedded ingest index: see `store/ingest-index.ts` for the claims and the order of operations. */
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { byMonth, type Claim, type IngestEntry, type IngestIndex, judge, PENDING } from "../ingest-index.js";

/**
 * Months kept in memory. Ingest consults only the months a 14-day window (and 5 minutes ahead) touches,
 * at most three around a month's turn; an older one is read again from its file if ever needed.
 */
const MONTHS_IN_MEMORY = 3;

/**
 * One append-only file per month under `<dataDir>/ingested/`, `<month>.digests`, a line `id digest` per
 * confirmed record, loaded into memory on first use. Claims not yet confirmed live in memory only: one
 * process owns an embedded data directory, and ingest runs one delivery at a time.
 * (0.1.0 wrote `<month>.ids`, ids only; those ids are not in the edge's namespace and never looked up.)
 */
export class FileIngestIndex implements IngestIndex {
  readonly #months = new Map<string, Promise<Map<string, string>>>();

  constructor(private readonly dir: string) {}

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
    const claims = new Map<IngestEntry, Claim>();
    for (const [month, list] of byMonth(entries)) {
      const stored = await this.#load(month);
      for (const e of list) {
        const claim = judge(stored.get(e.decisionId), e.digest);
        if (claim === "new") stored.set(e.decisionId, PENDING + e.digest);
        claims.set(e, claim);
      }
    }
    return entries.map((e) => claims.get(e) as Claim);
  }

  async confirm(entries: readonly IngestEntry[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const [month, list] of byMonth(entries)) {
      const stored = await this.#load(month);
      await appendFile(
        join(this.dir, `${month}.digests`),
        list.map((e) => `${e.decisionId} ${e.digest}\n`).join(""),
      );
      for (const e of list) stored.set(e.decisionId, e.digest);
    }
  }
}
