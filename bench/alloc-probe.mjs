/**
 * Loaded into a benchmarked server with `--import` (`alloc-per-check.ts`): on SIGUSR2 it runs the command
 * written to the file `ALLOC_PROBE_CMD` names, and prints one line on stdout, where V8's `--trace-gc-nvp`
 * writes too, in order with it:
 * - `mark LABEL`: `alloc-probe mark LABEL used=N`, the heap's object bytes now. With the `total_size_*`
 *   of the collections logged between two marks, that is every byte allocated between them.
 * - `sample-start`: starts V8's sampling heap profiler, keeping what scavenges and mark-compacts free
 *   (by default it reports only what is still alive), so it attributes allocations, not retention.
 * - `sample-stop PATH`: stops it and writes the profile (a `.heapprofile`, as Chrome's DevTools reads).
 * Plain JavaScript: the server runs from `dist/` without tsx.
 */
import { readFileSync, writeFileSync, writeSync } from "node:fs";
import { Session } from "node:inspector";
import { getHeapStatistics } from "node:v8";

const commandFile = process.env.ALLOC_PROBE_CMD;
if (commandFile) {
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((done, fail) =>
      session.post(method, params, (err, result) => (err ? fail(err) : done(result))),
    );
  const say = (line) => writeSync(1, `alloc-probe ${line} used=${getHeapStatistics().used_heap_size}\n`);
  process.on("SIGUSR2", () => {
    const [command, arg = ""] = readFileSync(commandFile, "utf8").trim().split(" ");
    if (command === "mark") say(`mark ${arg}`);
    else if (command === "sample-start")
      void post("HeapProfiler.enable")
        .then(() =>
          post("HeapProfiler.startSampling", {
            samplingInterval: 4096,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true,
          }),
        )
        .then(() => say("sampling"));
    else if (command === "sample-stop")
      void post("HeapProfiler.stopSampling").then(({ profile }) => {
        writeFileSync(arg, JSON.stringify(profile));
        say("sampled");
      });
  });
}
