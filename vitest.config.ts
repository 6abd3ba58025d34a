import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
import swc from 'unplugin-swc';

/** Resolve workspace packages to their TypeScript sources, so unit tests need no build. */
const conditions = ['@tickdeck/source', ...defaultServerConditions];

export default defineConfig({
  test: {
    projects: [
      {
        // swc emits the decorator metadata Nest's dependency injection reads; esbuild does not.
        plugins: [swc.vite({ module: { type: 'es6' } })],
        resolve: { conditions },
        ssr: { resolve: { conditions } },
        test: {
          name: 'unit',
          environment: 'node',
          include: ['protocol/src/**/*.spec.ts', 'simulator/src/**/*.spec.ts', 'backend/src/**/*.spec.ts'],
        },
      },
      {
        resolve: { conditions },
        ssr: { resolve: { conditions } },
        test: {
          name: 'system',
          environment: 'node',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // System suites start real gateway processes; run the files one after another on 2 cores.
          fileParallelism: false,
        },
      },
      './frontend',
    ],
  },
});
