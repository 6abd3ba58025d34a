#!/usr/bin/env node
// Builds what is missing or stale before `npm start`, `npm test` and `npm run bench`:
// the TypeScript packages incrementally (`tsc -b` is a no-op when nothing changed) and the
// dashboard when any of its sources is newer than its build. `--e2e` (npm test, npm run bench)
// also builds the dashboard's `e2e` build, with the page's test hook; `npm start` needs only
// the production one.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
/** @param {string} bin a Node script @param {string[]} args */
const run = (bin, args) => execFileSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit' });

/** @param {string} path @returns {number} the newest mtime (ms) of `path` and everything under it, 0 if absent */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

try {
  run(require.resolve('typescript/bin/tsc'), ['-b']);
  const sources = Math.max(
    ...[
      'frontend/src',
      'frontend/index.html',
      'frontend/vite.config.ts',
      'frontend/package.json',
      'protocol/src',
      'protocol/package.json',
    ].map((p) => newest(join(root, p))),
  );
  // The dashboard `npm start` serves, and the `e2e` build (with the page's test hook) that the
  // browser tests and the bench load.
  /** @type {[dir: string, mode: string][]} */
  const builds = [['frontend/dist', 'production']];
  if (process.argv.includes('--e2e')) builds.push(['frontend/dist-e2e', 'e2e']);
  for (const [dir, mode] of builds) {
    if (sources <= newest(join(root, dir, 'index.html'))) continue;
    console.log(`building the dashboard (${dir} is missing or older than its sources)`);
    run(join(dirname(require.resolve('vite/package.json')), 'bin/vite.js'), [
      'build',
      '--mode',
      mode,
      '--logLevel',
      'warn',
      join(root, 'frontend'),
    ]);
  }
} catch (err) {
  console.error(`tickdeck: the build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
