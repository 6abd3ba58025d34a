#!/usr/bin/env node
// Flame summary of a .cpuprofile: where the self time went, by function and by layer.
// Usage: node bench/lib/profile-summary.mjs FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const [file] = positionals;
if (positionals.length !== 1 || file === undefined) {
  console.error('usage: node bench/lib/profile-summary.mjs FILE.cpuprofile [--top N]');
  process.exit(1);
}
/** @type {{ nodes: { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }[], samples: number[], timeDeltas: number[] }} */
const profile = JSON.parse(readFileSync(file, 'utf8'));

// Self time per node from the samples and their time deltas (µs).
/** @type {Map<number, number>} */
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** @param {string} url */
function layer(url) {
  if (url === '') return 'native / VM';
  if (url.startsWith('node:')) return 'node core';
  for (const name of [
    'ws',
    'socket.io',
    'socket.io-adapter',
    'socket.io-parser',
    'engine.io',
    'engine.io-parser',
    '@nestjs',
    'rxjs',
    'express',
    'zod',
  ]) {
    if (url.includes(`/node_modules/${name}/`)) return name;
  }
  if (url.includes('/backend/')) return 'tickdeck backend';
  if (url.includes('/simulator/')) return 'tickdeck simulator';
  if (url.includes('/bench/')) return 'bench (peer / probe)';
  if (url.includes('/node_modules/')) return 'other dependency';
  return 'other';
}

/** @type {Map<string, number>} */
const byFn = new Map();
/** @type {Map<string, number>} */
const byLayer = new Map();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url
    .replace(/^.*\/node_modules\//, '')
    .replace(/^file:\/\/.*\/(backend|bench|simulator|protocol)\//, '$1/');
  const key = `${functionName || '(anonymous)'}  ${short}${url ? `:${lineNumber + 1}` : ''}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
  const l =
    functionName === '(idle)'
      ? '(idle)'
      : functionName === '(garbage collector)'
        ? 'GC'
        : functionName === '(program)'
          ? '(program)'
          : layer(url);
  byLayer.set(l, (byLayer.get(l) ?? 0) + us);
}
const pct = (/** @type {number} */ us) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
console.log(`${positionals[0]}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nself time by layer:');
for (const [k, us] of [...byLayer].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(us)}  ${k}`);
console.log(`\ntop ${values.top} functions by self time:`);
for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  console.log(`  ${pct(us)}  ${k}`);
