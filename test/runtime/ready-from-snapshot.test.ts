/**
 * The embedded server's start from the ruleset snapshot, over real HTTP on real files: ready on the
 * ruleset alone (the snapshot brought to the journal's head, so the last approval is enforced), the
 * orders loading behind it with order routes answering 503 and `Retry-After` (nothing written), then
 * working, incremental compiles going on from the resumed ruleset; and a snapshot that does not verify
 * ignored with a warning, the start compiling the same ruleset from the orders.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/node.js";
import { type Running, start } from "../../src/runtime/node/start.js";
import { DeferredOrderJournal } from "../../src/store/file/deferred-orders.js";
import { OrderJournal } from "../../src/store/file/order-journal.js";
import { RULESET_SNAPSHOT_FILE } from "../../src/store/file/ruleset-snapshot.js";
import { cityDatabase, orderInput, PLACES } from "../support/fixtures.js";
import { type LogLine, recordingLogger } from "../support/logs.js";
import { readResult, requestInit } from "../support/requests.js";

const SECRETS = {
  responder: "ready-test-responder-secret-0001",
  approver: "ready-test-approver-secret-00001",
  checker: "ready-test-checker-secret-000001",
  auditor: "ready-test-auditor-secret-000001",
};

const BACKGROUND_FROM_BYTES = DeferredOrderJournal.backgroundFromBytes;
let dir: string;
let running: Running | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-ready-"));
  await writeFile(join(dir, "city.mmdb"), cityDatabase());
});

afterEach(async () => {
  vi.restoreAllMocks();
  DeferredOrderJournal.backgroundFromBytes = BACKGROUND_FROM_BYTES;
  await running?.close();
  running = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function serve(lines: LogLine[] = []): Promise<{ call: Call; lines: LogLine[] }> {
  const config = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_GEOIP_DB: join(dir, "city.mmdb"),
    CORDON_TOKENS: Object.entries(SECRETS)
      .map(([role, secret]) => `${role}-1:${role}:${secret}`)
      .join(","),
    CORDON_IP_HASH_KEY: "ready-ip-hash-key-0123456789abcdef0123",
  });
  running = await start(config, recordingLogger(lines).logger);
  const base = `http://127.0.0.1:${running.port}`;
  const call: Call = async (method, path, who, body) =>
    readResult(await fetch(`${base}${path}`, requestInit(method, who && SECRETS[who], { body })));
  return { call, lines };
}

type Call = (
  method: string,
  path: string,
  who?: keyof typeof SECRETS,
  body?: unknown,
) => Promise<{ status: number; body: any; headers: Headers }>;

async function stop(): Promise<void> {
  await running?.close();
  running = undefined;
}

/** An approved order blocking Maharashtra from `meetingId`; answers its id. */
async function approvedOrder(call: Call, meetingId: string, between?: () => Promise<void>): Promise<string> {
  const created = await call(
    "POST",
    "/v1/orders",
    "responder",
    orderInput({ target: { kind: "meeting", meetingIds: [meetingId] } }),
  );
  expect(created.status).toBe(201);
  await between?.();
  expect((await call("POST", `/v1/orders/${created.body.id}/approve`, "approver", {})).status).toBe(200);
  return created.body.id;
}

const checkIn = (call: Call, meetingId: string) =>
  call("POST", "/v1/check", "checker", { meetingId, ip: PLACES.mumbai.ip });

const snapshotVersion = async () =>
  JSON.parse((await readFile(join(dir, "data", RULESET_SNAPSHOT_FILE), "utf8")).split("\n")[0] as string)
    .version;

describe("a start from the ruleset snapshot", () => {
  it("is ready on the ruleset alone, enforcing the journal's last entry; order routes answer 503 until the orders are loaded", async () => {
    // First start (no snapshot yet): the first version compiled is written (v1, the order pending),
    // the approval after it is not (one version on), so the journal is one entry ahead of the snapshot.
    const first = await serve();
    const id = await approvedOrder(first.call, "m-quick", async () => {
      await expect.poll(snapshotVersion, { timeout: 10_000 }).toBe(1);
    });
    expect((await checkIn(first.call, "m-quick")).body.decision).toBe("deny");
    await stop();
    expect(await snapshotVersion()).toBe(1);

    // Second start with the journal's open held back: what answers comes from the snapshot and the tail.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A store this small is loaded before listening; here, as a large one is, after.
    DeferredOrderJournal.backgroundFromBytes = 0;
    const open = OrderJournal.open;
    vi.spyOn(OrderJournal, "open").mockImplementation(async (...args) => {
      await gate;
      return open.apply(OrderJournal, args);
    });
    const { call } = await serve();
    expect((await call("GET", "/readyz")).status).toBe(200);
    const check = await checkIn(call, "m-quick");
    expect(check.body).toMatchObject({
      decision: "deny",
      code: "BLOCKED",
      orderIds: [id],
      rulesetVersion: 2,
    });
    const ready = await call("GET", "/readyz", "auditor");
    expect(ready.body.checks).toContainEqual({
      name: "order-store",
      ready: true,
      degraded: true,
      detail: { loading: true },
    });
    for (const [method, path, who, body] of [
      ["GET", "/v1/orders", "auditor", undefined],
      ["GET", `/v1/orders/${id}`, "auditor", undefined],
      ["POST", "/v1/orders", "responder", orderInput({ reference: "WP/refused/2026" })],
      ["POST", `/v1/orders/${id}/withdraw`, "responder", {}],
    ] as const) {
      const res = await call(method, path, who, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.body.error).toMatchObject({ code: "UNAVAILABLE" });
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }

    release();
    await expect.poll(async () => (await call("GET", "/v1/orders", "auditor")).status).toBe(200);
    // Nothing the 503s refused was written: one order, still approved.
    const listed = await call("GET", "/v1/orders", "auditor");
    expect(listed.body.orders.map((o: { id: string; status: string }) => [o.id, o.status])).toEqual([
      [id, "approved"],
    ]);
    expect((await call("GET", "/readyz", "auditor")).body.checks).toContainEqual(
      expect.objectContaining({
        name: "order-store",
        ready: true,
        detail: { loadedInMs: expect.any(Number) },
      }),
    );
    // Changes go on, compiled from the ruleset the start resumed.
    const second = await approvedOrder(call, "m-later");
    expect((await checkIn(call, "m-later")).body).toMatchObject({ decision: "deny", orderIds: [second] });
    expect((await checkIn(call, "m-quick")).body).toMatchObject({ decision: "deny", orderIds: [id] });
  });

  it("keeps enforcing when the orders then fail to load: order routes answer 503 (no Retry-After), logged", async () => {
    const first = await serve();
    const id = await approvedOrder(first.call, "m-broken", async () => {
      await expect.poll(snapshotVersion, { timeout: 10_000 }).toBe(1);
    });
    await stop();
    DeferredOrderJournal.backgroundFromBytes = 0;
    vi.spyOn(OrderJournal, "open").mockRejectedValue(new Error("entry 1 does not verify"));
    const { call, lines } = await serve();
    await expect
      .poll(() => lines.filter((l) => l.level === "error").map((l) => l.message))
      .toContain("order store did not open: order routes answer 503");
    expect((await checkIn(call, "m-broken")).body).toMatchObject({ decision: "deny", orderIds: [id] });
    const listed = await call("GET", "/v1/orders", "auditor");
    expect(listed.status).toBe(503);
    expect(listed.headers.get("retry-after")).toBeNull();
    const ready = await call("GET", "/readyz", "auditor");
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toContainEqual({
      name: "order-store",
      ready: true,
      degraded: true,
      detail: { error: "entry 1 does not verify" },
    });
  });

  it("loads a small store's orders before it listens: no 503 after a restart", async () => {
    const first = await serve();
    const id = await approvedOrder(first.call, "m-small", async () => {
      await expect.poll(snapshotVersion, { timeout: 10_000 }).toBe(1);
    });
    await stop();
    const { call, lines } = await serve();
    expect(lines.map((l) => l.message)).toContain("ruleset from its snapshot");
    expect((await call("GET", `/v1/orders/${id}`, "auditor")).status).toBe(200);
  });

  it("ignores a snapshot that does not verify, with a warning, and compiles the same ruleset from the orders", async () => {
    const first = await serve();
    await approvedOrder(first.call, "m-1", async () => {
      await expect.poll(snapshotVersion, { timeout: 10_000 }).toBe(1);
    });
    const before = (await first.call("GET", "/v1/ruleset", "auditor")).body;
    await stop();

    const path = join(dir, "data", RULESET_SNAPSHOT_FILE);
    const bytes = await readFile(path);
    // A bit of the compile time flipped: the checksum fails.
    const at = bytes.indexOf("compiledAt") + 14;
    bytes[at] = (bytes[at] as number) ^ 1;
    await writeFile(path, bytes);
    const { call, lines } = await serve();
    expect(lines.filter((l) => l.level === "warn").map((l) => l.message)).toContain(
      "ruleset snapshot ignored, compiling from the orders",
    );
    const after = (await call("GET", "/v1/ruleset", "auditor")).body;
    expect({ version: after.version, hash: after.hash }).toEqual({
      version: before.version,
      hash: before.hash,
    });
    expect((await checkIn(call, "m-1")).body.decision).toBe("deny");
  });
});
