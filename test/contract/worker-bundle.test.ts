/**
 * The deployable artifact, not the source: builds the Worker as `npm run build:worker` does (wrangler's
 * dry run, minified, the mmdb as a Data module), loads that bundle into workerd through Miniflare with
 * wrangler.toml's compatibility settings, and checks what the vitest pool (which runs the source through
 * Vite) cannot see: that workerd accepts the module (only handler exports), that nodejs_compat serves
 * the mmdb reader's imports, that the bundled database loads, and that checks, the join-ticket check
 * located from `request.cf`, and the decision Queue (delivering with an edge token) work end to end. The full contract runs in workerd from test/workers.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "hono/jwt";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { exportPublicKey, generateSigningKey, RULESET_KV_KEY } from "../../src/rulesets/signed.js";
import { requestInit } from "../support/requests.js";
import { signedIndiaRuleset } from "../support/rulesets.js";
import { ingestSink, type SinkState } from "../workers/ingest-sink.js";
import { secretOf } from "./principals.js";

const INGEST_TOKEN = "bundle-test-ingest-token-0123456789";
const TICKET_KEY = "bundle-test-join-ticket-key-0123456789abcdef";
const wranglerToml = readFileSync("wrangler.toml", "utf8");
const setting = (name: string) => new RegExp(`^${name} = (.+)$`, "m").exec(wranglerToml)?.[1] ?? "";

let out: string;
let mf: Miniflare;
let sinkControl: (request: Request) => Promise<Response>;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "cordon-worker-"));
  execFileSync(
    process.execPath,
    ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", "--outdir", out, "--env", ""],
    {
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      stdio: "pipe",
    },
  );
  const files = readdirSync(out);
  const mmdb = files.find((f) => f.endsWith(".mmdb"));
  if (!mmdb) throw new Error(`no mmdb Data module in the bundle: ${files.join(", ")}`);

  const pair = await generateSigningKey();
  const sink = ingestSink({ token: INGEST_TOKEN });
  sinkControl = sink.control;
  mf = new Miniflare({
    modulesRoot: out,
    modules: [
      { type: "ESModule", path: join(out, "worker.js") },
      { type: "Data", path: join(out, mmdb) },
    ],
    compatibilityDate: JSON.parse(setting("compatibility_date")),
    compatibilityFlags: JSON.parse(setting("compatibility_flags")),
    kvNamespaces: ["RULESETS"],
    queueProducers: { DECISIONS: { queueName: "cordon-decisions" } },
    queueConsumers: { "cordon-decisions": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 5 } },
    bindings: {
      CORDON_TOKENS: `checker:checker:${secretOf("checker")},auditor:auditor:${secretOf("auditor")}`,
      CORDON_IP_HASH_KEY: "bundle-test-ip-hash-key-0123456789abcdef",
      RULESET_PUBLIC_KEYS: `bundle:${await exportPublicKey(pair.publicKey)}`,
      CORDON_INGEST_URL: "http://ingest.test",
      CORDON_EDGE_TOKEN: `edge-delivery:edge:${INGEST_TOKEN}`,
      CORDON_TICKET_KEY: TICKET_KEY,
      CORDON_LOG_LEVEL: "warn",
    },
    outboundService: sink.outbound as never,
  });

  const kv = await mf.getKVNamespace("RULESETS");
  await kv.put(RULESET_KV_KEY, await signedIndiaRuleset({ privateKey: pair.privateKey, keyId: "bundle" }));
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
  if (out) rmSync(out, { recursive: true, force: true });
});

const check = async (body: unknown) => {
  const res = await mf.dispatchFetch(
    "https://edge.test/v1/check",
    requestInit("POST", secretOf("checker"), { body }),
  );
  return { status: res.status, body: (await res.json()) as any };
};

/** A browser's check with a join ticket for `meeting`, located from `cf`. */
const selfCheck = async (meeting: string, cf: Record<string, unknown>) => {
  const now = Math.floor(Date.now() / 1000);
  const ticket = await sign({ meeting, iat: now, exp: now + 300 }, TICKET_KEY, "HS256");
  const res = await mf.dispatchFetch("https://edge.test/v1/check/self", {
    ...requestInit("POST", undefined, { body: { ticket } }),
    cf,
  });
  return { status: res.status, body: (await res.json()) as any };
};

describe("wrangler.toml", () => {
  it("drains every dead-letter queue it names: each has a consumer, so nothing in it expires unread", () => {
    const dlqs = [...wranglerToml.matchAll(/^dead_letter_queue = "([^"]+)"$/gm)].map((m) => m[1]);
    const consumed = new Set([...wranglerToml.matchAll(/^queue = "([^"]+)"$/gm)].map((m) => m[1]));
    expect(dlqs).toHaveLength(3);
    for (const dlq of dlqs) expect(consumed.has(dlq), dlq).toBe(true);
  });
});

describe("the built Worker bundle in workerd", () => {
  it("starts, loads the signed ruleset and the bundled database, and is ready", async () => {
    const res = await mf.dispatchFetch("https://edge.test/readyz", {
      headers: { authorization: `Bearer ${secretOf("checker")}` },
    });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({
      ready: true,
      ruleset: { loaded: true, version: 2 },
      geo: { databaseType: "country ipvAll", source: "bundled:geolite2-country", ipVersion: 6 },
    });
  });

  it("denies from the body's ip (bundled mmdb) and, with a join ticket, from request.cf; allows elsewhere", async () => {
    const byIp = await check({ meetingId: "81234567890", ip: "49.32.10.20" });
    expect(byIp.status).toBe(200);
    expect(byIp.body).toMatchObject({
      decision: "deny",
      code: "BLOCKED",
      geo: { country: "IN" },
      rulesetVersion: 2,
    });
    const byCf = await selfCheck("81234567890", { country: "IN", regionCode: "MH" });
    expect(byCf.body).toMatchObject({ code: "BLOCKED", geo: { country: "IN", subdivision: "IN-MH" } });
    expect(byCf.body.orderIds).toBeUndefined();
    expect((await check({ meetingId: "81234567890" })).status).toBe(400);
    const v6 = await check({ meetingId: "81234567890", ip: "2001:4860:4860::8888" });
    expect(v6.body).toMatchObject({
      decision: "allow",
      code: "OUTSIDE_JURISDICTION",
      geo: { country: "US" },
    });
  });

  it("serves only the edge surface", async () => {
    const res = await mf.dispatchFetch("https://edge.test/v1/orders", {
      headers: { authorization: `Bearer ${secretOf("auditor")}` },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe("NOT_FOUND");
  });

  it("delivers each answered check's record to the ingest route once, through the Queue", async () => {
    const answered = await Promise.all([
      check({ meetingId: "q-1", ip: "8.8.8.8" }),
      selfCheck("q-2", { country: "NL" }),
    ]);
    const ids = answered.map((a) => a.body.decisionId as string);
    const state = await vi.waitFor(
      async () => {
        const s = (await (await sinkControl(new Request("http://sink/state"))).json()) as SinkState;
        if (!ids.every((id) => s.appended[id] === 1)) throw new Error("not delivered yet");
        return s;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(state.records.filter((r) => ids.includes(r.decisionId))).toHaveLength(2);
  });
});
