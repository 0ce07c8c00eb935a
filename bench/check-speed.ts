/**
 * The join check against its floors, in one run, every server pinned to CPU 0 and the load to CPU 1:
 *   echo        Hono JSON POST echo on @hono/node-server (bench/hello-server.ts post): the floor of a
 *               JSON API on this stack. Goal 1: `POST /v1/check` at most 1.5x its CPU per request.
 *   check       Cordon (dist) `POST /v1/check`, decision log on.
 *   batch       Cordon `POST /v1/check/batch`, 100 checks a request.
 *   nginx       nginx + the geoip2 module + a `map` of meeting and country to a verdict, one GET per
 *               check (what a platform team would reach for), access log off. Goal 2: the batch at 3x
 *               nginx's checks per second per core.
 * All four get the same participants (`checkBodies`, the mix of bench/wrk/check.lua) through
 * bench/wrk/lines.lua, `wrk -t1 -c32`; CPU is the server's utime+stime (/proc) per check. Rounds are
 * interleaved and the ratios are taken per round.
 * Then goal 6: an open-model load (bench/open-load.ts) of 5,000 checks/s on Cordon, latency from when
 * each request was due; the p99 must stay under 2 ms.
 *
 * Run: `npx tsx bench/check-speed.ts [--seconds=10] [--rounds=3] [--rate=5000] [--open-seconds=20]`.
 * Needs wrk and taskset; installs Debian's nginx-light and libnginx-mod-http-geoip2 when nginx is
 * missing. Writes bench/results/check-speed.json.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { machineNote, median, NGINX_GEOIP2_MODULE, table, writeJson, writeNginxConf } from "./lib.js";
import {
  batchBodies,
  buildCordon,
  checkBodies,
  countDecisions,
  cpuSeconds,
  freePort,
  type LoadResult,
  openLoad,
  parseWrk,
  pinToCpu,
  ROOT,
  secret,
  seedOrders,
  sleep,
  startCordon,
  startHello,
} from "./servers.js";

const RESULTS = fileURLToPath(new URL("./results/check-speed.json", import.meta.url));
const BATCH = 100;
const SERVER_CPU = "0";
const LOAD_CPU = "1";

const num = (name: string, fallback: number) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
};
const options = {
  seconds: num("seconds", 10),
  warmupSeconds: num("warmup", 3),
  rounds: num("rounds", 3),
  connections: num("connections", 32),
  rate: num("rate", 5000),
  openSeconds: num("open-seconds", 20),
};

type Name = "echo" | "check" | "batch" | "nginx";
interface Target {
  name: Name;
  pid: number;
  url: string;
  method: "POST" | "GET";
  path: string;
  lines: string;
  checksPerRequest: number;
}
interface Run {
  round: number;
  name: Name;
  load: LoadResult;
  cpuSeconds: number;
  cpuUsPerRequest: number;
  cpuUsPerCheck: number;
  checksPerCoreSecond: number;
}

function ensureNginx(): void {
  if (existsSync("/usr/sbin/nginx") && existsSync(NGINX_GEOIP2_MODULE)) return;
  console.log("check-speed: installing nginx-light and libnginx-mod-http-geoip2 (apt)");
  execFileSync(
    "apt-get",
    ["install", "-y", "--no-install-recommends", "nginx-light", "libnginx-mod-http-geoip2"],
    {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    },
  );
}

/**
 * nginx in the foreground, one process (no master), the geoip2 lookup of the participant's address
 * from the query, and the orders of rules/examples as a map (the RU order; the IN-MH one as IN, since
 * the bundled database is country-only).
 */
async function startNginx(dir: string): Promise<{ child: ChildProcess; pid: number; url: string }> {
  const port = await freePort();
  const conf = writeNginxConf(dir, port);
  const child = spawn("/usr/sbin/nginx", ["-p", dir, "-c", conf], { stdio: ["ignore", "ignore", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${url}/check?meeting=95500112233&ip=5.8.10.20`);
      const body = await res.text();
      if (!body.includes('"deny"')) throw new Error(`nginx answers ${body}`);
      if (child.pid === undefined) throw new Error("nginx: no pid");
      return { child, pid: child.pid, url };
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("nginx answers")) throw err;
      await sleep(100);
    }
  }
  throw new Error("nginx did not start");
}

function wrk(target: Target, seconds: number): Promise<LoadResult> {
  const args = ["-c", LOAD_CPU, "wrk", "-t1", `-c${options.connections}`, `-d${seconds}s`, "--latency"];
  args.push("-s", "bench/wrk/lines.lua", target.url);
  return new Promise((done, fail) => {
    execFile(
      "taskset",
      args,
      {
        cwd: ROOT,
        env: {
          ...process.env,
          WRK_LINES: target.lines,
          WRK_METHOD: target.method,
          WRK_PATH: target.path,
          CORDON_TOKEN: secret("checker"),
        },
        timeout: (seconds + 30) * 1000,
      },
      (error, stdout, stderr) =>
        error ? fail(new Error(`wrk: ${error.message}\n${stderr}`)) : done(parseWrk(stdout)),
    );
  });
}

async function measure(target: Target, round: number): Promise<Run> {
  const before = cpuSeconds(target.pid).total;
  const load = await wrk(target, options.seconds);
  await sleep(250);
  const cpu = cpuSeconds(target.pid).total - before;
  const checks = load.requests * target.checksPerRequest;
  if (load.non2xx > 0 || load.socketErrors > 0)
    console.warn(`  ${target.name}: ${load.non2xx} non-2xx, ${load.socketErrors} socket errors`);
  return {
    round,
    name: target.name,
    load,
    cpuSeconds: cpu,
    cpuUsPerRequest: (cpu / load.requests) * 1e6,
    cpuUsPerCheck: (cpu / checks) * 1e6,
    checksPerCoreSecond: checks / cpu,
  };
}

/** The open-model load on `url` (the full URL POSTed to), and the server's CPU per answered check. */
async function openLoadOn(url: string, lines: string, pid: number) {
  const before = cpuSeconds(pid).total;
  const result = await openLoad({
    url,
    token: secret("checker"),
    linesFile: lines,
    rate: options.rate,
    seconds: options.openSeconds,
    warmup: 3,
    cpu: LOAD_CPU,
  });
  const cpu = cpuSeconds(pid).total - before;
  return { result, cpuUsPerCheck: (cpu / (result.answered || 1)) * 1e6 };
}

async function main(): Promise<void> {
  ensureNginx();
  const build = await buildCordon();
  if (build.mode !== "dist") throw new Error(`build failed: ${build.note}`);
  const dir = mkdtempSync(join(tmpdir(), "cordon-check-speed-"));
  const bodies = checkBodies(4096);
  const files = {
    checks: join(dir, "checks.jsonl"),
    batches: join(dir, "batches.jsonl"),
    gets: join(dir, "gets.txt"),
  };
  writeFileSync(files.checks, `${bodies.join("\n")}\n`);
  writeFileSync(files.batches, `${batchBodies(bodies, BATCH).join("\n")}\n`);
  writeFileSync(
    files.gets,
    `${bodies
      .map((b) => JSON.parse(b) as { meetingId: string; ip: string })
      .map((b) => `/check?meeting=${b.meetingId}&ip=${b.ip}`)
      .join("\n")}\n`,
  );

  const echo = await startHello("post");
  const cordon = await startCordon(build);
  const seed = await seedOrders(cordon);
  const nginx = await startNginx(join(dir, "nginx"));
  for (const pid of [echo.pid, cordon.pid, nginx.pid]) pinToCpu(pid, SERVER_CPU);
  const targets: Target[] = [
    {
      name: "echo",
      pid: echo.pid,
      url: echo.url,
      method: "POST",
      path: "/",
      lines: files.checks,
      checksPerRequest: 1,
    },
    {
      name: "check",
      pid: cordon.pid,
      url: cordon.url,
      method: "POST",
      path: "/v1/check",
      lines: files.checks,
      checksPerRequest: 1,
    },
    {
      name: "batch",
      pid: cordon.pid,
      url: cordon.url,
      method: "POST",
      path: "/v1/check/batch",
      lines: files.batches,
      checksPerRequest: BATCH,
    },
    {
      name: "nginx",
      pid: nginx.pid,
      url: nginx.url,
      method: "GET",
      path: "",
      lines: files.gets,
      checksPerRequest: 1,
    },
  ];

  const runs: Run[] = [];
  try {
    for (const t of targets) await wrk(t, options.warmupSeconds);
    const recordsBefore = countDecisions(cordon.dataDir).records;
    let answered = 0;
    for (let round = 1; round <= options.rounds; round++) {
      for (const t of targets) {
        const run = await measure(t, round);
        runs.push(run);
        if (t.pid === cordon.pid) answered += run.load.requests * t.checksPerRequest;
        console.log(
          `round ${round} ${t.name.padEnd(5)} ${run.load.rps.toFixed(0).padStart(7)} req/s  ${run.cpuUsPerCheck.toFixed(2).padStart(7)} µs CPU/check  ${run.checksPerCoreSecond.toFixed(0).padStart(7)} checks/core-s  p99 ${run.load.latencyMs.p99.toFixed(2)} ms`,
        );
      }
    }
    await sleep(500);
    const recordsAfter = countDecisions(cordon.dataDir).records;

    const perRound = Array.from({ length: options.rounds }, (_, i) => {
      const of = (name: Name) => runs.find((r) => r.round === i + 1 && r.name === name) as Run;
      return {
        round: i + 1,
        checkOverEcho: of("check").cpuUsPerRequest / of("echo").cpuUsPerRequest,
        batchOverNginxPerCore: of("batch").checksPerCoreSecond / of("nginx").checksPerCoreSecond,
      };
    });
    const ratios = {
      perRound,
      checkOverEcho: median(perRound.map((r) => r.checkOverEcho)),
      batchOverNginxPerCore: median(perRound.map((r) => r.batchOverNginxPerCore)),
    };

    // The echo under the same open load first: what the machine and the load generator give a server
    // that does nothing, so that a p99 above the goal can be told apart from Cordon's own.
    console.log(
      `open-model load: ${options.rate} requests/s for ${options.openSeconds} s on the echo, then Cordon`,
    );
    const openEcho = await openLoadOn(`${echo.url}/`, files.checks, echo.pid);
    const open = await openLoadOn(`${cordon.url}/v1/check`, files.checks, cordon.pid);
    await sleep(500);
    const recordsEnd = countDecisions(cordon.dataDir).records;

    const rows = (["echo", "check", "batch", "nginx"] as Name[]).map((name) => {
      const mine = runs.filter((r) => r.name === name);
      return [
        name,
        mine.map((r) => r.load.rps.toFixed(0)).join(" / "),
        mine.map((r) => r.cpuUsPerRequest.toFixed(1)).join(" / "),
        mine.map((r) => r.cpuUsPerCheck.toFixed(2)).join(" / "),
        mine.map((r) => r.checksPerCoreSecond.toFixed(0)).join(" / "),
      ];
    });
    console.log(`\n${machineNote()}`);
    console.log(
      table([["server", "req/s", "CPU µs/request", "CPU µs/check", "checks per core-second"], ...rows]),
    );
    console.log(
      `check ÷ echo (goal ≤ 1.5): ${ratios.checkOverEcho.toFixed(2)}x (rounds ${perRound.map((r) => r.checkOverEcho.toFixed(2)).join(", ")})`,
    );
    console.log(
      `batch ÷ nginx, checks per core-second (goal ≥ 3): ${ratios.batchOverNginxPerCore.toFixed(2)}x (rounds ${perRound.map((r) => r.batchOverNginxPerCore.toFixed(2)).join(", ")})`,
    );
    for (const [label, o] of [
      ["echo", openEcho],
      ["check", open],
    ] as const) {
      const l = o.result.latencyMs;
      console.log(
        `open model, ${label}, ${options.rate}/s (achieved ${o.result.achievedRate.toFixed(0)}/s): p50 ${l.p50.toFixed(2)} ms, p90 ${l.p90.toFixed(2)}, p99 ${l.p99.toFixed(2)} (goal < 2), p99.9 ${l.p999.toFixed(2)}, max ${l.max.toFixed(1)}; ${o.result.errors} errors, ${o.result.non2xx} non-2xx; server ${o.cpuUsPerCheck.toFixed(1)} µs CPU/request; the generator's own send lag p99 ${o.result.sendLagMs.p99.toFixed(2)} ms (above a fraction of the goal, the run measures the generator)`,
      );
    }
    console.log(
      `decision records: ${recordsAfter - recordsBefore} written for ${answered} checks answered in the wrk runs (up to ${options.connections * options.rounds * 2 * BATCH} more in flight at cutoffs); ${recordsEnd - recordsAfter} for ${open.result.answered} open-model answers (plus its warm-up)`,
    );
    writeJson(RESULTS, {
      date: new Date().toISOString(),
      machine: machineNote(),
      options,
      seed,
      runs,
      ratios,
      open,
      openEcho,
      records: {
        wrk: recordsAfter - recordsBefore,
        answeredInWrk: answered,
        open: recordsEnd - recordsAfter,
      },
    });
  } finally {
    nginx.child.kill("SIGTERM");
    await Promise.all([echo.stop(), cordon.stop()]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(cordon.dataDir, { recursive: true, force: true });
  }
}

await main();
