/**
 * `DiskMirror`: the last ruleset in force, kept in a local file (`<dataDir>/ruleset.json`), so an instance
 * that starts while Redis is down enforces it (DESIGN.md: "each instance keeps the last one on local
 * disk and enforces it through outages"). Written atomically: a crash leaves the old file or the new one,
 * never half of one.
 */
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Ruleset } from "../engine/index.js";
import type { Logger } from "../kernel/logger.js";
import { writeFileAtomic } from "../platform/node/atomic-file.js";
import { nodeSha256 } from "../platform/node/sha256-stream.js";
import type { RulesetMirror } from "./redis-sync.js";
import { parseRulesetDocument, rulesetJson } from "./ruleset-json.js";

export class DiskMirror implements RulesetMirror {
  /** Writes, one at a time, so a slow older write can never rename over a newer one. */
  private writes: Promise<unknown> = Promise.resolve();
  private writtenVersion = -1;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  async load(): Promise<Ruleset | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        this.logger.error("local ruleset file unreadable; ignored", { path: this.path, error: message(err) });
      }
      return undefined;
    }
    let ruleset: Ruleset;
    try {
      ruleset = parseRulesetDocument(text, { sha256: nodeSha256 });
    } catch (err) {
      // Left in place (evidence), and replaced by the next write.
      this.logger.error("local ruleset file corrupt or tampered; ignored", {
        path: this.path,
        error: message(err),
      });
      return undefined;
    }
    this.writtenVersion = ruleset.version;
    return ruleset;
  }

  write(ruleset: Ruleset): Promise<string | undefined> {
    const run = this.writes.then(async () => {
      if (ruleset.version < this.writtenVersion) return undefined;
      try {
        await mkdir(dirname(this.path), { recursive: true });
        await writeFileAtomic(this.path, rulesetJson(ruleset));
        this.writtenVersion = ruleset.version;
        return undefined;
      } catch (err) {
        // The ruleset is in force regardless; only a restart during an outage would miss it.
        this.logger.error("could not write the local ruleset file", { path: this.path, error: message(err) });
        return `write ${this.path}: ${message(err)}`;
      }
    });
    this.writes = run;
    return run;
  }

  async flush(): Promise<void> {
    await this.writes;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
