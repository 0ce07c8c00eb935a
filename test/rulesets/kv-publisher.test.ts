/**
 * Publishing signed rulesets to Workers KV, against a local fake of Cloudflare's KV REST API (a real
 * HTTP server): the request the API expects, ordering without compare-and-set, failures logged without
 * the token, counted, retried and never thrown; then end to end through the real Node entry, where an
 * approval leaves a value in KV that the edge verifies and enforces; and the `cordon` commands.
 */
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { kvPublishSettings, parseConfig, parsePublishConfig } from "../../src/config/node.js";
import { ConfigError } from "../../src/config/parse.js";
import { compile, decide } from "../../src/engine/index.js";
import { createLogger, type Logger } from "../../src/kernel/logger.js";
import { EdgeRulesets } from "../../src/rulesets/edge-loader.js";
import { RulesetHolder } from "../../src/rulesets/holder.js";
import { KvPublisher } from "../../src/rulesets/kv-publisher.js";
import { RULESET_MANIFEST_KV_KEY, verifySignedManifest } from "../../src/rulesets/sharded.js";
import {
  loadSigningKey,
  parsePublicKeys,
  type SigningKey,
  signRuleset,
  type VerifyingKey,
  verifySignedRuleset,
} from "../../src/rulesets/signed.js";
import { type Running, start } from "../../src/runtime/node/start.js";
import { iso, NOON, orderInput } from "../support/fixtures.js";
import { approvedOrder, makeHarness } from "../support/harness.js";
import { rawLogger } from "../support/logs.js";
import { readResult, requestInit } from "../support/requests.js";
import { approved, forMeeting, MUMBAI, newSigningKey, rulesetVersion } from "../support/rulesets.js";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const NAMESPACE = "fedcba9876543210fedcba9876543210";
const TOKEN = "cf-test-api-token-must-never-be-logged-0001";
const VALUES = `/client/v4/accounts/${ACCOUNT}/storage/kv/namespaces/${NAMESPACE}/values/`;
const KEYS = `/client/v4/accounts/${ACCOUNT}/storage/kv/namespaces/${NAMESPACE}/keys`;
const MANIFEST_PATH = `${VALUES}ruleset%2Fmanifest`;
const SINGLE_PATH = `${VALUES}ruleset%2Fcurrent`;

interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** Cloudflare's KV REST API, as far as the publisher uses it. */
class FakeKv {
  readonly requests: Recorded[] = [];
  readonly values = new Map<string, string>();
  /** Answers to give instead of the normal ones, first come first served. */
  readonly failures: { status: number; body: string }[] = [];
  /** Requests wait for this before being answered. */
  gate: Promise<void> | undefined;
  /** Keys a listing page holds at most (KV's is 1000; small here to test the cursor). */
  listPage = 1000;
  /** Listings still to answer with a 500. */
  listFailures = 0;
  private constructor(
    private readonly server: Server,
    readonly apiBase: string,
  ) {}

  static async start(): Promise<FakeKv> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const fake = new FakeKv(server, `http://127.0.0.1:${port}/client/v4`);
    server.on("request", (req, res) => void fake.handle(req, res));
    return fake;
  }

  get puts(): Recorded[] {
    return this.requests.filter((r) => r.method === "PUT");
  }

  /** The manifest PUTs: one per publish. */
  get manifestPuts(): Recorded[] {
    return this.puts.filter((r) => r.path === MANIFEST_PATH);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    const path = req.url ?? "";
    this.requests.push({
      method: req.method ?? "",
      path,
      authorization: req.headers.authorization,
      contentType: req.headers["content-type"],
      body,
    });
    await this.gate;
    const reply = (status: number, text: string) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(text);
    };
    const failure = this.failures.shift();
    if (failure) return reply(failure.status, failure.body);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      return reply(
        403,
        JSON.stringify({ success: false, errors: [{ code: 10000, message: "Authentication error" }] }),
      );
    }
    const listing =
      /^\/client\/v4\/accounts\/[0-9a-f]{32}\/storage\/kv\/namespaces\/[0-9a-f]{32}\/keys(\?.*)?$/.exec(path);
    if (listing && req.method === "GET") {
      if (this.listFailures > 0) {
        this.listFailures--;
        return reply(500, JSON.stringify({ success: false, errors: [{ code: 10001, message: "down" }] }));
      }
      // KV's listing: keys in order, `limit` a page, an opaque cursor ("" on the last page).
      const query = new URLSearchParams(listing[1] ?? "");
      const names = [...this.values.keys()].filter((k) => k.startsWith(query.get("prefix") ?? "")).sort();
      const from = Number(query.get("cursor") || 0);
      const limit = Math.min(this.listPage, Number(query.get("limit") ?? 1000));
      const cursor = from + limit < names.length ? String(from + limit) : "";
      const result = names.slice(from, from + limit).map((name) => ({ name }));
      return reply(
        200,
        JSON.stringify({
          success: true,
          errors: [],
          messages: [],
          result,
          result_info: { count: result.length, cursor },
        }),
      );
    }
    const match =
      /^\/client\/v4\/accounts\/[0-9a-f]{32}\/storage\/kv\/namespaces\/[0-9a-f]{32}\/values\/(.+)$/.exec(
        path,
      );
    if (!match)
      return reply(404, JSON.stringify({ success: false, errors: [{ code: 7003, message: "No route" }] }));
    const key = decodeURIComponent(match[1] as string);
    if (req.method === "DELETE") {
      this.values.delete(key);
      return reply(200, JSON.stringify({ success: true, errors: [], messages: [], result: null }));
    }
    if (req.method === "PUT") {
      this.values.set(key, body);
      return reply(200, JSON.stringify({ success: true, errors: [], messages: [], result: {} }));
    }
    const value = this.values.get(key);
    if (value === undefined) {
      return reply(
        404,
        JSON.stringify({ success: false, errors: [{ code: 10009, message: "get: 'key not found'" }] }),
      );
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(value);
  }
}

let kv: FakeKv;
let privateKeyText: string;
let key: SigningKey & { publicKey: CryptoKey };
let trusted: VerifyingKey[];
const open: KvPublisher[] = [];

beforeAll(async () => {
  kv = await FakeKv.start();
  ({ key, privateKeyText, trusted } = await newSigningKey("node-1"));
});
afterAll(() => kv.close());
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.stop()));
  kv.requests.length = 0;
  kv.values.clear();
  kv.failures.length = 0;
  kv.gate = undefined;
  kv.listPage = 1000;
  kv.listFailures = 0;
});

function publisher(
  opts: {
    token?: string;
    retryMs?: number;
    requestTimeoutMs?: number;
    logger?: Logger;
    maxShardBytes?: number;
    retireAfterMs?: number;
    clock?: () => number;
  } = {},
) {
  const p = new KvPublisher({
    kv: { accountId: ACCOUNT, namespaceId: NAMESPACE, apiToken: opts.token ?? TOKEN, apiBase: kv.apiBase },
    key,
    retryMs: opts.retryMs ?? 0,
    ...(opts.maxShardBytes ? { maxShardBytes: opts.maxShardBytes } : {}),
    ...(opts.retireAfterMs !== undefined ? { retireAfterMs: opts.retireAfterMs } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  open.push(p);
  return p;
}

/** The settings that publish to the fake KV, signing with our key. */
const publishSettings = () => ({
  CORDON_SIGNING_KEY: privateKeyText,
  CORDON_SIGNING_KEY_ID: "node-1",
  CF_ACCOUNT_ID: ACCOUNT,
  CF_KV_NAMESPACE_ID: NAMESPACE,
  CF_API_TOKEN: TOKEN,
  CF_API_BASE: kv.apiBase,
});

/** The version of the manifest in KV. */
async function held(): Promise<number | undefined> {
  const text = kv.values.get(RULESET_MANIFEST_KV_KEY);
  return text === undefined ? undefined : (await verifySignedManifest(text, trusted)).version;
}

/** The shard keys KV holds. */
const shardKeys = () => [...kv.values.keys()].filter((k) => k.startsWith("ruleset/shards/")).sort();

/** A Worker's view of what KV holds: the edge loader reading the fake's values, and a check through it. */
async function edgeDenies(
  meetingId: string,
  publicKeys = trusted,
): Promise<{ version: number | null; denies: boolean }> {
  const holder = new RulesetHolder(Date.now);
  const edge = new EdgeRulesets({
    publicKeys,
    read: async (k) => kv.values.get(k) ?? null,
    manager: holder,
    clock: Date.now,
  });
  await edge.ensureFresh();
  const denies = await edge.withShards(
    { meetingIds: [meetingId], accountIds: [] },
    async () => decide(holder.current(), { meetingId, location: MUMBAI }, Date.now()).decision === "deny",
  );
  return { version: edge.status().version, denies };
}

describe("the request to Cloudflare's KV API", () => {
  it("PUTs the shards, then the signed manifest naming them, to the account's namespace with the bearer token", async () => {
    const p = publisher();
    expect(await p.publish(rulesetVersion(2))).toEqual({ outcome: "published", version: 2 });
    const manifest = await verifySignedManifest(kv.values.get(RULESET_MANIFEST_KV_KEY) as string, trusted);
    expect(manifest).toMatchObject({ version: 2, hash: rulesetVersion(2).hash, orders: 2, retired: [] });
    const named = manifest.shards.flatMap((e) => (e ? [`ruleset/shards/${e.sha256}`] : []));
    expect(named).toEqual(shardKeys());
    // Read what KV holds, then every shard before the manifest that names them (and no single value).
    expect(kv.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${MANIFEST_PATH}`,
      `GET ${SINGLE_PATH}`,
      ...named.map((k) => `PUT ${VALUES}${encodeURIComponent(k)}`),
      // The first publish of a process looks for shards no manifest names (none here).
      `GET ${KEYS}?prefix=ruleset%2Fshards%2F&limit=1000`,
      `PUT ${MANIFEST_PATH}`,
    ]);
    expect(
      kv.puts.every((r) => r.authorization === `Bearer ${TOKEN}` && /^text\/plain/.test(r.contentType ?? "")),
    ).toBe(true);
    expect(p.status()).toMatchObject({ publishedVersion: 2, failures: 0 });
    expect(await edgeDenies("m-2")).toEqual({ version: 2, denies: true });
  });

  it("splits a large ruleset so that no value passes the shard size, and a change rewrites only the shards it touches", async () => {
    const orders = Array.from({ length: 200 }, (_, i) => approved(`o-${i}`, forMeeting(`m-${i}`)));
    const v1 = compile(orders, { version: 1, compiledAt: iso(NOON) });
    const p = publisher({ maxShardBytes: 8 * 1024 });
    await p.publish(v1);
    const manifest = await verifySignedManifest(kv.values.get(RULESET_MANIFEST_KV_KEY) as string, trusted);
    expect(manifest.shards.length).toBeGreaterThan(2);
    for (const k of shardKeys())
      expect(Buffer.byteLength(kv.values.get(k) as string)).toBeLessThanOrEqual(8 * 1024);

    kv.requests.length = 0;
    const v2 = compile([...orders.slice(1), approved("o-new", forMeeting("m-0"))], {
      version: 2,
      compiledAt: iso(NOON + 1),
    });
    await p.publish(v2);
    // o-0 left and o-new came for the same meeting: one shard changed, one written.
    expect(kv.puts.map((r) => r.path).filter((path) => path !== MANIFEST_PATH)).toHaveLength(1);
    expect(await edgeDenies("m-0")).toEqual({ version: 2, denies: true });
    expect(await edgeDenies("m-199")).toEqual({ version: 2, denies: true });
  });

  it("keeps a shard no manifest names until it has been retired long enough, then deletes it", async () => {
    const clock = { now: NOON };
    const p = publisher({ retireAfterMs: 60_000, clock: () => clock.now });
    await p.publish(rulesetVersion(1));
    const first = shardKeys();
    await p.publish(rulesetVersion(2));
    // v2's shard holds o-1 and o-2 together: v1's shard is retired, not deleted (a Worker may be on v1).
    let manifest = await verifySignedManifest(kv.values.get(RULESET_MANIFEST_KV_KEY) as string, trusted);
    expect(manifest.retired.map((r) => `ruleset/shards/${r.sha256}`)).toEqual(first);
    expect(shardKeys()).toEqual(expect.arrayContaining(first));
    clock.now += 59_000;
    await p.publish(rulesetVersion(3));
    expect(shardKeys()).toEqual(expect.arrayContaining(first));
    clock.now += 1_000;
    await p.publish(rulesetVersion(4));
    expect(shardKeys()).not.toEqual(expect.arrayContaining(first));
    manifest = await verifySignedManifest(kv.values.get(RULESET_MANIFEST_KV_KEY) as string, trusted);
    // Exactly the shards the manifest names, and those retired within the last minute, remain.
    const named = manifest.shards.flatMap((e) => (e ? [e.sha256] : []));
    expect(shardKeys()).toEqual(
      [...named, ...manifest.retired.map((r) => r.sha256)].map((d) => `ruleset/shards/${d}`).sort(),
    );
    expect(await edgeDenies("m-4")).toEqual({ version: 4, denies: true });
  });

  it("retires shards no manifest names (a publish that died before its manifest), and deletes them later", async () => {
    const clock = { now: NOON };
    const p = publisher({ retireAfterMs: 60_000, clock: () => clock.now });
    kv.listPage = 2;
    // What a process that died between its shard writes and its manifest leaves behind.
    const orphans = ["a", "b", "c"].map((c) => `ruleset/shards/${c.repeat(64)}`);
    for (const k of orphans) kv.values.set(k, "{}");
    await p.publish(rulesetVersion(1));
    let manifest = await verifySignedManifest(kv.values.get(RULESET_MANIFEST_KV_KEY) as string, trusted);
    expect(manifest.retired.map((r) => `ruleset/shards/${r.sha256}`).sort()).toEqual(orphans);
    expect(shardKeys()).toEqual(expect.arrayContaining(orphans));
    // Listed once per retirement period, not on every publish.
    const listings = () => kv.requests.filter((r) => r.path.includes("/keys?")).length;
    const listed = listings();
    await p.publish(rulesetVersion(2));
    expect(listings()).toBe(listed);
    clock.now += 60_000;
    await p.publish(rulesetVersion(3));
    for (const k of orphans) expect(kv.values.has(k)).toBe(false);
    manifest = await verifySignedManifest(kv.values.get(RULESET_MANIFEST_KV_KEY) as string, trusted);
    const named = manifest.shards.flatMap((e) => (e ? [e.sha256] : []));
    expect(shardKeys()).toEqual(
      [...named, ...manifest.retired.map((r) => r.sha256)].map((d) => `ruleset/shards/${d}`).sort(),
    );
    expect(await edgeDenies("m-3")).toEqual({ version: 3, denies: true });
  });

  it("publishes when the key listing fails, and lists again on the next publish", async () => {
    const warnings: string[] = [];
    const logger = createLogger("warn", (e) => warnings.push(e.message));
    kv.values.set(`ruleset/shards/${"d".repeat(64)}`, "{}");
    const p = publisher({ logger });
    kv.listFailures = 1;
    expect(await p.publish(rulesetVersion(1))).toMatchObject({ outcome: "published" });
    expect(warnings).toContain("could not list ruleset shards in KV; will retry");
    await p.publish(rulesetVersion(2));
    const manifest = await verifySignedManifest(kv.values.get(RULESET_MANIFEST_KV_KEY) as string, trusted);
    expect(manifest.retired.map((r) => r.sha256)).toContain("d".repeat(64));
  });

  it("migrates from the single value: the manifest is written, then ruleset/current is deleted", async () => {
    kv.values.set("ruleset/current", await signRuleset(rulesetVersion(2), key));
    // A Worker before the migration reads the single value.
    expect(await edgeDenies("m-2")).toEqual({ version: 2, denies: true });
    // The same version still gets its manifest: the single value is no proof of one.
    expect(await publisher().publish(rulesetVersion(2))).toMatchObject({ outcome: "published" });
    expect(kv.requests.at(-2)?.path).toBe(MANIFEST_PATH);
    expect(kv.requests.at(-1)).toMatchObject({ method: "DELETE", path: SINGLE_PATH });
    expect(kv.values.has("ruleset/current")).toBe(false);
    expect(await edgeDenies("m-2")).toEqual({ version: 2, denies: true });
  });

  it("leaves KV alone when it already holds this version or a newer one signed by our key", async () => {
    await publisher().publish(rulesetVersion(5));
    kv.requests.length = 0;
    const p = publisher();
    expect(await p.publish(rulesetVersion(4))).toMatchObject({
      outcome: "skipped",
      reason: "KV holds v5, newer than v4",
    });
    expect(await p.publish(rulesetVersion(5))).toMatchObject({
      outcome: "skipped",
      reason: "KV already holds v5",
    });
    expect(kv.puts).toHaveLength(0);
    expect(await held()).toBe(5);
  });

  it("replaces a value our key does not verify, whatever version it claims", async () => {
    const { key: stranger } = await newSigningKey("node-1");
    kv.values.set("ruleset/current", await signRuleset(rulesetVersion(9), stranger));
    const { logger, lines: logs } = rawLogger();
    expect(await publisher({ logger }).publish(rulesetVersion(3))).toMatchObject({ outcome: "published" });
    expect(await held()).toBe(3);
    expect(logs.some((l) => l.level === "warn" && /does not verify; replacing it/.test(l.message))).toBe(
      true,
    );
  });

  it("publishes one at a time and skips a ruleset superseded before its PUT, so an older PUT never lands last", async () => {
    const p = publisher();
    let release = () => {};
    kv.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = p.publish(rulesetVersion(1));
    await expect.poll(() => kv.requests.length).toBe(1);
    // Two more compiles while the first publish is still reading KV.
    const second = p.publish(rulesetVersion(2));
    const third = p.publish(rulesetVersion(3));
    await new Promise((r) => setTimeout(r, 50));
    // Only the first publish's GET is out: the others wait their turn.
    expect(kv.requests).toHaveLength(1);
    release();
    expect(await first).toMatchObject({ outcome: "skipped", reason: "superseded by v3" });
    expect(await second).toMatchObject({ outcome: "skipped", reason: "superseded by v3" });
    expect(await third).toMatchObject({ outcome: "published", version: 3 });
    expect(kv.manifestPuts).toHaveLength(1);
    expect(await held()).toBe(3);
  });
});

describe("failures", () => {
  it("answers a refused PUT as a failed outcome, counted and logged without the token", async () => {
    // Unredacted: a token handed to the logger at all would show.
    const { logger, lines: logs } = rawLogger();
    const p = publisher({ logger, token: `${TOKEN}-wrong` });
    const outcome = await p.publish(rulesetVersion(2));
    expect(outcome).toMatchObject({ outcome: "failed", version: 2 });
    if (outcome.outcome === "failed")
      expect(outcome.error).toBe("GET KV value ruleset/manifest: HTTP 403: 10000 Authentication error");
    expect(p.status()).toMatchObject({
      failures: 1,
      publishedVersion: null,
      lastError: expect.stringContaining("403"),
    });

    // A 200 whose envelope says success: false is still a failure (the GETs before it find nothing).
    kv.failures.push(
      { status: 404, body: "{}" },
      { status: 404, body: "{}" },
      { status: 200, body: JSON.stringify({ success: false, errors: [{ code: 10001, message: "no" }] }) },
    );
    expect(await publisher({ logger }).publish(rulesetVersion(2))).toMatchObject({
      outcome: "failed",
      error: expect.stringMatching(/^PUT KV value ruleset\/shards\/[0-9a-f]{64}: refused: 10001 no$/),
    });
    // The shard was refused, so no manifest was written.
    expect(kv.values.has(RULESET_MANIFEST_KV_KEY)).toBe(false);

    // Nothing listens on port 1: the connection is refused.
    const unreachable = new KvPublisher({
      kv: {
        accountId: ACCOUNT,
        namespaceId: NAMESPACE,
        apiToken: TOKEN,
        apiBase: "http://127.0.0.1:1/client/v4",
      },
      key,
      retryMs: 0,
      logger,
    });
    expect(await unreachable.publish(rulesetVersion(2))).toMatchObject({
      outcome: "failed",
      error: expect.stringMatching(/^GET KV value ruleset\/manifest: fetch failed/),
    });

    const errors = logs.filter((l) => l.level === "error");
    expect(errors).toHaveLength(3);
    expect(errors.every((l) => l.message === "signed ruleset not published to KV; will retry")).toBe(true);
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
  });

  it("gives up a request after the timeout, without throwing", async () => {
    kv.gate = new Promise(() => {});
    const p = publisher({ requestTimeoutMs: 100 });
    expect(await p.publish(rulesetVersion(2))).toMatchObject({
      outcome: "failed",
      error: "GET KV value ruleset/manifest: timed out",
    });
  });

  it("retries a failed publish until it succeeds, with the newest ruleset asked for", async () => {
    kv.failures.push({ status: 500, body: "{}" }, { status: 503, body: "{}" });
    const p = publisher({ retryMs: 50 });
    expect(await p.publish(rulesetVersion(2))).toMatchObject({ outcome: "failed" });
    await expect.poll(() => p.status().publishedVersion, { timeout: 5000 }).toBe(2);
    expect(p.status()).toMatchObject({ failures: 2 });
    expect(p.status().lastError).toBeUndefined();
    expect(await held()).toBe(2);
  });

  it("holds a compile's listener at most its wait, while the publish goes on", async () => {
    let release = () => {};
    kv.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const p = publisher();
    const started = Date.now();
    await p.listener(150)(rulesetVersion(2));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await held()).toBeUndefined();
    release();
    await expect.poll(() => held(), { timeout: 5000 }).toBe(2);
  });
});

describe("configuration", () => {
  it("turns publishing on with all four settings, and names the missing ones otherwise", () => {
    const all = {
      CORDON_SIGNING_KEY: privateKeyText,
      CF_ACCOUNT_ID: ACCOUNT,
      CF_KV_NAMESPACE_ID: NAMESPACE,
      CF_API_TOKEN: TOKEN,
    };
    expect(parseConfig(all)).toMatchObject({ CF_API_BASE: "https://api.cloudflare.com/client/v4" });
    const message = (env: Record<string, string>) => {
      try {
        parseConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) return err.message;
        throw err;
      }
      return "";
    };
    const partial = message({ CORDON_SIGNING_KEY: privateKeyText, CF_ACCOUNT_ID: ACCOUNT });
    expect(partial).toMatch(
      /CF_KV_NAMESPACE_ID, CF_API_TOKEN: publishing signed rulesets to Workers KV needs all/,
    );
    expect(partial).not.toContain(privateKeyText);
    // The key alone signs report manifests; publishing stays off.
    expect(message({ CORDON_SIGNING_KEY: privateKeyText })).toBe("");
    expect(kvPublishSettings(parseConfig({ CORDON_SIGNING_KEY: privateKeyText }))).toBeUndefined();
    expect(message({ ...all, CORDON_SIGNING_KEY: "bm90LWEta2V5" })).toMatch(
      /CORDON_SIGNING_KEY: must be an Ed25519/,
    );
    expect(message({ ...all, CF_API_TOKEN: "short" })).not.toContain("short");
    expect(message({ CORDON_SIGNING_KEY_ID: "k1" })).toMatch(/CORDON_SIGNING_KEY_ID: names a signing key/);
    expect(() => parsePublishConfig({ CORDON_SIGNING_KEY: privateKeyText }, { kv: true })).toThrow(
      /CF_ACCOUNT_ID, CF_KV_NAMESPACE_ID, CF_API_TOKEN: must be set/,
    );
    expect(parsePublishConfig({ CORDON_SIGNING_KEY: privateKeyText }, { kv: false }).kv).toBeUndefined();
  });
});

describe("end to end through the Node entry", () => {
  let dir: string;
  let running: Running | undefined;
  const secrets = {
    responder: "e2e-responder-secret-000000001",
    approver: "e2e-approver-secret-0000000001",
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cordon-kv-e2e-"));
  });
  afterAll(async () => {
    await running?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("publishes on start and after an approval; the edge verifies the value and denies the meeting", async () => {
    const { logger, lines: logs } = rawLogger();
    const config = parseConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      CORDON_DATA_DIR: join(dir, "data"),
      CORDON_TOKENS: `ana:responder:${secrets.responder},bo:approver:${secrets.approver}`,
      CORDON_IP_HASH_KEY: "e2e-ip-hash-key-0123456789abcdef0123",
      ...publishSettings(),
    });
    running = await start(config, logger);
    const base = `http://127.0.0.1:${running.port}`;
    // The start publishes the ruleset in force (v0, no orders) in the background.
    await expect.poll(() => held(), { timeout: 5000 }).toBe(0);

    const call = async (path: string, secret: string, body: unknown) =>
      readResult(await fetch(`${base}${path}`, requestInit("POST", secret, { body })));
    const created = await call("/v1/orders", secrets.responder, orderInput({ reference: "WP/1/2026" }));
    expect(created.status).toBe(201);
    const approval = await call(`/v1/orders/${created.body.id}/approve`, secrets.approver, {});
    expect(approval.status).toBe(200);

    // Answered after KV took the write: the order route waited for it (the API answered at once).
    const publicKeys = await parsePublicKeys(
      `node-1:${Buffer.from(await crypto.subtle.exportKey("raw", key.publicKey)).toString("base64")}`,
    );
    expect(await edgeDenies("81234567890", publicKeys)).toEqual({ version: 2, denies: true });
    expect(kv.puts.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);

    const ready = (await (
      await fetch(`${base}/readyz`, { headers: { authorization: `Bearer ${secrets.responder}` } })
    ).json()) as {
      checks: { name: string; detail?: unknown }[];
    };
    expect(ready.checks.find((c) => c.name === "kv-publish")?.detail).toMatchObject({
      publishedVersion: 2,
      failures: 0,
    });
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
    expect(JSON.stringify(logs)).not.toContain(privateKeyText);
  });
});

describe("cordon keygen and cordon publish", () => {
  let dataDir: string;
  beforeAll(async () => {
    // One order entered and approved through the app: store head at 2.
    const h = await makeHarness();
    await approvedOrder(h);
    await h.store.close();
    dataDir = h.dir;
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  async function cli(args: string[], env: Record<string, string> = {}) {
    let out = "";
    const code = await run(
      args,
      (s) => {
        out += s;
      },
      env,
    );
    return { code, out };
  }

  it("prints a key pair whose halves belong together, in the forms the settings take", async () => {
    const { code, out } = await cli(["keygen"]);
    expect(code).toBe(0);
    const signing = /^CORDON_SIGNING_KEY=(\S+)$/m.exec(out)?.[1] as string;
    const keyId = /^CORDON_SIGNING_KEY_ID=(\S+)$/m.exec(out)?.[1];
    const publicKeys = /^RULESET_PUBLIC_KEYS=(\S+)$/m.exec(out)?.[1] as string;
    expect(
      parsePublishConfig({ CORDON_SIGNING_KEY: signing, CORDON_SIGNING_KEY_ID: keyId }, { kv: false }),
    ).toEqual({
      signingKey: signing,
      keyId,
      kv: undefined,
    });
    const loaded = await loadSigningKey(signing, keyId);
    const verifying = await parsePublicKeys(publicKeys);
    expect(verifying.map((k) => k.keyId)).toEqual([keyId]);
    expect((await verifySignedRuleset(await signRuleset(rulesetVersion(1), loaded), verifying)).version).toBe(
      1,
    );
  });

  it("publishes the stored orders to KV, and writes the signed value to a file with --out", async () => {
    const env = publishSettings();
    const published = await cli(["publish", "--data-dir", dataDir], env);
    expect(published).toMatchObject({ code: 0 });
    expect(published.out).toMatch(
      /^published signed ruleset v2 \(hash [0-9a-f]{12}, 1 orders\) with key node-1 to KV ruleset\/manifest and its shards/,
    );
    expect(await held()).toBe(2);
    expect((await cli(["publish", "--data-dir", dataDir], env)).out).toMatch(
      /nothing published .*KV already holds v2/,
    );

    const file = join(dataDir, "signed.json");
    const written = await cli(["publish", "--data-dir", dataDir, "--out", file], {
      CORDON_SIGNING_KEY: privateKeyText,
      CORDON_SIGNING_KEY_ID: "node-1",
    });
    expect(written.code).toBe(0);
    expect(written.out).toContain("wrangler kv key put ruleset/current --path");
    expect((await verifySignedRuleset(await readFile(file, "utf8"), trusted)).version).toBe(2);

    expect(
      await cli(["publish", "--data-dir", dataDir], { CORDON_SIGNING_KEY: privateKeyText }),
    ).toMatchObject({
      code: 2,
      out: expect.stringContaining("CF_ACCOUNT_ID, CF_KV_NAMESPACE_ID, CF_API_TOKEN: must be set"),
    });
    const failed = await cli(["publish", "--data-dir", dataDir], {
      ...env,
      CF_API_TOKEN: `${TOKEN}-revoked`,
    });
    expect(failed.code).toBe(1);
    expect(failed.out).toContain("HTTP 403");
    expect(failed.out).not.toContain(TOKEN);
  });
});
