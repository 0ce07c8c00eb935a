/**
 * CORDON_WORKERS=2 on the embedded store (no Redis): slot 0 writes the data directory, slot 1 answers
 * checks on the rulesets it distributes and logs them in its own decision log. Real processes, real HTTP,
 * a new connection per check so that node:cluster hands the checks to both workers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cityDatabase, orderInput } from "../support/fixtures.js";
import { freePort } from "../support/redis.js";
import { api, ROOT, secret, TOKENS } from "../support/server.js";

const MEETING = "81234567890";
/** Addresses the fixture database places in IN-MH: five distinct participants. */
const MUMBAI = ["49.32.10.20", "49.32.10.21", "49.32.10.22", "49.32.10.23", "49.32.10.24"];

let dir: string;
let db: string;
let primary: ChildProcess | undefined;
let stderr: string[] = [];
let server: { url: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-workers-embedded-"));
  db = join(dir, "City.mmdb");
  await writeFile(db, cityDatabase());
});
afterAll(async () => {
  if (primary && primary.exitCode === null) primary.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function waitFor(predicate: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}:\n${stderr.join("").slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `cordon listening` lines so far: slot and pid of each worker that started. */
function listening(): { worker: number; pid: number; role: string }[] {
  return stderr
    .join("")
    .split("\n")
    .filter((line) => line.includes('"message":"cordon listening"'))
    .map((text) => {
      const line = JSON.parse(text) as { worker: number; pid: number; role: string };
      return { worker: line.worker, pid: line.pid, role: line.role };
    });
}

async function startWorkers(workers: number): Promise<void> {
  const port = await freePort();
  stderr = [];
  primary = spawn(process.execPath, ["--import", "tsx", "src/entry/node.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      HOST: "127.0.0.1",
      CORDON_WORKERS: String(workers),
      CORDON_DATA_DIR: join(dir, "data"),
      CORDON_GEOIP_DB: db,
      CORDON_TOKENS: Object.values(TOKENS).join(","),
      CORDON_IP_HASH_KEY: "workers-embedded-test-ip-hash-key-0123456789",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  primary.stderr?.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
  server = { url: `http://127.0.0.1:${port}` };
  await waitFor(() => listening().length >= workers, 60_000, `${workers} workers listening`);
}

async function stopWorkers(): Promise<void> {
  if (!primary || primary.exitCode !== null) return;
  const exited = once(primary, "exit");
  primary.kill("SIGTERM");
  const [code] = await exited;
  expect(code).toBe(0);
}

/** One check on a connection of its own (node:cluster hands each connection to a worker). */
function check(ip: string): Promise<{ status: number; body: any }> {
  const body = JSON.stringify({ meetingId: MEETING, ip });
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}/v1/check`,
      {
        method: "POST",
        agent: false,
        headers: {
          authorization: `Bearer ${secret("checker")}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    // A check that hangs is not answered: reported, never waited on for ever.
    req.setTimeout(10_000, () => req.destroy(new Error("no answer in 10 s")));
    req.end(body);
  });
}

/** Every decision record in every log of the data directory: the writer's and each worker's. */
async function recordsOnDisk(): Promise<{ decisionId: string; decision: string; log: string }[]> {
  const data = join(dir, "data");
  const logs = [
    "decisions",
    ...(await readdir(data)).filter((n) => n.startsWith("worker-")).map((n) => `${n}/decisions`),
  ];
  const out: { decisionId: string; decision: string; log: string }[] = [];
  for (const log of logs) {
    const files = await readdir(join(data, log)).catch(() => [] as string[]);
    for (const file of files.filter((f) => f.endsWith(".jsonl"))) {
      for (const line of (await readFile(join(data, log, file), "utf8")).split("\n")) {
        if (line) out.push({ ...(JSON.parse(line) as { decisionId: string; decision: string }), log });
      }
    }
  }
  return out;
}

/** The auditors' view: every record `GET /v1/decisions` pages through, from the start to where it stays put. */
async function listedDecisions(): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const query = `limit=500${after === undefined ? "" : `&after=${encodeURIComponent(after)}`}`;
    const page = await api(server, "GET", `/v1/decisions?${query}`, "auditor");
    expect(page.status).toBe(200);
    ids.push(...page.body.records.map((r: { decisionId: string }) => r.decisionId));
    if (page.body.records.length === 0) return ids;
    after = page.body.next;
  }
}

function period(): string {
  const now = new Date();
  return `${now.getUTCFullYear()}-H${now.getUTCMonth() < 6 ? 1 : 2}`;
}

async function orderCounts(orderId: string): Promise<{ deniedJoins: number; participants: number }> {
  const report = await api(server, "GET", `/v1/reports/${period()}`, "auditor");
  expect(report.status).toBe(200);
  const counts = report.body.enforcement.byOrder[orderId] ?? { deniedJoins: 0, distinctParticipants: 0 };
  return { deniedJoins: counts.deniedJoins, participants: counts.distinctParticipants };
}

describe.sequential("two workers on the embedded store", () => {
  let orderId: string;
  const answered = new Set<string>();

  it("starts a writer and a follower, and enforces an order approved through either at once in both", async () => {
    await startWorkers(2);
    expect(
      listening()
        .map((l) => [l.worker, l.role])
        .sort(),
    ).toEqual([
      [0, "writer"],
      [1, "follower"],
    ]);
    const created = await api(server, "POST", "/v1/orders", "responder", {
      ...orderInput({ target: { kind: "meeting", meetingIds: [MEETING] } }),
      receivedAt: new Date(Date.now() - 86_400_000).toISOString(),
    });
    expect(created.status).toBe(201);
    orderId = created.body.id;
    // Before the approval: let in, by whichever worker answers.
    for (const r of await Promise.all(MUMBAI.map((ip) => check(ip)))) {
      expect(r.body.decision).toBe("allow");
      answered.add(r.body.decisionId);
    }
    const approved = await api(server, "POST", `/v1/orders/${orderId}/approve`, "approver", {});
    expect(approved.status).toBe(200);
    // From the approval's answer on, every check in either worker is decided on a ruleset that has it.
    const before = await recordsOnDisk();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => check(MUMBAI[i % 5] as string)));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ decision: "deny", code: "BLOCKED", orderIds: [orderId] });
      answered.add(r.body.decisionId);
    }
    const after = (await recordsOnDisk()).filter((r) => !before.some((b) => b.decisionId === r.decisionId));
    // Both workers answered some of them, each in its own log.
    expect(new Set(after.map((r) => r.log))).toEqual(new Set(["decisions", "worker-1/decisions"]));
    // The report counts each answered check once, and the participants once whoever checked them
    // (both workers seal addresses with the same period key).
    expect(await orderCounts(orderId)).toEqual({ deniedJoins: 200, participants: 5 });
  }, 120_000);

  it("loses no answered check when a worker is killed with -9 under load, and replaces it", async () => {
    const victims = listening();
    const follower = victims.find((l) => l.role === "follower") as { pid: number };
    const writer = victims.find((l) => l.role === "writer") as { pid: number };
    let denied = 200;
    let stop = false;
    const unanswered: string[] = [];
    const allowed: unknown[] = [];
    const load = (async () => {
      while (!stop) {
        const batch = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => check(MUMBAI[i % 5] as string)),
        );
        for (const r of batch) {
          // A check on a connection the kill cut was never answered: the caller retries it.
          if (r.status !== "fulfilled" || r.value.status !== 200) {
            unanswered.push(r.status === "fulfilled" ? String(r.value.status) : String(r.reason));
            continue;
          }
          if (r.value.body.decision !== "deny") allowed.push(r.value.body);
          answered.add(r.value.body.decisionId);
          denied++;
        }
      }
    })();
    await waitFor(() => denied >= 300, 30_000, "load before the first kill");
    process.kill(follower.pid, "SIGKILL");
    await waitFor(() => listening().length >= 3, 30_000, "a replacement follower");
    await waitFor(() => denied >= 500, 30_000, "load after the follower's replacement").catch((err) => {
      stop = true;
      throw new Error(`${err}\n${denied} denied; unanswered: ${unanswered.slice(-5).join(", ")}`);
    });
    process.kill(writer.pid, "SIGKILL");
    await waitFor(() => listening().length >= 4, 30_000, "a replacement writer");
    await waitFor(() => denied >= 700, 30_000, "load after the writer's replacement");
    stop = true;
    await load;
    expect(allowed).toEqual([]);

    const onDisk = await recordsOnDisk();
    const ids = onDisk.map((r) => r.decisionId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of answered) expect(ids).toContain(id);
    // Records a kill cut off from their answer may be in a log too; each is counted once.
    const deniesOnDisk = onDisk.filter((r) => r.decision === "deny").length;
    expect(deniesOnDisk).toBeGreaterThanOrEqual(denied);
    await waitFor(
      async () => (await api(server, "GET", "/readyz", "auditor")).status === 200,
      30_000,
      "the writer ready again",
    );
    expect(await orderCounts(orderId)).toEqual({ deniedJoins: deniesOnDisk, participants: 5 });
    // The auditors page every worker's records, each once.
    const listed = await listedDecisions();
    expect(listed.length).toBe(ids.length);
    expect(new Set(listed)).toEqual(new Set(ids));
  }, 180_000);

  it("keeps every order and count through a restart of the whole thing, with one worker or two", async () => {
    const counted = await orderCounts(orderId);
    await stopWorkers();
    await startWorkers(1);
    expect(await orderCounts(orderId)).toEqual(counted);
    expect((await check(MUMBAI[0] as string)).body.decision).toBe("deny");
    await stopWorkers();
    await startWorkers(2);
    expect(await orderCounts(orderId)).toEqual({ ...counted, deniedJoins: counted.deniedJoins + 1 });
    const withdrawn = await api(server, "POST", `/v1/orders/${orderId}/withdraw`, "responder", {});
    expect(withdrawn.status).toBe(200);
    for (const r of await Promise.all(Array.from({ length: 40 }, () => check(MUMBAI[1] as string)))) {
      expect(r.body.decision).toBe("allow");
    }
    await stopWorkers();
  }, 180_000);
});
