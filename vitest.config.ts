import { configDefaults, defineConfig } from "vitest/config";

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
  },
});
