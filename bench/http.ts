/**
 * The HTTP benchmark: server CPU per request of Cordon's POST /v1/check against two Hono baselines on the
 * same stack (@hono/node-server), all three loaded by wrk on 127.0.0.1 in one run:
 *   hello-get   GET / -> "Hello" (the issue's reference: check CPU/request at most 1.25x this);
 *   cordon      POST /v1/check with a rotating set of bodies (bench/wrk/check.lua), decision log on;
 *   hello-post  POST / echoing the same JSON bodies (body read, parse, stringify: a fairer baseline);
 *   hello-post-limit  the same echo behind hono's bodyLimit, as Cordon's /v1/* routes are (it prices
 *               the full web Request that @hono/node-server builds once `c.req.raw.body` is touched).
 *   cordon-redis  the same Cordon with REDIS_URL set (orders in Redis, decision records through the local
 *               outbox shipped to a Redis stream in the background), on a redis-server started for the
 *               run (bench/redis-mode.ts); skipped with --no-redis or without redis-server.
 * Rounds are interleaved (hello-get, cordon, cordon-redis, hello-post, hello-post-limit, then again) and
 * the per-round ratios' median is reported. CPU is utime+stime of the serving node process from /proc/<pid>/stat (all its threads,
 * libuv's file-system pool included), read right before and after each load, divided by the requests
 * wrk completed. The decision records written during each Cordon run are counted against wrk's 2xx.
 * For cordon-redis the CPU is read once the stream holds every record of the run (the shipper's XADDs
 * belong to the run's cost), and Redis's INFO commandstats around each run give the Redis commands per
 * check by type: the proof that a check makes no Redis round trip.
 *
 * Run: `npx tsx bench/http.ts [--seconds=10] [--rounds=2] [--connections=32] [--keep] [--no-redis] [--pin] [--rate=N]`.
 * Writes bench/results/http.json.
 */
import { rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { machineNote, median, table, writeJson } from "./lib.js";
import {
  type BenchRedis,
  type CommandStats,
  DecisionLineCounter,
  diffCommandStats,
  hasRedisServer,
  outboxDecisionIds,
  STREAMS,
  startBenchRedis,
  waitShipped,
} from "./redis-mode.js";
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
  pinToCpu,
  runAutocannon,
  runOpenLoad,
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
  /**
   * `--pin`: every server on CPU 0, wrk and redis-server on CPU 1, so that each server has a core of its
   * own, as in production, where Redis runs on another host. Unpinned, the Redis-mode rounds run three
   * busy processes on two cores (wrk, Cordon, redis-server) against two in the embedded ones.
   */
  pin: boolean;
  /**
   * `--rate=N`: the two Cordon servers get an open-model load of N checks a second (`open-load.ts`)
   * instead of wrk's closed loop, so that both answer the same arrivals: in a closed loop a server whose
   * load generator is starved for a moment (with `--pin`, by redis-server on the generator's core) sees
   * fewer requests per turn of its event loop, and pays more per request for it. 0 (default): wrk.
   */
  rate: number;
  /** Also run Cordon in Redis mode (`cordon-redis`); --no-redis turns it off. */
  redis: boolean;
}

type ServerName = "hello-get" | "cordon" | "cordon-redis" | "hello-post" | "hello-post-limit";

/** What one cordon-redis run cost Redis, and how the shipper kept up. */
export interface RedisRunStats {
  /** Cordon's commands during the run (the bench's own INFO/XLEN taken out), by command. */
  commands: CommandStats;
  /** commands[name].calls ÷ the run's answered checks. */
  perCheck: Record<string, number>;
  /** The bench's own calls in the same window, removed from `commands`. */
  benchCalls: Record<string, number>;
  /** Records in the outbox not yet in the stream 250 ms after wrk ended (where embedded CPU is read). */
  backlogAtCutoff: number;
  /** From then until the stream held every record of the run. */
  drainMs: number;
  drained: boolean;
  /** Cordon's CPU/request read at the embedded server's point (250 ms after wrk), without the drain. */
  cpuUsPerRequestAtCutoff: number;
  /** redis-server's own CPU (main process; AOF fsyncs included), per answered check. */
  redisCpuSeconds: number;
  redisCpuUsPerRequest: number;
  aofRewrites: number;
  forks: number;
}

type Median = { rps: number; p50Ms: number; p99Ms: number; cpuUsPerRequest: number };

export interface HttpRun {
  round: number;
  server: ServerName;
  load: LoadResult;
  /** `main`: the main thread's share (the event loop); the rest is GC, compiler and libuv pool threads. */
  cpuSeconds: { user: number; system: number; total: number; main: number };
  /** Server CPU time per completed request, in microseconds. */
  cpuUsPerRequest: number;
  /** Cordon only: decision records written during the run, and how many more than wrk's 2xx. */
  records?: { written: number; ok: number; inFlightAtCutoff: number };
  /** cordon-redis only. */
  redis?: RedisRunStats;
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
  medians: Partial<Record<ServerName, Median>>;
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
  /** Present when cordon-redis ran. */
  redisMode?: RedisModeReport;
}

export interface RedisModeReport {
  redis: { version: string; config: Record<string, string>; streams: number };
  ratios: {
    perRound: { round: number; rps: number; cpuUsPerRequest: number; p50Ms: number }[];
    /** cordon-redis ÷ cordon (embedded), medians of the per-round ratios. */
    rps: number;
    cpuUsPerRequest: number;
    p50Ms: number;
  };
  /** Over the measured runs: Cordon's Redis commands by type, total and per answered check. */
  commands: { total: Record<string, number>; perCheck: Record<string, number>; checks: number };
  decisionLog: {
    totalRecords: number;
    expectedAtLeast: number;
    expectedAtMost: number;
    consistent: boolean;
    codes: Record<string, number>;
  };
  /**
   * After the last run and a drain wait: entries in the stream against records in the outbox, and their
   * decisionIds: distinct in the stream, and the outbox's in the same order (exactly once, in order).
   */
  stream: {
    entries: number;
    outboxRecords: number;
    drainMs: number;
    equal: boolean;
    distinctIds: number;
    sameIdsInOrder: boolean;
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
    redis: !argv.includes("--no-redis"),
    pin: argv.includes("--pin"),
    rate: num("rate", 0),
  };
}

export async function runHttp(options: HttpOptions): Promise<HttpReport> {
  console.log("http: building Cordon (npx tsc -p tsconfig.build.json)...");
  const build = await buildCordon();
  console.log(`http: ${build.mode === "dist" ? `dist/ ${build.note}` : build.note}`);
  const wrk = hasWrk();
  const bodies = wrk ? [] : checkBodies(4096);
  if (!wrk) console.log("http: wrk not found, using autocannon (in this process)");

  const withRedis = options.redis && hasRedisServer();
  if (options.redis && !withRedis) console.log("http: redis-server not found, skipping cordon-redis");

  const servers: Spawned[] = [];
  let cordon: CordonServer | undefined;
  let cordonRedis: CordonServer | undefined;
  let redis: BenchRedis | undefined;
  try {
    const helloGet = await startHello("get");
    servers.push(helloGet);
    cordon = await startCordon(build);
    servers.push(cordon);
    if (withRedis) {
      redis = await startBenchRedis();
      cordonRedis = await startCordon(build, [], {
        name: "cordon-redis",
        env: { REDIS_URL: redis.server.url },
      });
      servers.push(cordonRedis);
      console.log(
        `http: redis-server ${redis.version} pid ${redis.pid} :${redis.server.port} (${JSON.stringify(redis.config)}), cordon-redis pid ${cordonRedis.pid} :${cordonRedis.port} (data ${cordonRedis.dataDir})`,
      );
    }
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
    const redisSeed = cordonRedis ? await seedOrders(cordonRedis) : undefined;
    if (redisSeed) {
      console.log(`http: cordon-redis orders approved: ${redisSeed.orders.join(", ")}`);
      console.log(`http: cordon-redis sample checks: ${JSON.stringify(redisSeed.samples)}`);
      if (JSON.stringify(redisSeed.samples) !== JSON.stringify(seed.samples))
        throw new Error("cordon-redis decides the probes differently from cordon");
    }
    // The Redis-mode decision records: the local outbox (`<dataDir>/outbox/decisions/*.jsonl`).
    const outbox = cordonRedis ? new DecisionLineCounter(join(cordonRedis.dataDir, "outbox")) : undefined;

    const byName: Partial<Record<ServerName, Spawned>> = {
      "hello-get": helloGet,
      cordon,
      "cordon-redis": cordonRedis,
      "hello-post": helloPost,
      "hello-post-limit": helloPostLimit,
    };
    if (options.pin) {
      for (const s of Object.values(byName)) if (s) pinToCpu(s.pid, "0");
      if (redis) pinToCpu(redis.pid, "1");
      console.log("http: pinned: the servers on CPU 0, wrk and redis-server on CPU 1");
    }
    const serverOf = (name: ServerName) => byName[name] as Spawned;
    const loadOf = (
      name: ServerName,
      seconds: number,
    ): LoadOptions & { bodies?: string[]; token?: string; path?: string } => {
      const base = {
        seconds,
        connections: options.connections,
        threads: options.threads,
        ...(options.pin ? { cpu: "1" } : {}),
      };
      if (name === "hello-get") return { ...base, url: `${helloGet.url}/` };
      const path = name === "cordon" || name === "cordon-redis" ? "/v1/check" : "/";
      return {
        ...base,
        url: serverOf(name).url,
        script: SCRIPT,
        env: { CORDON_TOKEN: secret("checker"), WRK_PATH: path },
        bodies,
        token: secret("checker"),
        path,
      };
    };
    const linesFile = join(tmpdir(), `cordon-bench-checks-${process.pid}.jsonl`);
    if (options.rate > 0) writeFileSync(linesFile, `${checkBodies(4096).join("\n")}\n`);
    const load = (name: ServerName, seconds: number) =>
      options.rate > 0 && (name === "cordon" || name === "cordon-redis")
        ? runOpenLoad({
            url: `${serverOf(name).url}/v1/check`,
            token: secret("checker"),
            linesFile,
            rate: options.rate,
            seconds,
            ...(options.pin ? { cpu: "1" } : {}),
          })
        : wrk
          ? runWrk(loadOf(name, seconds))
          : runAutocannon(loadOf(name, seconds));

    const order: ServerName[] = [
      "hello-get",
      "cordon",
      ...(cordonRedis ? (["cordon-redis"] as const) : []),
      "hello-post",
      "hello-post-limit",
    ];
    // Cordon answers, each one a decision record: probes, warm-up and measured runs.
    let cordonOk = seed.checks;
    let cordonSlack = 0;
    let redisOk = redisSeed?.checks ?? 0;
    let redisSlack = 0;

    console.log(`http: warm-up, ${options.warmupSeconds}s each...`);
    for (const name of order) {
      const warm = await load(name, options.warmupSeconds);
      if (name === "cordon") {
        cordonOk += warm.requests - warm.non2xx;
        cordonSlack += options.connections;
      }
      if (name === "cordon-redis") {
        redisOk += warm.requests - warm.non2xx;
        redisSlack += options.connections;
      }
      if (warm.non2xx > 0) throw new Error(`${name}: ${warm.non2xx} non-2xx responses in the warm-up`);
    }

    const runs: HttpRun[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const name of order) {
        const server = serverOf(name);
        await sleep(500);
        if (name === "cordon-redis" && redis && outbox) {
          runs.push(await measureRedisRun(round, server, redis, outbox, () => load(name, options.seconds)));
          const run = runs[runs.length - 1] as HttpRun;
          redisOk += (run.records as NonNullable<HttpRun["records"]>).ok;
          redisSlack += options.connections;
          logRun(run);
          continue;
        }
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
          main: after.main - before.main,
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
        logRun(run);
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
    const medianOf = (name: ServerName): Median => {
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
    const redisMode =
      cordonRedis && redis && outbox
        ? await redisModeReport(runs, options.rounds, redis, outbox, cordonRedis.dataDir, redisOk, redisSlack)
        : undefined;

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
      medians: Object.fromEntries(order.map((name) => [name, medianOf(name)])),
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
      ...(redisMode ? { redisMode } : {}),
    };
    printReport(report);
    writeJson(RESULTS, report);
    console.log(`http: wrote ${RESULTS}`);
    return report;
  } finally {
    for (const server of servers.reverse()) await server.stop().catch(() => undefined);
    await redis?.close().catch(() => undefined);
    for (const c of [cordon, cordonRedis]) {
      if (c && !options.keep) rmSync(c.dataDir, { recursive: true, force: true });
      else if (c) console.log(`http: kept ${c.dataDir}`);
    }
  }
}

function logRun(run: HttpRun): void {
  const { load: result } = run;
  const r = run.redis;
  console.log(
    `http: round ${run.round} ${run.server.padEnd(16)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.latencyMs.p50.toFixed(2)} ms  p99 ${result.latencyMs.p99.toFixed(2)} ms  CPU ${run.cpuUsPerRequest.toFixed(1)} µs/req (main thread ${((run.cpuSeconds.main / run.load.requests) * 1e6).toFixed(1)})${result.non2xx ? `  non-2xx ${result.non2xx}` : ""}${run.records ? `  records ${run.records.written} (2xx ${run.records.ok})` : ""}${r ? `  redis ${JSON.stringify(r.commands)}  backlog at cutoff ${r.backlogAtCutoff}, drained in ${r.drainMs.toFixed(0)} ms` : ""}`,
  );
}

/**
 * One measured cordon-redis run. The stream is first caught up with the outbox, so the XADDs counted are
 * this run's. CPU is read 250 ms after wrk (as for the other servers, kept as `cpuUsPerRequestAtCutoff`)
 * and again once the stream holds every record of the run: that second reading, which includes the
 * shipper's XADDs for the last records, is the run's CPU/request.
 */
async function measureRedisRun(
  round: number,
  server: Spawned,
  redis: BenchRedis,
  outbox: DecisionLineCounter,
  load: () => Promise<LoadResult>,
): Promise<HttpRun> {
  const settled = await waitShipped(redis, outbox);
  if (!settled.drained)
    throw new Error(`cordon-redis: the stream did not catch up before the run: ${JSON.stringify(settled)}`);
  const recordsBefore = settled.records;
  const ownBefore = { ...redis.own };
  const statsBefore = await redis.commandStats();
  const persistenceBefore = { ...(await redis.info("persistence")), ...(await redis.info("stats")) };
  const redisBefore = redis.cpu();
  const before = cpuSeconds(server.pid);
  const result = await load();
  await sleep(250);
  const atCutoff = cpuSeconds(server.pid);
  const written = outbox.count() - recordsBefore;
  const backlogAtCutoff = recordsBefore + written - (await redis.xlen());
  const drain = await waitShipped(redis, outbox);
  const after = cpuSeconds(server.pid);
  const redisAfter = redis.cpu();
  const ownAfter = { ...redis.own };
  const statsAfter = await redis.commandStats();
  const persistenceAfter = { ...(await redis.info("persistence")), ...(await redis.info("stats")) };
  if (!drain.drained) throw new Error(`cordon-redis: the stream did not catch up: ${JSON.stringify(drain)}`);

  const ok = result.requests - result.non2xx;
  const benchCalls: Record<string, number> = {};
  for (const [name, calls] of Object.entries(ownAfter)) {
    const n = calls - (ownBefore[name] ?? 0);
    if (n > 0) benchCalls[name] = n;
  }
  const commands: CommandStats = {};
  for (const [name, stat] of Object.entries(diffCommandStats(statsBefore, statsAfter))) {
    const calls = stat.calls - (benchCalls[name] ?? 0);
    if (calls > 0) commands[name] = { calls, usec: stat.usec };
  }
  const perCheck = Object.fromEntries(Object.entries(commands).map(([name, c]) => [name, c.calls / ok]));
  const cpu = {
    user: after.user - before.user,
    system: after.system - before.system,
    total: after.total - before.total,
    main: after.main - before.main,
  };
  const redisCpuSeconds = redisAfter.total - redisBefore.total;
  const num = (info: Record<string, string>, key: string) => Number(info[key] ?? 0);
  return {
    round,
    server: "cordon-redis",
    load: result,
    cpuSeconds: cpu,
    cpuUsPerRequest: (cpu.total / result.requests) * 1e6,
    records: { written, ok, inFlightAtCutoff: written - ok },
    redis: {
      commands,
      perCheck,
      benchCalls,
      backlogAtCutoff,
      drainMs: drain.ms,
      drained: drain.drained,
      cpuUsPerRequestAtCutoff: ((atCutoff.total - before.total) / result.requests) * 1e6,
      redisCpuSeconds,
      redisCpuUsPerRequest: (redisCpuSeconds / result.requests) * 1e6,
      aofRewrites: num(persistenceAfter, "aof_rewrites") - num(persistenceBefore, "aof_rewrites"),
      forks: num(persistenceAfter, "total_forks") - num(persistenceBefore, "total_forks"),
    },
  };
}

async function redisModeReport(
  runs: HttpRun[],
  rounds: number,
  redis: BenchRedis,
  outbox: DecisionLineCounter,
  dataDir: string,
  ok: number,
  slack: number,
): Promise<RedisModeReport> {
  const perRound = Array.from({ length: rounds }, (_, k) => {
    const of = (name: ServerName) => runs.find((r) => r.round === k + 1 && r.server === name) as HttpRun;
    const embedded = of("cordon");
    const withRedis = of("cordon-redis");
    return {
      round: k + 1,
      rps: withRedis.load.rps / embedded.load.rps,
      cpuUsPerRequest: withRedis.cpuUsPerRequest / embedded.cpuUsPerRequest,
      p50Ms: withRedis.load.latencyMs.p50 / embedded.load.latencyMs.p50,
    };
  });
  const total: Record<string, number> = {};
  let checks = 0;
  for (const run of runs.filter((r) => r.redis)) {
    checks += (run.records as NonNullable<HttpRun["records"]>).ok;
    for (const [name, c] of Object.entries((run.redis as RedisRunStats).commands))
      total[name] = (total[name] ?? 0) + c.calls;
  }
  await sleep(300);
  const drain = await waitShipped(redis, outbox);
  const entries = await redis.xlen();
  const { records: totalRecords, codes } = countDecisions(join(dataDir, "outbox"), true);
  const streamIds = await redis.streamDecisionIds();
  const outboxIds = outboxDecisionIds(join(dataDir, "outbox"));
  // Order holds per partition, not across them: compare as sets, each id once.
  const sortedStream = [...streamIds].sort();
  const sortedOutbox = [...outboxIds].sort();
  const sameIdsInOrder =
    sortedStream.length === sortedOutbox.length && sortedStream.every((id, k) => id === sortedOutbox[k]);
  return {
    redis: { version: redis.version, config: redis.config, streams: STREAMS.length },
    ratios: {
      perRound,
      rps: median(perRound.map((r) => r.rps)),
      cpuUsPerRequest: median(perRound.map((r) => r.cpuUsPerRequest)),
      p50Ms: median(perRound.map((r) => r.p50Ms)),
    },
    commands: {
      total,
      perCheck: Object.fromEntries(Object.entries(total).map(([name, calls]) => [name, calls / checks])),
      checks,
    },
    decisionLog: {
      totalRecords,
      expectedAtLeast: ok,
      expectedAtMost: ok + slack,
      consistent: totalRecords >= ok && totalRecords <= ok + slack,
      codes,
    },
    stream: {
      entries,
      outboxRecords: totalRecords,
      drainMs: drain.ms,
      equal: entries === totalRecords,
      distinctIds: new Set(streamIds).size,
      sameIdsInOrder,
    },
  };
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
  for (const run of r.runs.filter((x) => x.server === "cordon")) {
    const rec = run.records as NonNullable<HttpRun["records"]>;
    console.log(
      `  round ${run.round}: ${rec.written} records written, wrk 2xx ${rec.ok}, in flight at cutoff ${rec.inFlightAtCutoff}`,
    );
  }
  console.log(`  codes: ${JSON.stringify(d.codes)}`);
  const m = r.redisMode;
  if (!m) return;
  console.log(
    `\ncordon-redis ÷ cordon (median of rounds): req/s ${m.ratios.rps.toFixed(3)}x, CPU/req ${m.ratios.cpuUsPerRequest.toFixed(3)}x, p50 ${m.ratios.p50Ms.toFixed(3)}x; per round ${m.ratios.perRound.map((p) => `${p.rps.toFixed(3)}/${p.cpuUsPerRequest.toFixed(3)}/${p.p50Ms.toFixed(3)}`).join(", ")}`,
  );
  const redisRows = [
    [
      "cordon-redis run",
      "redis cmds (calls, per check)",
      "redis CPU/req",
      "CPU/req at cutoff",
      "backlog",
      "drain",
    ],
    ...r.runs
      .filter((x) => x.redis)
      .map((x) => {
        const s = x.redis as RedisRunStats;
        return [
          `#${x.round}`,
          Object.entries(s.commands)
            .map(([name, c]) => `${name} ${c.calls} (${(s.perCheck[name] ?? 0).toFixed(5)})`)
            .join(", "),
          `${s.redisCpuUsPerRequest.toFixed(1)} µs`,
          `${s.cpuUsPerRequestAtCutoff.toFixed(1)} µs`,
          String(s.backlogAtCutoff),
          `${s.drainMs.toFixed(0)} ms`,
        ];
      }),
  ];
  console.log(table(redisRows));
  console.log(
    `commands per check over the measured runs (${m.commands.checks} checks): ${Object.entries(
      m.commands.perCheck,
    )
      .map(([name, v]) => `${name} ${v.toFixed(5)}`)
      .join(", ")}`,
  );
  const rd = m.decisionLog;
  console.log(
    `cordon-redis outbox: ${rd.totalRecords} records; wrk 2xx + probes = ${rd.expectedAtLeast} (plus at most ${rd.expectedAtMost - rd.expectedAtLeast}): ${rd.consistent ? "consistent" : "INCONSISTENT"}; codes ${JSON.stringify(rd.codes)}`,
  );
  console.log(
    `${m.redis.streams} streams: ${m.stream.entries} entries, outbox ${m.stream.outboxRecords} records: ${m.stream.equal ? "EQUAL" : "DIFFERENT"} (drain wait ${m.stream.drainMs.toFixed(0)} ms); ${m.stream.distinctIds} distinct decisionIds, ${m.stream.sameIdsInOrder ? "the outbox's, each once" : "NOT the outbox's, each once"}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runHttp(parseArgs(process.argv.slice(2)));
}
