/**
 * What the decision log costs the check: the same app, in one process, answering the same checks with
 * the real decision log of a data directory (SegmentLog, group commit) and with a decision log that
 * keeps nothing. 32 checks are kept in flight, as 32 connections would. Rounds are interleaved; the ratio of throughputs is what counts.
 * The bar: logging must not halve throughput (ratio above 0.5).
 *
 *   npx tsx bench/logging.ts [--quick]
 */
import { createHmac, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DecisionRecord } from "../src/engine/index.js";
import { CachedGeo } from "../src/geo/cached-geo.js";
import { MaxmindGeo } from "../src/geo/maxmind-geo.js";
import { createServerApp } from "../src/http/app.js";
import type { ServerServices } from "../src/http/services.js";
import { type Logger, SILENT_LOGGER } from "../src/kernel/logger.js";
import { defaultDatabasePath } from "../src/platform/node/geo-file.js";
import { RulesetCompiler } from "../src/rulesets/compiler.js";
import { RulesetHolder } from "../src/rulesets/holder.js";
import { Authenticator, digestSecret } from "../src/service/auth.js";
import { FileStore } from "../src/store/file/file-store.js";
import type { FsyncMode } from "../src/store/file/segment-log.js";
import type { DecisionLog } from "../src/store/interface.js";
import { prng } from "../test/support/prng.js";
import { machineNote, median, table, writeJson } from "./lib.js";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 3 : 7;
const ROUND_MS = quick ? 300 : 1000;
const IN_FLIGHT = 32;
const silent: Logger = SILENT_LOGGER;
const SECRET = "bench-logging-checker-secret-0001";

/** Deterministic public IPv4 addresses (avoiding 0/8, 10/8, 127/8, 169.254/16, 172.16/12, 192.168/16, 224+). */
function addresses(n: number): string[] {
  const next = prng(42);
  const out: string[] = [];
  while (out.length < n) {
    const a = 1 + Math.floor(next() * 222);
    if (a === 10 || a === 127 || a === 100 || a === 169 || a === 172 || a === 192) continue;
    out.push(`${a}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}.${1 + Math.floor(next() * 254)}`);
  }
  return out;
}

async function makeApp(kind: "none" | FsyncMode, dir: string, geo: CachedGeo) {
  const store = await FileStore.open(join(dir, kind), {
    fsync: kind === "none" ? "never" : kind,
    logger: silent,
  });
  // The baseline: the same orders, but a decision log that keeps nothing.
  const decisions: DecisionLog =
    kind === "none"
      ? {
          append: async (_records: readonly DecisionRecord[]) => {},
          page: (opts) => store.decisions.page(opts),
        }
      : store.decisions;
  const rulesets = new RulesetHolder(Date.now);
  const compiler = new RulesetCompiler(store.orders, rulesets, Date.now);
  await compiler.refresh();
  const key = Buffer.from("bench-logging-ip-hash-key-0123456789");
  // Only /v1/check is called: the reporting services are left out.
  const services: Omit<ServerServices, "reports" | "ingest" | "sealEdgeHash" | "enforcementEvents"> = {
    orders: store.orders,
    decisions,
    compiler,
    geo,
    rulesets,
    auth: new Authenticator([{ principal: "checker", role: "checker", sha256: digestSecret(SECRET) }]),
    clock: Date.now,
    hashIp: (ip) => createHmac("sha256", key).update(ip).digest("hex"),
    newId: randomUUID,
    logger: silent,
    readiness: () => [],
    clientAddress: () => undefined,
  };
  const app = createServerApp(services as ServerServices);
  return { app, store };
}

async function drive(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  bodies: string[],
  ms: number,
) {
  let done = 0;
  let i = 0;
  const until = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < until) {
      const res = await app.request("/v1/check", {
        method: "POST",
        headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
        body: bodies[i++ % bodies.length] as string,
      });
      if (res.status !== 200) throw new Error(`check answered ${res.status}`);
      await res.arrayBuffer();
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return done / ((performance.now() - started) / 1000);
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "cordon-bench-log-"));
  const geo = new CachedGeo(MaxmindGeo.fromBuffer(await readFile(defaultDatabasePath()), "bundled"), {
    max: 100_000,
  });
  const bodies = addresses(4096).map((ip, n) => JSON.stringify({ meetingId: `m${n % 64}`, ip }));
  const kinds = ["none", "never", "batch"] as const;
  const apps = await Promise.all(kinds.map((k) => makeApp(k, dir, geo)));
  for (const { app } of apps) await drive(app, bodies, quick ? 200 : 1000); // warm-up
  const rounds: Record<string, number[]> = { none: [], never: [], batch: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, kind] of kinds.entries())
      rounds[kind]?.push(await drive((apps[k] as { app: any }).app, bodies, ROUND_MS));
  }
  const stats = (apps[1] as { store: FileStore }).store.stats();
  for (const { store } of apps) await store.close();
  await rm(dir, { recursive: true, force: true });

  const ratio = (a: string, b: string) =>
    median((rounds[a] as number[]).map((v, i) => v / ((rounds[b] as number[])[i] as number)));
  const result = {
    date: new Date().toISOString(),
    machine: machineNote(),
    opsPerSec: {
      none: median(rounds.none ?? []),
      never: median(rounds.never ?? []),
      batch: median(rounds.batch ?? []),
    },
    ratios: { fileStoreNever: ratio("never", "none"), fileStoreBatchFsync: ratio("batch", "none") },
    groupCommit: {
      writes: stats.decisionWrites,
      records: stats.decisionRecords,
      recordsPerWrite: stats.decisionRecords / stats.decisionWrites,
    },
  };
  console.log(
    table([
      ["decision log", "checks/s (median)", "÷ no log"],
      ["none (baseline)", result.opsPerSec.none.toFixed(0), "1.00"],
      [
        "FileStore, fsync never (default)",
        result.opsPerSec.never.toFixed(0),
        result.ratios.fileStoreNever.toFixed(2),
      ],
      [
        "FileStore, fsync batch",
        result.opsPerSec.batch.toFixed(0),
        result.ratios.fileStoreBatchFsync.toFixed(2),
      ],
    ]),
  );
  console.log(
    `group commit (fsync never): ${stats.decisionRecords} records in ${stats.decisionWrites} writes, ${result.groupCommit.recordsPerWrite.toFixed(1)} per write`,
  );
  console.log(
    `logging keeps ${(result.ratios.fileStoreNever * 100).toFixed(0)}% of throughput: ${result.ratios.fileStoreNever > 0.5 ? "does not halve it" : "HALVES IT"}`,
  );
  writeJson(new URL("./results/logging.json", import.meta.url).pathname, result);
}

await main();
