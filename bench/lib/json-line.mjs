// The figures a bench child process prints: its last line that is a JSON object.

/**
 * The last JSON line of a child's output, parsed; throws, naming `what`, the exit code and the
 * tail of its output, when it failed or printed none.
 * @param {string} what @param {{ code: number | string | null, out: string, err: string }} child  code: the exit code (or signal)
 * @returns {Record<string, any>}
 */
export function lastJsonLine(what, { code, out, err }) {
  const line = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .pop();
  if (code !== 0 || !line) {
    const tail = (err || out).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${what} exited ${code}${line ? '' : ' without a JSON line'}: ${tail}`);
  }
  return JSON.parse(line);
}
