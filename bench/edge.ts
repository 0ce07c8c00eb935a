/**
 * Goal 7: CPU per check inside workerd against a Worker hello-world, in the same run. Three workerd
 * processes (Miniflare, each its own `workerd`), pinned to core 0, driven one at a time by wrk pinned to
 * core 1, in interleaved rounds:
 *   `hello-get`  a module Worker answering "Hello" (the floor of a Worker request);
 *   `echo-post`  a module Worker parsing a JSON body and echoing it;
 *   `cordon`     the built Worker bundle (`npm run build:worker`, dist/worker) with a sharded ruleset of
 *                10,000 meeting orders in local KV, answering `POST /v1/check` (bench/wrk/check.lua's
 *                bodies), each record sent to a local Queue;
 *   `cordon-single` the same with the ruleset as one signed value (`ruleset/current`), the format before
 *                sharding: what sharding costs a check once an isolate holds its shards.
 * CPU per request = the workerd process's utime + stime over a round (/proc/<pid>/stat) ÷ wrk's requests.
 * Ratios are per round, then the median. `--quick` for a smoke run.
 *
 *   npm run build:worker && npx tsx bench/edge.ts [--seconds=8] [--rounds=3] [--connections=16]
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { compile, createOrder, type Order, OrderInput, transition } from "../src/engine/index.js";
import { shardKey, shardRuleset, signManifest } from "../src/rulesets/sharded.js";
import { exportPublicKey, generateSigningKey, keyIdOf, signRuleset } from "../src/rulesets/signed.js";
import { median, table, writeJson } from "./lib.js";
import { cpuSeconds, type LoadResult, parseWrk, pinToCpu, ROOT } from "./servers.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const num = (name: string, dflt: number) => {
  const arg = argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.split("=")[1]) : dflt;
};
const SECONDS = num("seconds", quick ? 3 : 8);
const ROUNDS = num("rounds", quick ? 1 : 3);
const CONNECTIONS = num("connections", 16);
const ORDERS = num("orders", 10_000);

const CHECKER = "bench-checker-secret-0123456789";
const COMPAT = { compatibilityDate: "2026-04-01", compatibilityFlags: ["nodejs_compat"] };

interface Target {
  name: string;
  mf: Miniflare;
  url: string;
  pid: number;
  path: string;
  script?: string;
}

/** The workerd child of this process that is not in `known`. */
function newWorkerdPid(known: Set<number>): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (known.has(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm.startsWith("workerd") && ppid === process.pid) return pid;
    } catch {
      // Gone meanwhile.
    }
  }
  throw new Error("no workerd process found");
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((done, fail) =>
    execFile(
      cmd,
      args,
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 },
      (err, stdout, stderr) =>
        err ? fail(new Error(`${cmd} failed: ${err.message}\n${stdout}${stderr}`)) : done(stdout),
    ),
  );
}

async function start(
  name: string,
  options: ConstructorParameters<typeof Miniflare>[0],
  known: Set<number>,
  path: string,
  script?: string,
): Promise<Target> {
  const mf = new Miniflare({ host: "127.0.0.1", port: 0, ...options });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const pid = newWorkerdPid(known);
  known.add(pid);
  // workerd on core 0 (all its threads), wrk on core 1.
  pinToCpu(pid, "0");
  return { name, mf, url, pid, path, ...(script ? { script } : {}) };
}

/** 10,000 orders on their own meetings, plus the two blocked meetings check.lua sends 1 in 16 bodies to. */
function orders(count: number): Order[] {
  const at = "2026-01-01T00:00:00Z";
  const make = (id: string, overrides: Record<string, unknown>) =>
    transition(
      createOrder(
        OrderInput.parse({
          reference: `WP/${id}`,
          authority: { name: "Court", jurisdiction: "IN", kind: "court" },
          jurisdictions: ["IN-MH"],
          target: { kind: "meeting", meetingIds: [`7${id.padStart(10, "0")}`] },
          receivedAt: at,
          ...overrides,
        }),
        { id, actor: "responder", at },
      ),
      { type: "approve" },
      "approver",
      at,
    );
  const list = Array.from({ length: count }, (_, i) => make(String(i), {}));
  list.push(
    make("ru", {
      authority: { name: "Roskomnadzor", jurisdiction: "RU", kind: "regulator" },
      jurisdictions: ["RU"],
      target: { kind: "meeting", meetingIds: ["95500112233"] },
    }),
    make("in", { target: { kind: "meeting", meetingIds: ["81234567890"] } }),
  );
  return list;
}

async function main(): Promise<void> {
  const bundle = join(ROOT, "dist/worker/worker.js");
  const known = new Set<number>();
  const pair = await generateSigningKey();
  const keyId = await keyIdOf(pair.publicKey);

  const hello = await start(
    "hello-get",
    { ...COMPAT, modules: true, script: `export default { fetch() { return new Response("Hello"); } };` },
    known,
    "/",
  );
  const echo = await start(
    "echo-post",
    {
      ...COMPAT,
      modules: true,
      script: `export default { async fetch(r) { return Response.json(await r.json()); } };`,
    },
    known,
    "/",
    "bench/wrk/check.lua",
  );
  const publicKeys = `${keyId}:${await exportPublicKey(pair.publicKey)}`;
  const cordonOptions = (): ConstructorParameters<typeof Miniflare>[0] => ({
    ...COMPAT,
    scriptPath: bundle,
    modules: true,
    modulesRules: [{ type: "Data", include: ["**/*.mmdb"] }],
    kvNamespaces: ["RULESETS", "PARKED_DECISIONS"],
    queueProducers: { DECISIONS: { queueName: "cordon-decisions-bench" } },
    bindings: {
      CORDON_TOKENS: `bench:checker:${CHECKER},audit:auditor:bench-auditor-secret-0123456789`,
      CORDON_IP_HASH_KEY: "bench-ip-hash-key-0123456789abcdef0123",
      RULESET_PUBLIC_KEYS: publicKeys,
      CORDON_RULESET_REFRESH_MS: "10000",
      CORDON_LOG_LEVEL: "warn",
      CORDON_INGEST_URL: "http://127.0.0.1:9",
      CORDON_EDGE_TOKEN: "edge:edge:bench-edge-secret-0123456789",
    },
  });
  const cordon = await start("cordon", cordonOptions(), known, "/v1/check", "bench/wrk/check.lua");
  const single = await start("cordon-single", cordonOptions(), known, "/v1/check", "bench/wrk/check.lua");

  // The ruleset as the Node publisher writes it: shards, then the signed manifest.
  const ruleset = compile(orders(ORDERS), { version: 1, compiledAt: new Date().toISOString() });
  const split = await shardRuleset(ruleset, { maxShardBytes: 256 * 1024 });
  const kv = await cordon.mf.getKVNamespace("RULESETS");
  for (const s of split.shards) if (s) await kv.put(shardKey(s.sha256), s.text);
  await kv.put(
    "ruleset/manifest",
    await signManifest({ ...split.manifest, retired: [] }, { privateKey: pair.privateKey, keyId }),
  );
  await (await single.mf.getKVNamespace("RULESETS")).put(
    "ruleset/current",
    await signRuleset(ruleset, { privateKey: pair.privateKey, keyId }),
  );
  for (const t of [cordon, single]) {
    const probe = await fetch(`${t.url}/v1/check`, {
      method: "POST",
      headers: { authorization: `Bearer ${CHECKER}`, "content-type": "application/json" },
      body: JSON.stringify({ meetingId: "95500112233", ip: "5.8.10.20" }),
    });
    const body = (await probe.json()) as { code?: string };
    if (body.code !== "BLOCKED") throw new Error(`${t.name} does not block: ${JSON.stringify(body)}`);
  }

  const targets = [hello, echo, cordon, single];
  const load = async (
    t: Target,
    seconds: number,
  ): Promise<{ cpuUs: number; hostUs: number; load: LoadResult }> => {
    const before = cpuSeconds(t.pid).total;
    const host = process.cpuUsage();
    const args = ["-c", "1", "wrk", "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency"];
    if (t.script) args.push("-s", t.script);
    args.push(`${t.url}${t.path}`);
    const out = await run("taskset", args, { CORDON_TOKEN: CHECKER, WRK_PATH: t.path });
    const result = parseWrk(out);
    const cpu = cpuSeconds(t.pid).total - before;
    const hostUsage = process.cpuUsage(host);
    const hostUs = (hostUsage.user + hostUsage.system) / result.requests;
    return { cpuUs: (cpu / result.requests) * 1e6, hostUs, load: result };
  };

  // Warm-up: JIT, and the Worker's isolate loads the shards the bodies name.
  for (const t of targets) await load(t, quick ? 1 : 3);

  const rounds: Record<
    string,
    { cpuUs: number; hostUs: number; rps: number; non2xx: number; p99: number }[]
  > = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of targets) {
      const { cpuUs, hostUs, load: l } = await load(t, SECONDS);
      const list = rounds[t.name] ?? [];
      list.push({ cpuUs, hostUs, rps: l.rps, non2xx: l.non2xx, p99: l.latencyMs.p99 });
      rounds[t.name] = list;
    }
  }
  const ratio = (a: string, b: string) =>
    median((rounds[a] ?? []).map((x, i) => x.cpuUs / ((rounds[b] ?? [])[i]?.cpuUs ?? Number.NaN)));
  const rows = targets.map((t) => {
    const rs = rounds[t.name] ?? [];
    const cpu = median(rs.map((x) => x.cpuUs));
    return [
      t.name,
      `${cpu.toFixed(1)} us`,
      `${median(rs.map((x) => x.hostUs)).toFixed(1)} us`,
      `${Math.round(median(rs.map((x) => x.rps)))}`,
      `${Math.round(1e6 / cpu)}`,
      `${median(rs.map((x) => x.p99)).toFixed(2)} ms`,
      `${rs.reduce((n, x) => n + x.non2xx, 0)}`,
      `${ratio(t.name, "hello-get").toFixed(2)}x`,
      `${ratio(t.name, "echo-post").toFixed(2)}x`,
      `${ratio(t.name, "cordon-single").toFixed(2)}x`,
    ];
  });
  process.stdout.write(
    `workerd CPU per request (${ROUNDS} rounds of ${SECONDS}s, ${CONNECTIONS} connections, ${ruleset.orders.length} orders in ${split.manifest.shards.filter(Boolean).length} of ${split.manifest.shards.length} shards)\n`,
  );
  process.stdout.write(
    `${table([["target", "CPU/request", "host CPU/req", "req/s", "req/s per core (CPU)", "p99", "non-2xx", "vs hello-get", "vs echo-post", "vs cordon-single"], ...rows])}\n`,
  );
  writeJson(join(ROOT, "bench/results/edge.json"), {
    rounds,
    orders: ruleset.orders.length,
    shards: split.manifest.shards.length,
    ratios: {
      cordonVsHello: ratio("cordon", "hello-get"),
      cordonVsEcho: ratio("cordon", "echo-post"),
      shardedVsSingle: ratio("cordon", "cordon-single"),
    },
  });
  await Promise.all(targets.map((t) => t.mf.dispose()));
}

await main();
// Miniflare's disposal can linger on a loaded machine; the results are written.
process.exit(0);
