#!/usr/bin/env node
// Builds what is missing or stale before `npm start`, `npm test` and `npm run bench`:
// the TypeScript packages incrementally (`tsc -b` is a no-op when nothing changed) and the
// dashboard when any of its sources is newer than its build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const run = (bin, args) => execFileSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit' });

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
  const built = newest(join(root, 'frontend/dist/index.html'));
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
  if (sources > built) {
    console.log('building the dashboard (frontend/dist is missing or older than its sources)');
    run(join(dirname(require.resolve('vite/package.json')), 'bin/vite.js'), [
      'build',
      '--logLevel',
      'warn',
      join(root, 'frontend'),
    ]);
  }
} catch (err) {
  console.error(`tickdeck: the build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
