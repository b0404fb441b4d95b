import { defineConfig } from 'vitest/config';

// The VM suite (test/vm, see docs/VM-HARNESS.md): real QEMU guests, so slow and one at a time.
export default defineConfig({
  test: {
    include: ['test/vm/**/*.test.ts'],
    // The harness serialises VMs machine-wide anyway; running files one by one keeps timeouts honest.
    fileParallelism: false,
    testTimeout: 240_000,
    // beforeAll may install the Debian packages on a fresh machine.
    hookTimeout: 900_000,
    pool: 'forks',
    reporters: ['verbose'],
  },
});
