/**
 * The HTTP benchmark: server CPU per request of Cordon's POST /v1/check against two Hono baselines on the
 * same stack (@hono/node-server), all three loaded by wrk on 127.0.0.1 in one run:
 *   hello-get   GET / -> "Hello" (the issue's reference: check CPU/request at most 1.25x this);
 *   cordon      POST /v1/check with a rotating set of bodies (bench/wrk/check.lua), decision log on;
 *   hello-post  POST / echoing the same JSON bodies (body read, parse, stringify: a fairer baseline);
 *   hello-post-limit  the same echo behind hono's bodyLimit, as Cordon's /v1/* routes are (it prices
 *               the full web Request that @hono/node-server builds once `c.req.raw.body` is touched).
 * Rounds are interleaved (hello-get, cordon, hello-post, hello-post-limit, then again) and the per-round
 * ratios' median is reported. CPU is utime+stime of the serving node process from /proc/<pid>/stat (all its threads,
 * libuv's file-system pool included), read right before and after each load, divided by the requests
 * wrk completed. The decision records written during each Cordon run are counted against wrk's 2xx.
 *
 * Run: `npx tsx bench/http.ts [--seconds=10] [--rounds=2] [--connections=32] [--keep]`.
 * Writes bench/results/http.json.
 */
import { rmSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { machineNote, median, table, writeJson } from "./lib.js";
import {
  type BuildResult,
  buildCordon,
  type CordonServer,
  checkBodies,
  clkTck,
  countDecisions,
  cpuSeconds,
  hasWrk,
  type LoadOptions,
  type LoadResult,
  runAutocannon,
  runWrk,
  type Spawned,
  secret,
  seedOrders,
  sleep,
  startCordon,
  startHello,
} from "./servers.js";

const RESULTS = fileURLToPath(new URL("./results/http.json", import.meta.url));
const SCRIPT = "bench/wrk/check.lua";
export const TARGET = 1.25;

export interface HttpOptions {
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
  threads: number;
  keep: boolean;
}

type ServerName = "hello-get" | "cordon" | "hello-post" | "hello-post-limit";

export interface HttpRun {
  round: number;
  server: ServerName;
  load: LoadResult;
  cpuSeconds: { user: number; system: number; total: number };
  /** Server CPU time per completed request, in microseconds. */
  cpuUsPerRequest: number;
  /** Cordon only: decision records written during the run, and how many more than wrk's 2xx. */
  records?: { written: number; ok: number; inFlightAtCutoff: number };
}

export interface HttpReport {
  date: string;
  node: string;
  cpu: string;
  machine: string;
  clkTck: number;
  build: BuildResult;
  options: HttpOptions;
  load: { tool: string; command: string };
  seed: { orders: string[]; samples: Record<string, string> };
  runs: HttpRun[];
  medians: Record<ServerName, { rps: number; p50Ms: number; p99Ms: number; cpuUsPerRequest: number }>;
  ratios: {
    perRound: {
      round: number;
      cordonOverHelloGet: number;
      cordonOverHelloPost: number;
      helloPostOverHelloGet: number;
      helloPostLimitOverHelloPost: number;
      cordonOverHelloPostLimit: number;
    }[];
    cordonOverHelloGet: number;
    cordonOverHelloPost: number;
    helloPostOverHelloGet: number;
    /** What hono's bodyLimit (a full web Request per call) costs on the echo. */
    helloPostLimitOverHelloPost: number;
    cordonOverHelloPostLimit: number;
    target: number;
    meetsTarget: boolean;
  };
  decisionLog: {
    totalRecords: number;
    expectedAtLeast: number;
    expectedAtMost: number;
    consistent: boolean;
    codes: Record<string, number>;
  };
}

function parseArgs(argv: readonly string[]): HttpOptions {
  const num = (name: string, fallback: number) => {
    const arg = argv.find((a) => a.startsWith(`--${name}=`));
    return arg ? Number(arg.split("=")[1]) : fallback;
  };
  return {
    seconds: num("seconds", 10),
    warmupSeconds: num("warmup", 3),
    rounds: num("rounds", 2),
    connections: num("connections", 32),
    threads: num("threads", 1),
    keep: argv.includes("--keep"),
  };
}

export async function runHttp(options: HttpOptions): Promise<HttpReport> {
  console.log("http: building Cordon (npx tsc -p tsconfig.build.json)...");
  const build = await buildCordon();
  console.log(`http: ${build.mode === "dist" ? `dist/ ${build.note}` : build.note}`);
  const wrk = hasWrk();
  const bodies = wrk ? [] : checkBodies(4096);
  if (!wrk) console.log("http: wrk not found, using autocannon (in this process)");

  const servers: Spawned[] = [];
  let cordon: CordonServer | undefined;
  try {
    const helloGet = await startHello("get");
    servers.push(helloGet);
    cordon = await startCordon(build);
    servers.push(cordon);
    const helloPost = await startHello("post");
    servers.push(helloPost);
    const helloPostLimit = await startHello("post-limit");
    servers.push(helloPostLimit);
    console.log(
      `http: hello-get pid ${helloGet.pid} :${helloGet.port}, cordon pid ${cordon.pid} :${cordon.port} (data ${cordon.dataDir}), hello-post pid ${helloPost.pid} :${helloPost.port}, hello-post-limit pid ${helloPostLimit.pid} :${helloPostLimit.port}`,
    );

    const seed = await seedOrders(cordon);
    console.log(`http: orders approved: ${seed.orders.join(", ")}`);
    console.log(`http: sample checks: ${JSON.stringify(seed.samples)}`);

    const byName: Record<ServerName, Spawned> = {
      "hello-get": helloGet,
      cordon,
      "hello-post": helloPost,
      "hello-post-limit": helloPostLimit,
    };
    const loadOf = (
      name: ServerName,
      seconds: number,
    ): LoadOptions & { bodies?: string[]; token?: string; path?: string } => {
      const base = { seconds, connections: options.connections, threads: options.threads };
      if (name === "hello-get") return { ...base, url: `${helloGet.url}/` };
      const path = name === "cordon" ? "/v1/check" : "/";
      return {
        ...base,
        url: byName[name].url,
        script: SCRIPT,
        env: { CORDON_TOKEN: secret("checker"), WRK_PATH: path },
        bodies,
        token: secret("checker"),
        path,
      };
    };
    const load = (name: ServerName, seconds: number) =>
      wrk ? runWrk(loadOf(name, seconds)) : runAutocannon(loadOf(name, seconds));

    const order: ServerName[] = ["hello-get", "cordon", "hello-post", "hello-post-limit"];
    // Cordon answers, each one a decision record: probes, warm-up and measured runs.
    let cordonOk = seed.checks;
    let cordonSlack = 0;

    console.log(`http: warm-up, ${options.warmupSeconds}s each...`);
    for (const name of order) {
      const warm = await load(name, options.warmupSeconds);
      if (name === "cordon") {
        cordonOk += warm.requests - warm.non2xx;
        cordonSlack += options.connections;
      }
      if (warm.non2xx > 0) throw new Error(`${name}: ${warm.non2xx} non-2xx responses in the warm-up`);
    }

    const runs: HttpRun[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const name of order) {
        const server = byName[name];
        await sleep(500);
        const recordsBefore = name === "cordon" && cordon ? countDecisions(cordon.dataDir).records : 0;
        const before = cpuSeconds(server.pid);
        const result = await load(name, options.seconds);
        // Requests in flight at wrk's cutoff still finish on the server: let them, then read the clock.
        await sleep(250);
        const after = cpuSeconds(server.pid);
        const cpu = {
          user: after.user - before.user,
          system: after.system - before.system,
          total: after.total - before.total,
        };
        const run: HttpRun = {
          round,
          server: name,
          load: result,
          cpuSeconds: cpu,
          cpuUsPerRequest: (cpu.total / result.requests) * 1e6,
        };
        if (name === "cordon" && cordon) {
          const written = countDecisions(cordon.dataDir).records - recordsBefore;
          const ok = result.requests - result.non2xx;
          run.records = { written, ok, inFlightAtCutoff: written - ok };
          cordonOk += ok;
          cordonSlack += options.connections;
        }
        runs.push(run);
        console.log(
          `http: round ${round} ${name.padEnd(16)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.latencyMs.p50.toFixed(2)} ms  p99 ${result.latencyMs.p99.toFixed(2)} ms  CPU ${run.cpuUsPerRequest.toFixed(1)} µs/req${result.non2xx ? `  non-2xx ${result.non2xx}` : ""}${run.records ? `  records ${run.records.written} (2xx ${run.records.ok})` : ""}`,
        );
      }
    }

    const perRound = Array.from({ length: options.rounds }, (_, k) => {
      const cpuOf = (name: ServerName) =>
        (runs.find((r) => r.round === k + 1 && r.server === name) as HttpRun).cpuUsPerRequest;
      return {
        round: k + 1,
        cordonOverHelloGet: cpuOf("cordon") / cpuOf("hello-get"),
        cordonOverHelloPost: cpuOf("cordon") / cpuOf("hello-post"),
        helloPostOverHelloGet: cpuOf("hello-post") / cpuOf("hello-get"),
        helloPostLimitOverHelloPost: cpuOf("hello-post-limit") / cpuOf("hello-post"),
        cordonOverHelloPostLimit: cpuOf("cordon") / cpuOf("hello-post-limit"),
      };
    });
    const medianOf = (name: ServerName) => {
      const mine = runs.filter((r) => r.server === name);
      return {
        rps: median(mine.map((r) => r.load.rps)),
        p50Ms: median(mine.map((r) => r.load.latencyMs.p50)),
        p99Ms: median(mine.map((r) => r.load.latencyMs.p99)),
        cpuUsPerRequest: median(mine.map((r) => r.cpuUsPerRequest)),
      };
    };
    const cordonOverHelloGet = median(perRound.map((r) => r.cordonOverHelloGet));

    await sleep(300);
    const { records: totalRecords, codes } = countDecisions(cordon.dataDir, true);
    const decisionLog = {
      totalRecords,
      expectedAtLeast: cordonOk,
      expectedAtMost: cordonOk + cordonSlack,
      consistent: totalRecords >= cordonOk && totalRecords <= cordonOk + cordonSlack,
      codes,
    };

    const report: HttpReport = {
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
      machine: machineNote(),
      clkTck: clkTck(),
      build,
      options,
      load: {
        tool: wrk ? "wrk" : "autocannon",
        command: wrk
          ? `wrk -t${options.threads} -c${options.connections} -d${options.seconds}s --latency [-s ${SCRIPT}]`
          : `autocannon -c ${options.connections} -d ${options.seconds}`,
      },
      seed: { orders: seed.orders, samples: seed.samples },
      runs,
      medians: {
        "hello-get": medianOf("hello-get"),
        cordon: medianOf("cordon"),
        "hello-post": medianOf("hello-post"),
        "hello-post-limit": medianOf("hello-post-limit"),
      },
      ratios: {
        perRound,
        cordonOverHelloGet,
        cordonOverHelloPost: median(perRound.map((r) => r.cordonOverHelloPost)),
        helloPostOverHelloGet: median(perRound.map((r) => r.helloPostOverHelloGet)),
        helloPostLimitOverHelloPost: median(perRound.map((r) => r.helloPostLimitOverHelloPost)),
        cordonOverHelloPostLimit: median(perRound.map((r) => r.cordonOverHelloPostLimit)),
        target: TARGET,
        meetsTarget: cordonOverHelloGet <= TARGET,
      },
      decisionLog,
    };
    printReport(report);
    writeJson(RESULTS, report);
    console.log(`http: wrote ${RESULTS}`);
    return report;
  } finally {
    for (const server of servers.reverse()) await server.stop().catch(() => undefined);
    if (cordon && !options.keep) rmSync(cordon.dataDir, { recursive: true, force: true });
    else if (cordon) console.log(`http: kept ${cordon.dataDir}`);
  }
}

function printReport(r: HttpReport): void {
  const rows = [
    ["server", "req/s", "p50", "p99", "CPU/req", "user/sys s"],
    ...r.runs.map((run) => [
      `${run.server} #${run.round}`,
      run.load.rps.toFixed(0),
      `${run.load.latencyMs.p50.toFixed(2)} ms`,
      `${run.load.latencyMs.p99.toFixed(2)} ms`,
      `${run.cpuUsPerRequest.toFixed(1)} µs`,
      `${run.cpuSeconds.user.toFixed(2)}/${run.cpuSeconds.system.toFixed(2)}`,
    ]),
  ];
  console.log(`\n${table(rows)}\n`);
  const ratioRows = [
    ["ratio (median of rounds)", "value", "per round"],
    [
      "cordon check CPU/req ÷ hello GET",
      `${r.ratios.cordonOverHelloGet.toFixed(2)}x`,
      r.ratios.perRound.map((p) => p.cordonOverHelloGet.toFixed(2)).join(", "),
    ],
    [
      "cordon check CPU/req ÷ hello POST echo",
      `${r.ratios.cordonOverHelloPost.toFixed(2)}x`,
      r.ratios.perRound.map((p) => p.cordonOverHelloPost.toFixed(2)).join(", "),
    ],
    [
      "hello POST echo ÷ hello GET",
      `${r.ratios.helloPostOverHelloGet.toFixed(2)}x`,
      r.ratios.perRound.map((p) => p.helloPostOverHelloGet.toFixed(2)).join(", "),
    ],
    [
      "hello POST echo + bodyLimit ÷ hello POST echo",
      `${r.ratios.helloPostLimitOverHelloPost.toFixed(2)}x`,
      r.ratios.perRound.map((p) => p.helloPostLimitOverHelloPost.toFixed(2)).join(", "),
    ],
    [
      "cordon check CPU/req ÷ hello POST echo + bodyLimit",
      `${r.ratios.cordonOverHelloPostLimit.toFixed(2)}x`,
      r.ratios.perRound.map((p) => p.cordonOverHelloPostLimit.toFixed(2)).join(", "),
    ],
  ];
  console.log(table(ratioRows));
  console.log(
    `\ntarget: cordon ÷ hello GET <= ${r.ratios.target}x: ${r.ratios.meetsTarget ? "MET" : "NOT MET"} (${r.ratios.cordonOverHelloGet.toFixed(2)}x)`,
  );
  const d = r.decisionLog;
  console.log(
    `decision log: ${d.totalRecords} records; wrk 2xx + probes = ${d.expectedAtLeast} (plus at most ${d.expectedAtMost - d.expectedAtLeast} in flight at cutoffs): ${d.consistent ? "consistent" : "INCONSISTENT"}`,
  );
  for (const run of r.runs.filter((x) => x.records)) {
    const rec = run.records as NonNullable<HttpRun["records"]>;
    console.log(
      `  round ${run.round}: ${rec.written} records written, wrk 2xx ${rec.ok}, in flight at cutoff ${rec.inFlightAtCutoff}`,
    );
  }
  console.log(`  codes: ${JSON.stringify(d.codes)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runHttp(parseArgs(process.argv.slice(2)));
}
