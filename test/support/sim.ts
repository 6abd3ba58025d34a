import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The simulator CLI as users run it (`npx tickdeck-sim`). */
export const SIM_CLI = fileURLToPath(new URL('../../simulator/bin/tickdeck-sim.js', import.meta.url));

export interface SimResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SimProcess {
  child: ChildProcess;
  /** Resolves when the process has exited, with everything it printed. */
  done: Promise<SimResult>;
}

/**
 * Starts `tickdeck-sim` with `args`. The environment carries no FEED_TOKEN unless `env` gives
 * one. The child stays in `children` until it exits, so a suite can kill what is left.
 */
export function startSim(args: string[], children: Set<ChildProcess>, env: Record<string, string> = {}): SimProcess {
  const { FEED_TOKEN: _omit, ...base } = process.env;
  const child = spawn(process.execPath, [SIM_CLI, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<SimResult>((resolve) =>
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done };
}
