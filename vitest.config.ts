import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Long files first, so that neither worker is left with one at the end while the other idles. Vitest
 * orders by the durations it recorded on the last run, and without them (a fresh clone, as in CI) by file
 * size, which started the browser page tests (30-140 s each, Chromium) and the system tests (real
 * processes) anywhere in the middle. Those two groups go first, each in Vitest's own order.
 */
class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const group = (f: TestSpecification) =>
      f.moduleId.includes("/test/pages/") ? 0 : f.moduleId.includes("/test/system/") ? 1 : 2;
    return (await super.sort(files)).sort((a, b) => group(a) - group(b));
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
