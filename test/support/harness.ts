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
import { runFromDecisionLog } from "../../src/report/runner.js";
import { RulesetCompiler } from "../../src/rulesets/compiler.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { Authenticator, digestSecret } from "../../src/service/auth.js";
import { ReportService } from "../../src/service/reports.js";
import { FileAggregateStore } from "../../src/store/file/aggregate-store.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { FileIngestIndex } from "../../src/store/file/ingest-index.js";
import { cityDatabase } from "./fixtures.js";
import { type LogLine, recordingLogger } from "./logs.js";

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

export const T0 = Date.parse("2026-03-01T00:00:00Z");

export interface Harness {
  app: App;
  dir: string;
  store: FileStore;
  clock: { now: number };
  logs: LogLine[];
  call(
    method: string,
    path: string,
    opts?: { as?: Who | null; body?: unknown; raw?: string; headers?: Record<string, string> },
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
  const reports = new ReportService({
    aggregates,
    catchUp: () => runFromDecisionLog(store, aggregates, { logger }),
    orders: () => store.listOrders(),
    clock: () => clock.now,
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
    readiness: () => [],
  });
  return {
    app,
    dir,
    store,
    clock,
    logs,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const who = o.as === undefined ? undefined : o.as;
      if (who) headers.authorization = `Bearer ${secretOf(who)}`;
      let body: string | undefined = o.raw;
      if (o.body !== undefined) body = JSON.stringify(o.body);
      if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
        headers["content-type"] = "application/json";
      }
      const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await aggregates.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A valid order input; override any field. */
export function orderInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    reference: "WP/1234/2026",
    authority: { name: "Bombay High Court", jurisdiction: "IN", kind: "court" },
    jurisdictions: ["IN-MH"],
    target: { kind: "meeting", meetingIds: ["81234567890"] },
    receivedAt: "2026-02-20T09:00:00Z",
    ...overrides,
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
