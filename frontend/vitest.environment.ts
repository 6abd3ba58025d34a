import { builtinEnvironments, type Environment } from 'vitest/runtime';

/**
 * Node globals, but modules transformed as for the browser. Vitest's `node` environment compiles
 * Svelte for the server, where `$state` is a plain field and `$derived` is recomputed on every
 * read, so a store that mutates a plain `Map` would pass there and never update on screen. The
 * specs need the client runtime the dashboard runs. No DOM: component tests belong in a browser.
 */
export default {
  ...builtinEnvironments.node,
  name: 'svelte-client',
  viteEnvironment: 'client',
} satisfies Environment;
