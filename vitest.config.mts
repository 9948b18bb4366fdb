import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real processes and real kernels: give slow CI machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report lets .ci/run print a one-line summary that any CI can read.
    reporters: ['default', 'json'],
    outputFile: { json: 'node_modules/.cache/pidfd/vitest.json' },
  },
})
