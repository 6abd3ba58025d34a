/** Read by vite-plugin-svelte and svelte-check. @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  compilerOptions: {
    // Every component uses runes; legacy syntax is a compile error rather than a silent mode switch.
    runes: true,
  },
};
