/**
 * `npm run bench`: the micro benchmarks, the decision log's cost, the report's aggregation at volume
 * (11M records written to a temporary directory: about 4 GiB), then the HTTP benchmark, then (when the
 * check misses the 1.25x target, unless --no-profile) a CPU profile of Cordon under the same load.
 * Results in bench/results/.
 *
 * Without wrk, the HTTP loads and the profile fall back to autocannon (a devDependency), run in this
 * process: the numbers are lower than wrk's, but `npm run bench -- --quick` works on any machine.
 *
 * Options: --quick (short micro rounds, 3 s HTTP loads, one round: a smoke test, not a measurement),
 * --no-profile, --keep (keep Cordon's data directory), --no-redis (skip the HTTP benchmark's cordon-redis).
 */
import { runHttp } from "./http.js";
import { runMicro } from "./micro.js";
import { runProfile } from "./profile.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");

runMicro(quick ? { warmupMs: 100, rounds: 3, roundMs: 60 } : { warmupMs: 300, rounds: 9, roundMs: 120 });
// The decision log's cost, in process (reads --quick itself).
await import("./logging.js");
// The report's aggregation at 1M and 10M records (--quick: 20k and 200k), a child process per size.
await import("./report-aggregation.js");
const http = await runHttp({
  seconds: quick ? 3 : 10,
  warmupSeconds: quick ? 1 : 3,
  rounds: quick ? 1 : 2,
  connections: 32,
  threads: 1,
  keep: argv.includes("--keep"),
  redis: !argv.includes("--no-redis"),
  pin: argv.includes("--pin"),
  rate: 0,
});
if (!http.ratios.meetsTarget && !argv.includes("--no-profile")) {
  console.log(
    `\nrun: the check is at ${http.ratios.cordonOverHelloGet.toFixed(2)}x hello GET (target ${http.ratios.target}x): profiling it`,
  );
  await runProfile({ seconds: quick ? 3 : 10, top: 60, build: http.build });
}
