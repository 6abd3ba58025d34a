import { defineConfig, defaultClientConditions, type ProxyOptions } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/** The gateway that `vite` (dev) and `vite preview` forward API and socket traffic to. */
const gateway = process.env.TICKDECK_URL ?? 'http://localhost:3000';

const proxy: Record<string, ProxyOptions> = {
  '/api': { target: gateway, changeOrigin: true },
  '/socket.io': { target: gateway, changeOrigin: true, ws: true },
};

export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  // Build against the protocol's TypeScript sources, so neither dev nor build needs its dist.
  resolve: { conditions: ['@tickdeck/source', ...defaultClientConditions] },
  // `--mode e2e`: the build the browser tests and the bench load, with the page's test hook.
  build: { outDir: mode === 'e2e' ? 'dist-e2e' : 'dist', emptyOutDir: true },
  server: { port: 5173, proxy },
  preview: { proxy },
}));
