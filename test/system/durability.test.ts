/**
 * Durability of the embedded store against the real server process (I5, I7): answered checks and
 * acknowledged orders survive `kill -9`; the audit chain verifies and detects an edit; and no raw
 * participant address is anywhere under the data directory (I6).
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/cli/verify-audit.js";
import { cityDatabase, PLACES } from "../support/fixtures.js";
import { orderInput } from "../support/harness.js";
import { api, type ServerProcess, startServer, TOKENS } from "../support/server.js";

let dir: string;
let env: Record<string, string>;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-durability-"));
  const db = join(dir, "City.mmdb");
  await writeFile(db, cityDatabase());
  env = {
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_GEOIP_DB: db,
    CORDON_TOKENS: Object.values(TOKENS).join(","),
    CORDON_IP_HASH_KEY: "durability-test-ip-hash-key-0123456789",
  };
});
afterAll(async () => {
  for (const s of servers) await s.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function start(): Promise<ServerProcess> {
  const s = await startServer(env);
  servers.push(s);
  return s;
}

async function allRecords(s: ServerProcess): Promise<any[]> {
  const out: any[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await api(
      s,
      "GET",
      `/v1/decisions?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ""}`,
      "auditor",
    );
    expect(page.status).toBe(200);
    out.push(...page.body.records);
    if (page.body.records.length === 0) return out;
    after = page.body.next;
  }
}

const ADDRESSES = [
  PLACES.mumbai.ip,
  PLACES.bengaluru.ip,
  PLACES.moscowV6.ip,
  PLACES.amsterdam.ip,
  PLACES.privateLan.ip,
];

describe("kill -9 of the server", () => {
  const answered = new Set<string>();
  let orderId: string;

  it("keeps every answered check and every acknowledged order", async () => {
    const first = await start();
    const created = await api(first, "POST", "/v1/orders", "responder", orderInput());
    expect(created.status).toBe(201);
    orderId = created.body.id;
    expect((await api(first, "POST", `/v1/orders/${orderId}/approve`, "approver", {})).status).toBe(200);

    // N checks from 8 concurrent callers, all answered before the kill.
    const N = 400;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          const i = next++;
          const res = await api(first, "POST", "/v1/check", "checker", {
            meetingId: "81234567890",
            ip: ADDRESSES[i % ADDRESSES.length],
          });
          expect(res.status).toBe(200);
          answered.add(res.body.decisionId);
        }
      }),
    );
    expect(answered.size).toBe(N);
    await first.stop("SIGKILL");

    const second = await start();
    const records = await allRecords(second);
    expect(records).toHaveLength(N);
    expect(new Set(records.map((r) => r.decisionId))).toEqual(answered);
    const order = await api(second, "GET", `/v1/orders/${orderId}`, "auditor");
    expect(order.body).toMatchObject({ id: orderId, status: "approved" });
    // Still enforced after the restart.
    const check = await api(second, "POST", "/v1/check", "checker", {
      meetingId: "81234567890",
      ip: PLACES.mumbai.ip,
    });
    expect(check.body.code).toBe("BLOCKED");
    answered.add(check.body.decisionId);
    await second.stop("SIGKILL");
  });

  it("loses no answered check when killed in the middle of load", async () => {
    const s = await start();
    let stop = false;
    const inFlight: Promise<void>[] = [];
    for (let w = 0; w < 8; w++) {
      inFlight.push(
        (async () => {
          for (let i = 0; !stop; i++) {
            try {
              const res = await api(s, "POST", "/v1/check", "checker", {
                meetingId: `m${w}`,
                ip: ADDRESSES[i % ADDRESSES.length],
              });
              if (res.status === 200) answered.add(res.body.decisionId);
            } catch {
              return; // connection reset by the kill: this one was never answered
            }
          }
        })(),
      );
    }
    await new Promise((r) => setTimeout(r, 1500));
    s.child.kill("SIGKILL");
    stop = true;
    await Promise.all(inFlight);

    const again = await start();
    const ids = new Set((await allRecords(again)).map((r) => r.decisionId));
    const missing = [...answered].filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
    // At most the requests in flight at the kill were written without an answer.
    expect(ids.size - answered.size).toBeLessThanOrEqual(8);
    await again.stop();
  });

  it("leaves an audit chain that verifies, and a verifier that catches an edit", async () => {
    expect(await verifyAudit(env.CORDON_DATA_DIR as string)).toMatchObject({ ok: true, count: 2 });
    const journal = join(env.CORDON_DATA_DIR as string, "orders.jsonl");
    const original = await readFile(journal, "utf8");
    await writeFile(journal, original.replace('"jurisdictions":["IN-MH"]', '"jurisdictions":["IN-KA"]'));
    const verdict = await verifyAudit(env.CORDON_DATA_DIR as string);
    expect(verdict.ok).toBe(false);
    expect(verdict).toMatchObject({ seq: 1 });
    await writeFile(journal, original);
  });

  it("keeps no raw participant address anywhere under the data directory (I6)", async () => {
    const files: string[] = [];
    const walk = async (d: string) => {
      for (const entry of await readdir(d)) {
        const p = join(d, entry);
        if ((await stat(p)).isDirectory()) await walk(p);
        else files.push(p);
      }
    };
    await walk(env.CORDON_DATA_DIR as string);
    expect(files.some((f) => f.includes("decisions"))).toBe(true);
    for (const file of files) {
      const content = await readFile(file, "utf8");
      for (const ip of ADDRESSES) expect(content.includes(ip), `${ip} in ${file}`).toBe(false);
    }
  });
});
