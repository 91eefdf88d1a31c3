import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds what the CLI tests run, as `pnpm start` would; keeps the run's temporary folders in one, removed at the end.
    globalSetup: ["test/support/build.ts", "test/support/tmp.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests spawn the CLI and train small models; two workers match CI's two cores.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: "forks"
  }
})
