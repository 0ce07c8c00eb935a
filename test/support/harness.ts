/**
 * In-process harness for route tests: the real app over a real FileStore in a temp directory, a real
 * mmdb (the City fixture), a clock the test sets, and one token per principal.
 */

import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Geo } from "../../src/geo/interface.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { createServerApp } from "../../src/http/app.js";
import type { App } from "../../src/http/services.js";
import type { Language } from "../../src/i18n/language.js";
import type { Role } from "../../src/kernel/roles.js";
import { periodOf } from "../../src/report/periods.js";
import { collectRecords, runFromDecisionLog } from "../../src/report/runner.js";
import { RulesetCompiler } from "../../src/rulesets/compiler.js";
import { EnforcementReconciler } from "../../src/rulesets/enforcement-reconciler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { exportPrivateKey, generateSigningKey } from "../../src/rulesets/signed.js";
import { nodeClientAddress } from "../../src/runtime/node/client-address.js";
import { IpHashKeyRing } from "../../src/runtime/node/ip-hash-ring.js";
import { Authenticator, digestSecret } from "../../src/service/auth.js";
import { manifestSigner } from "../../src/service/report-signing.js";
import { ReportService } from "../../src/service/reports.js";
import { FileAggregateStore } from "../../src/store/file/aggregate-store.js";
import { EventJournal } from "../../src/store/file/event-journal.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { FileFrozenReportStore } from "../../src/store/file/frozen-store.js";
import { FileIngestIndex } from "../../src/store/file/ingest-index.js";
import { FileIpHashKeyStore } from "../../src/store/file/ip-hash-keys.js";
import type { SessionStore } from "../../src/store/sessions.js";
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
  edge: "edge",
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
  /** The per-period IP-hash keys (files in `<dir>/keys`), as `npm start` has them. */
  ipHashKeys: IpHashKeyRing;
  logs: LogLine[];
  reports: ReportService;
  /** Periods `onFinalized` was called for, in order. */
  finalized: string[];
  /** Enforcement events (`<dir>/events`), published by a reconciler on the harness clock. */
  events: { store: EventJournal; reconciler: EnforcementReconciler };
  call(
    method: string,
    path: string,
    opts?: RequestOptions & { as?: Who | null },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function makeHarness(
  opts: {
    geo?: Geo;
    now?: number;
    /** The console's sessions over the harness clock (a Redis store, say); default: in process memory. */
    sessions?: (clock: () => number) => SessionStore<Language>;
    /** false: the checks through the router alone (`AppOptions.fastChecks`). */
    fastChecks?: boolean;
  } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "cordon-test-"));
  const logs: Harness["logs"] = [];
  const { logger } = recordingLogger(logs);
  const store = await FileStore.open(dir, { logger });
  const clock = { now: opts.now ?? T0 };
  const rulesets = new RulesetHolder(() => clock.now);
  const compiler = new RulesetCompiler(store, rulesets, () => clock.now);
  await compiler.refresh();
  const ipHashKeys = await IpHashKeyRing.open({
    store: await FileIpHashKeyStore.open(join(dir, "keys")),
    masterKey: Buffer.from("harness-ip-hash-key-0123456789abcdef"),
    clock: () => clock.now,
    logger,
  });
  // Tests move the clock without waiting for the ring's timer: the keys of the half-years around the
  // start are loaded up front.
  const start = periodOf(clock.now, "half");
  await ipHashKeys.ensure(
    [start.start - 1, start.start, start.end, start.end + 183 * 86_400_000].map((t) => periodOf(t).id),
  );
  const aggregates = await FileAggregateStore.open(join(dir, "report"), { log: store });
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
      await ipHashKeys.destroy(period.id);
    },
  });
  const events = await EventJournal.open(join(dir, "events"), { retentionMs: 7 * 86_400_000, logger });
  const reconciler = new EnforcementReconciler({
    holder: rulesets,
    store: events,
    clock: () => clock.now,
    logger,
  }).start();
  compiler.addCompiledListener(reconciler.afterCompile);
  const app = createServerApp(
    {
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
      hashIp: (ip, at) => ipHashKeys.hashIp(ip, at),
      newId: randomUUID,
      logger,
      reports,
      ingest: new FileIngestIndex(join(dir, "ingested"), store.decisions),
      enforcementEvents: events,
      sealEdgeHash: (hash, at) => ipHashKeys.sealEdgeHash(hash, at),
      readiness: () => [],
      // Served (console page tests), the TCP peer as on Node; in process, unknown.
      clientAddress: nodeClientAddress,
      ...(opts.sessions ? { sessions: opts.sessions(() => clock.now) } : {}),
    },
    { fastChecks: opts.fastChecks ?? true },
  );
  return {
    app,
    dir,
    store,
    clock,
    ipHashKeys,
    logs,
    finalized,
    reports,
    events: { store: events, reconciler },
    async call(method, path, o = {}) {
      return readResult(await app.request(path, requestInit(method, o.as ? secretOf(o.as) : undefined, o)));
    },
    async close() {
      ipHashKeys.stop();
      await reconciler.stop();
      await events.close();
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
