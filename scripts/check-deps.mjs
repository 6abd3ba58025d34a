#!/usr/bin/env node
// The dependency floor (issue 6): every copy of socket.io, engine.io and ws in the lockfile is at
// or above the version that fixed its last known advisory, and socket.io-parser is the newest
// release. `--online` asks the npm registry what "newest" is; offline, the floor is the last
// advisory fix. `--audit` also runs `npm audit --omit=dev` and fails on a high or critical
// advisory; when the registry offers no audit endpoint it says so loudly (it cannot pass or fail
// what it cannot see). Exit 1 when a copy is below its floor or the audit finds something.
//   node scripts/check-deps.mjs [--online] [--audit] [--lockfile package-lock.json]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const FLOORS = {
  'socket.io': '4.6.2', // CVE-2023-32695 (unhandled 'error' crash)
  'engine.io': '6.4.2', // CVE-2023-31125 (uncaught exception on crafted request)
  ws: '8.17.1', // CVE-2024-37890 (DoS through many HTTP headers)
  'socket.io-parser': '4.2.4', // CVE-2023-32695 (insufficient validation of attachments)
};

const { values } = parseArgs({
  options: {
    online: { type: 'boolean', default: false },
    audit: { type: 'boolean', default: false },
    lockfile: { type: 'string', default: 'package-lock.json' },
  },
});

/** @param {string} v @returns {[number, number, number]} major, minor, patch */
const parse = (v) => {
  const [major = NaN, minor = NaN, patch = NaN] = v.split(/[.+-]/, 3).map(Number);
  return [major, minor, patch];
};
/** @param {string} v @param {string} floor */
const below = (v, floor) => {
  const [a, b] = [parse(v), parse(floor)];
  for (const i of /** @type {const} */ ([0, 1, 2])) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
};

/** @type {Record<string, string>} package name -> lowest version allowed */
const floors = { ...FLOORS };
if (values.online) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  floors['socket.io-parser'] = execFileSync(npm, ['view', 'socket.io-parser', 'version'], { encoding: 'utf8' }).trim();
}

const lock = JSON.parse(readFileSync(values.lockfile, 'utf8'));
let failed = 0;
const seen = Object.fromEntries(Object.keys(floors).map((n) => [n, 0]));
for (const [path, meta] of Object.entries(lock.packages ?? {})) {
  const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const floor = floors[name];
  if (!path.includes('node_modules/') || floor === undefined) continue;
  seen[name] = (seen[name] ?? 0) + 1;
  const bad = below(meta.version, floor);
  if (bad) failed++;
  console.log(`${bad ? 'FAIL' : 'ok  '} ${path} ${meta.version} (floor ${floor})`);
}
for (const [name, n] of Object.entries(seen)) {
  if (n === 0) {
    failed++;
    console.log(`FAIL ${name}: not in ${values.lockfile}`);
  }
}
console.log(failed ? `check-deps: ${failed} below the floor` : 'check-deps: every copy at or above its floor');

if (values.audit) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  let out;
  try {
    out = execFileSync(npm, ['audit', '--omit=dev', '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (err) {
    out = /** @type {{stdout?: string}} */ (err).stdout ?? ''; // npm audit exits 1 on findings
  }
  /** @type {{ metadata?: { vulnerabilities?: Record<string, number> }, error?: { summary?: string }, message?: string }} */
  let report = {};
  try {
    report = JSON.parse(out);
  } catch {
    // not JSON: treated as unavailable below
  }
  const v = report.metadata?.vulnerabilities;
  if (!v) {
    console.log(
      `!!! npm audit UNAVAILABLE (${report.error?.summary || report.message || 'no report'}): advisories not checked`,
    );
  } else {
    const serious = (v.high ?? 0) + (v.critical ?? 0);
    console.log(`npm audit --omit=dev: ${JSON.stringify(v)}`);
    if (serious > 0) failed++;
  }
}
process.exit(failed ? 1 : 0);
