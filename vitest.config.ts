import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "node_modules/**"],
    testTimeout: 60_000, // integration tests spawn the CLI several times; a busy 2-core machine is slow
    hookTimeout: 30_000,
  },
});
