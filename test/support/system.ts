import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The absolute path of `command` on the PATH, or null. */
export function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/**
 * Finds a system command a suite needs (Chromium, redis-server, nginx). Missing: under `CI=true`
 * it throws, so the run fails; otherwise it warns loudly and returns null, and the suite skips.
 */
export function requireSystemCommand(command: string, debianPackage: string, suite: string): string | null {
  const found = which(command);
  if (found) return found;
  const message = `${suite}: \`${command}\` is not on the PATH (Debian package \`${debianPackage}\`; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`${message}: CI=true, so this fails instead of skipping`);
  console.warn(`\n!!! SKIPPING ${message}\n`);
  return null;
}
