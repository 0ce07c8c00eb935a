import { relative } from "node:path";
import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Long files first, so that neither worker is left with one at the end while the other idles. Vitest
 * orders by the durations it recorded on the last run (longest first), and without them (a fresh clone,
 * as in CI) by file size, which started the browser page tests (30-140 s each, Chromium) and the system
 * tests (real processes) anywhere in the middle. So, without recorded durations, those two groups go
 * first, each in Vitest's own order; with them (a second run, such as the Node 24 phase after the Node 20
 * one), Vitest's order as it is.
 */
class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const recorded = files.every((f) =>
      this.ctx.cache.getFileTestResults(`${f.project.name}:${relative(this.ctx.config.root, f.moduleId)}`),
    );
    if (recorded) return sorted;
    const group = (f: TestSpecification) =>
      f.moduleId.includes("/test/pages/") ? 0 : f.moduleId.includes("/test/system/") ? 1 : 2;
    return sorted.sort((a, b) => group(a) - group(b));
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    // The workerd project (vitest.workers.config.ts) runs these inside the Workers runtime.
    exclude: [...configDefaults.exclude, "test/workers/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The machine has two cores; HTTP and durability tests spawn servers of their own.
    maxWorkers: 2,
    sequence: { sequencer: LongFilesFirst },
  },
});
