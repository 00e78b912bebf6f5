import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Multi-process and timing tests share two cores; keep files from starving each other.
    fileParallelism: false,
    reporters: ['default'],
  },
});
