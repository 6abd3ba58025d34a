import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/check-deps.mjs');

describe('dependency floor (scripts/check-deps.mjs)', () => {
  it('finds every socket.io, engine.io, ws and socket.io-parser copy in the lockfile at or above its floor', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT], { cwd: ROOT });
    expect(stdout).toMatch(/^ok {3}node_modules\/socket\.io 4\./m);
    expect(stdout).toMatch(/^ok {3}node_modules\/engine\.io 6\./m);
    expect(stdout).toMatch(/^ok {3}node_modules\/ws 8\./m);
    expect(stdout).toMatch(/^ok {3}node_modules\/socket\.io-parser 4\./m);
    expect(stdout).not.toMatch(/^FAIL/m);
  });

  it('fails on a lockfile holding a vulnerable nested copy', async () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    lock.packages['node_modules/some-lib/node_modules/ws'] = { version: '8.17.0' };
    const path = join(mkdtempSync(join(tmpdir(), 'tickdeck-deps-')), 'package-lock.json');
    writeFileSync(path, JSON.stringify(lock));
    const err = await run(process.execPath, [SCRIPT, '--lockfile', path], { cwd: ROOT }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stdout: string }).stdout).toMatch(/^FAIL node_modules\/some-lib\/node_modules\/ws 8\.17\.0/m);
  });
});
