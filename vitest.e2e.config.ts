import { defineConfig } from "vitest/config";

// The end-to-end suite: the built kvlog CLI, as a separate process, against a real cluster
// (the local one from `npm run cluster:up` by default; see README "Real-cluster tests").
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
