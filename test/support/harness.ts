/**
 * In-process harness for route tests: the real app over a real FileStore in a temp directory, a real
 * mmdb (the City fixture), a clock the test sets, and one token per principal.
 */

import { createHmac, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Geo } from "../../src/geo/interface.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { createServerApp } from "../../src/http/app.js";
import type { App } from "../../src/http/services.js";
import type { Role } from "../../src/kernel/roles.js";
import { collectRecords, runFromDecisionLog } from "../../src/report/runner.js";
import { RulesetCompiler } from "../../src/rulesets/compiler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { exportPrivateKey, generateSigningKey } from "../../src/rulesets/signed.js";
import { Authenticator, digestSecret } from "../../src/service/auth.js";
import { manifestSigner } from "../../src/service/report-signing.js";
import { ReportService } from "../../src/service/reports.js";
import { FileAggregateStore } from "../../src/store/file/aggregate-store.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { FileFrozenReportStore } from "../../src/store/file/frozen-store.js";
import { FileIngestIndex } from "../../src/store/file/ingest-index.js";
import { cityDatabase, orderInput, T0 } from "./fixtures.js";
import { type LogLine, recordingLogger } from "./logs.js";
import { type RequestOptions, readResult, requestInit } from "./requests.js";

export const PRINCIPALS = {
  checker: "checker",
  responder: "responder",
  responder2: "responder",
  approver: "approver",
  approver2: "approver",
  auditor: "auditor",
  admin: "admin",
} as const satisfies Record<string, Role>;
export type Who = keyof typeof PRINCIPALS;

export const secretOf = (who: Who) => `test-secret-for-${who}-0123456789`;

// Route tests take these with the harness; they live with the other fixtures.
export { orderInput, T0 } from "./fixtures.js";

export interface Harness {
  app: App;
  dir: string;
  store: FileStore;
  clock: { now: number };
  logs: LogLine[];
  reports: ReportService;
  /** Periods `onFinalized` was called for, in order. */
  finalized: string[];
  call(
    method: string,
    path: string,
    opts?: RequestOptions & { as?: Who | null },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function makeHarness(opts: { geo?: Geo; now?: number } = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "cordon-test-"));
  const logs: Harness["logs"] = [];
  const { logger } = recordingLogger(logs);
  const store = await FileStore.open(dir, { logger });
  const clock = { now: opts.now ?? T0 };
  const rulesets = new RulesetHolder(() => clock.now);
  const compiler = new RulesetCompiler(store, rulesets, () => clock.now);
  await compiler.refresh();
  const key = Buffer.from("harness-ip-hash-key-0123456789abcdef");
  const aggregates = await FileAggregateStore.open(join(dir, "report"));
  const finalized: string[] = [];
  const signingKey = await exportPrivateKey((await generateSigningKey()).privateKey);
  const reports = new ReportService({
    aggregates,
    catchUp: () => runFromDecisionLog(store, aggregates, { logger }),
    orders: () => store.listOrders(),
    clock: () => clock.now,
    frozen: new FileFrozenReportStore(join(dir, "report")),
    records: (ids) => collectRecords(store, ids),
    audit: store,
    signer: () => manifestSigner(signingKey),
    graceDays: 14,
    onFinalized: async (period) => {
      finalized.push(period.id);
    },
  });
  const app = createServerApp({
    orders: store,
    decisions: store,
    compiler,
    geo: opts.geo ?? MaxmindGeo.fromBuffer(cityDatabase(), "fixture:city"),
    rulesets,
    auth: new Authenticator(
      (Object.keys(PRINCIPALS) as Who[]).map((who) => ({
        principal: who,
        role: PRINCIPALS[who],
        sha256: digestSecret(secretOf(who)),
      })),
    ),
    clock: () => clock.now,
    hashIp: (ip) => createHmac("sha256", key).update(ip).digest("hex"),
    newId: randomUUID,
    logger,
    reports,
    ingest: new FileIngestIndex(join(dir, "ingested")),
    sealEdgeHash: (hash) => hash,
    readiness: () => [],
  });
  return {
    app,
    dir,
    store,
    clock,
    logs,
    finalized,
    reports,
    async call(method, path, o = {}) {
      return readResult(await app.request(path, requestInit(method, o.as ? secretOf(o.as) : undefined, o)));
    },
    async close() {
      await aggregates.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Enters an order as responder and approves it as approver; returns the approved order. */
export async function approvedOrder(h: Harness, overrides: Record<string, unknown> = {}): Promise<any> {
  const created = await h.call("POST", "/v1/orders", { as: "responder", body: orderInput(overrides) });
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  const approved = await h.call("POST", `/v1/orders/${created.body.id}/approve`, {
    as: "approver",
    body: {},
  });
  if (approved.status !== 200) throw new Error(`approve failed: ${JSON.stringify(approved.body)}`);
  return approved.body;
}
