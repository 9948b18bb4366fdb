import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real processes and real kernels: give slow CI machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
