import { defineProject } from 'vitest/config';
import { defaultClientConditions } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineProject({
  plugins: [svelte()],
  // Workspace packages resolve to their TypeScript sources, so the specs need no build.
  resolve: { conditions: ['@tickdeck/source', ...defaultClientConditions] },
  test: {
    name: 'frontend',
    environment: './vitest.environment.ts',
    include: ['src/**/*.spec.ts'],
  },
});
