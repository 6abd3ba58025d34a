#!/usr/bin/env node
// A committed, executable entry point: the compiled CLI in dist/ is rebuilt by tsc, which
// neither keeps an executable bit nor exists before the first build.
try {
  await import('../dist/cli.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli.js')) throw err;
  console.error('tickdeck-sim: not built yet: run `npm run build` at the repository root');
  process.exit(2);
}
