/** The embedded ingest index: see `store/ingest-index.ts` for the order of operations. */
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { byMonth, type IngestIndex } from "../ingest-index.js";

/** One append-only file of ids per month under `<dataDir>/ingested/`, loaded into memory on first use. */
export class FileIngestIndex implements IngestIndex {
  readonly #months = new Map<string, Promise<Set<string>>>();

  constructor(private readonly dir: string) {}

  #load(month: string): Promise<Set<string>> {
    let loaded = this.#months.get(month);
    if (!loaded) {
      loaded = readFile(join(this.dir, `${month}.ids`), "utf8").then(
        (text) => new Set(text.split("\n").filter(Boolean)),
        (error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT") return new Set<string>();
          throw error;
        },
      );
      this.#months.set(month, loaded);
    }
    return loaded;
  }

  async unseen(records: readonly { decisionId: string; at: string }[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const [month, list] of byMonth(records)) {
      const seen = await this.#load(month);
      for (const r of list) if (!seen.has(r.decisionId)) out.add(r.decisionId);
    }
    return out;
  }

  async remember(records: readonly { decisionId: string; at: string }[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const [month, list] of byMonth(records)) {
      const seen = await this.#load(month);
      const fresh = list.filter((r) => !seen.has(r.decisionId));
      if (fresh.length === 0) continue;
      await appendFile(join(this.dir, `${month}.ids`), `${fresh.map((r) => r.decisionId).join("\n")}\n`);
      for (const r of fresh) seen.add(r.decisionId);
    }
  }
}
