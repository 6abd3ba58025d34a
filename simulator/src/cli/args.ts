import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_INSTRUMENTS, LIMITS, SymbolSchema } from '@tickdeck/protocol';

/** A mistake in how the CLI was called: exit 1 with the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Feed time model time 0 maps to when recording, unless `--start` says otherwise: 2026-01-01T00:00:00Z. */
export const DEFAULT_RECORD_START = Date.UTC(2026, 0, 1);

export interface PublishOptions {
  /** Gateway base URL, e.g. http://localhost:3000 (the CLI connects to its `/feed` namespace). */
  url: string;
  /** The gateway's FEED_TOKEN; '' when none was given. */
  token: string;
  /** Items per `ticks`/`trades` batch. */
  batch: number;
  /** Batches sent but not yet acknowledged, at most. */
  inFlight: number;
}

export interface WatchOptions {
  /** Gateway base URL, e.g. http://localhost:3000 (the CLI connects to its `/market` namespace). */
  url: string;
  /** A viewer token (one of the gateway's AUTH_TOKENS, or a JWT); '' when none was given. */
  token: string;
  /** Throttle tier to ask for, in ms; `undefined` for the gateway's default tier. */
  throttleMs: number | undefined;
  /** Print each frame as one JSON line instead of a line per quote and trade. */
  json: boolean;
  /** Upper-cased, without repeats, in the order given. */
  symbols: string[];
}

export interface ModelOptions {
  symbols: string[] | undefined;
  /** Ticks per second across all symbols. */
  rate: number;
  seed: number;
  volatility: number;
}

export type Command =
  | { command: 'help'; text: string }
  | ({ command: 'run'; durationMs: number } & PublishOptions & ModelOptions)
  | ({ command: 'record'; out: string; durationMs: number; start: number } & ModelOptions)
  | ({ command: 'replay'; file: string; speed: number; loop: boolean } & PublishOptions)
  | ({ command: 'watch' } & WatchOptions);

type Env = Record<string, string | undefined>;

const PUBLISH_HELP = `  --url URL           gateway base URL                      [TICKDECK_URL, default http://localhost:3000]
  --token TOKEN       the gateway's FEED_TOKEN              [FEED_TOKEN, required]
  --batch N           items per batch, 1..${LIMITS.maxFeedBatch}              [TICKDECK_BATCH, default 1000]
  --in-flight N       unacknowledged batches at most        [TICKDECK_IN_FLIGHT, default 4]`;
const MODEL_HELP = `  --symbols A,B       symbols to simulate                   [TICKDECK_SYMBOLS, default all 20]
  --rate N            ticks per second, all symbols         [TICKDECK_RATE, default 2000]
  --seed N            seed; same seed, same feed            [TICKDECK_SEED, default time-based, printed]
  --volatility X      multiplier on every volatility        [TICKDECK_VOLATILITY, default 1]`;

export const HELP = {
  main: `tickdeck-sim: drive a tickdeck gateway with a simulated or recorded feed, or watch what it streams

Usage:
  tickdeck-sim run --token T [options]            push a live simulated feed to a gateway's /feed
  tickdeck-sim record --out FILE [options]        write a simulated feed as NDJSON, no gateway needed
  tickdeck-sim replay FILE --token T [options]    push a recording to a gateway's /feed
  tickdeck-sim watch SYMBOL... [options]          print what a dashboard receives from /market
  tickdeck-sim COMMAND --help                     options of one command

Exit codes: 0 done, 1 usage error, 2 runtime error (gateway unreachable, token refused, bad file).`,
  run: `Usage: tickdeck-sim run --token T [options]

Pushes ticks and trades from the seeded market model to the gateway's /feed namespace in
batches, paced by the wall clock; each tick's ts is the time it was produced. At most
--in-flight batches wait for an ack at once, so a slow gateway slows the feed instead of
queueing it. If the gateway goes away, reconnects with jittered exponential backoff and resumes
from the current time (no burst of stale ticks).

${PUBLISH_HELP}
${MODEL_HELP}
  --duration D        stop after D (90, 90s, 500ms, 2m)     [TICKDECK_DURATION, default until Ctrl-C]
  -h, --help          this help`,
  record: `Usage: tickdeck-sim record --out FILE [options]

Writes the feed the model produces over --duration as NDJSON, one event per line in feed
order: {"type":"trade",symbol,ts,price,size,side} or {"type":"tick",symbol,ts,last,bid,ask,volume}
(a trade comes just before the tick it produced). Timestamps are model time from --start, so
the same options give a byte-identical file. No gateway needed.

  --out FILE          where to write; - for stdout          [TICKDECK_OUT, required]
${MODEL_HELP}
  --duration D        model time to record (90, 90s, 2m)    [TICKDECK_DURATION, default 60s]
  --start T           feed time of the first instant, ISO 8601 or epoch ms (gateways
                      accept 2000-01-01 up to MAX_FEED_CLOCK_SKEW_MS, default 5 s, ahead of
                      their clock, and per symbol nothing older than what they hold)
                                                            [TICKDECK_START, default 2026-01-01T00:00:00Z]
  -h, --help          this help`,
  replay: `Usage: tickdeck-sim replay FILE --token T [options]

Pushes a recording (NDJSON from \`record\`) to the gateway's /feed namespace with its original
spacing divided by --speed, keeping the recorded timestamps. With --loop it starts over at the
end, shifting timestamps so feed time keeps moving forward. A gateway refuses (BAD_TIMESTAMP)
every event older than what it already holds for the symbol: replay into a fresh gateway.

${PUBLISH_HELP}
  --speed N|max       N times real time, or max: as fast as acks allow
                                                            [TICKDECK_SPEED, default 1]
  --loop              start over at the end, until Ctrl-C   [TICKDECK_LOOP=1]
  -h, --help          this help`,
  watch: `Usage: tickdeck-sim watch SYMBOL... [options]

Connects to the gateway's /market namespace as a dashboard does, subscribes to the symbols and
prints the ack's snapshots, then a line per quote and per trade until Ctrl-C (exit 0):
  AAPL 189.23 bid 189.22 ask 189.24 seq 1234 (x3)     a quote; (x3): 3 ticks conflated into it
  AAPL trade buy 100 @ 189.23 #57                     a trade and its seq
A "warning:" line marks trades the gateway could not deliver (a gap); status changes (feed
stale, gateway shutting down) get a "status:" line. After a dropped connection it reconnects,
subscribes again and asks for the trades it missed. A refused connection or subscribe exits 2
with the gateway's error code.

  --url URL           gateway base URL                      [TICKDECK_URL, default http://localhost:3000]
  --token TOKEN       a viewer token, when the gateway needs one (AUTH_TOKENS, AUTH_JWT_SECRET)
                                                            [TICKDECK_TOKEN]
  --throttle MS       throttle tier, one the gateway offers [TICKDECK_THROTTLE, default the gateway's]
  --json              each frame as one JSON line on stdout, as received; the rest on stderr
                                                            [TICKDECK_JSON=1]
  -h, --help          this help`,
} as const;

const PUBLISH_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  batch: { type: 'string' },
  'in-flight': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const MODEL_OPTIONS = {
  symbols: { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  volatility: { type: 'string' },
  duration: { type: 'string' },
} as const;

/** Parses `tickdeck-sim` arguments (without node and the script); throws {@link UsageError}. */
export function parseCommand(argv: readonly string[], env: Env = process.env, now = Date.now()): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    return { command: 'help', text: HELP.main };
  }
  switch (command) {
    case 'run': {
      const v = parse(rest, { ...PUBLISH_OPTIONS, ...MODEL_OPTIONS }, 0);
      if (v.values['help']) return { command: 'help', text: HELP.run };
      const durationRaw = pick(v.values['duration'], env, 'TICKDECK_DURATION');
      return {
        command: 'run',
        ...publishOptions(v.values, env),
        ...modelOptions(v.values, env, now),
        durationMs: durationRaw === undefined ? Infinity : parseDuration(durationRaw, '--duration'),
      };
    }
    case 'record': {
      const v = parse(
        rest,
        { ...MODEL_OPTIONS, out: { type: 'string' }, start: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
        0,
      );
      if (v.values['help']) return { command: 'help', text: HELP.record };
      const out = pick(v.values['out'], env, 'TICKDECK_OUT');
      if (out === undefined || out === '') throw new UsageError('record needs --out FILE (or --out - for stdout)');
      const startRaw = pick(v.values['start'], env, 'TICKDECK_START');
      return {
        command: 'record',
        out,
        ...modelOptions(v.values, env, now),
        durationMs: parseDuration(pick(v.values['duration'], env, 'TICKDECK_DURATION') ?? '60s', '--duration'),
        start: startRaw === undefined ? DEFAULT_RECORD_START : parseStart(startRaw),
      };
    }
    case 'replay': {
      const v = parse(rest, { ...PUBLISH_OPTIONS, speed: { type: 'string' }, loop: { type: 'boolean' } }, 1);
      if (v.values['help']) return { command: 'help', text: HELP.replay };
      const file = v.positionals[0];
      if (file === undefined) throw new UsageError('replay needs the recording: tickdeck-sim replay FILE');
      const speedRaw = pick(v.values['speed'], env, 'TICKDECK_SPEED') ?? '1';
      const loopEnv = env['TICKDECK_LOOP'];
      return {
        command: 'replay',
        file,
        ...publishOptions(v.values, env),
        speed: speedRaw === 'max' ? Infinity : positive(speedRaw, '--speed', 'a number > 0 or max'),
        loop: v.values['loop'] === true || loopEnv === '1' || loopEnv === 'true',
      };
    }
    case 'watch': {
      const v = parse(
        rest,
        {
          url: { type: 'string' },
          token: { type: 'string' },
          throttle: { type: 'string' },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        Infinity,
      );
      if (v.values['help']) return { command: 'help', text: HELP.watch };
      const throttleRaw = pick(v.values['throttle'], env, 'TICKDECK_THROTTLE');
      const jsonEnv = env['TICKDECK_JSON'];
      return {
        command: 'watch',
        url: gatewayUrl(v.values, env),
        token: pick(v.values['token'], env, 'TICKDECK_TOKEN') ?? '',
        throttleMs: throttleRaw === undefined ? undefined : integer(throttleRaw, '--throttle', 1, 3_600_000),
        json: v.values['json'] === true || jsonEnv === '1' || jsonEnv === 'true',
        symbols: watchSymbols(v.positionals),
      };
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}: expected run, record, replay or watch`);
  }
}

/** "90", "90s", "500ms", "2m", "1h" -> ms. */
export function parseDuration(raw: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) throw new UsageError(`${name} must be a duration such as 90, 90s, 500ms or 2m, got ${JSON.stringify(raw)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(m[1]) * unit);
  if (!(ms > 0)) throw new UsageError(`${name} must be longer than 0, got ${JSON.stringify(raw)}`);
  return ms;
}

function parseStart(raw: string): number {
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isSafeInteger(ms)) {
    throw new UsageError(`--start must be epoch ms or an ISO 8601 time, got ${JSON.stringify(raw)}`);
  }
  return ms;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
interface Parsed {
  values: Values;
  positionals: string[];
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, maxPositionals: number): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

function pick(value: unknown, env: Env, name: string): string | undefined {
  if (typeof value === 'string') return value;
  const e = env[name];
  return e === '' ? undefined : e;
}

/** `--url` (or TICKDECK_URL), checked, without a trailing slash. */
function gatewayUrl(values: Values, env: Env): string {
  const url = pick(values['url'], env, 'TICKDECK_URL') ?? 'http://localhost:3000';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url must be a URL such as http://localhost:3000, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url must be http:// or https://, got ${JSON.stringify(url)}`);
  }
  return url.replace(/\/+$/, '');
}

/** The symbols to watch, checked with the protocol's rule; whether the gateway carries them is its call. */
function watchSymbols(positionals: string[]): string[] {
  if (positionals.length === 0) throw new UsageError('watch needs at least one symbol: tickdeck-sim watch AAPL MSFT');
  const symbols = new Set<string>();
  for (const raw of positionals) {
    const parsed = SymbolSchema.safeParse(raw);
    if (!parsed.success) {
      throw new UsageError(
        `${JSON.stringify(raw)} is not a symbol: 1 to ${LIMITS.maxSymbolLength} letters, digits, "." and "-"`,
      );
    }
    symbols.add(parsed.data);
  }
  if (symbols.size > LIMITS.maxSymbolsPerRequest) {
    throw new UsageError(`watch takes at most ${LIMITS.maxSymbolsPerRequest} symbols, got ${symbols.size}`);
  }
  return [...symbols];
}

function publishOptions(values: Values, env: Env): PublishOptions {
  // A missing token is reported when publishing starts, as the runtime error (exit 2) it is.
  const token = pick(values['token'], env, 'FEED_TOKEN') ?? '';
  return {
    url: gatewayUrl(values, env),
    token,
    batch: integer(pick(values['batch'], env, 'TICKDECK_BATCH') ?? '1000', '--batch', 1, LIMITS.maxFeedBatch),
    inFlight: integer(pick(values['in-flight'], env, 'TICKDECK_IN_FLIGHT') ?? '4', '--in-flight', 1, 1000),
  };
}

function modelOptions(values: Values, env: Env, now: number): ModelOptions {
  const symbolsRaw = pick(values['symbols'], env, 'TICKDECK_SYMBOLS');
  let symbols: string[] | undefined;
  if (symbolsRaw !== undefined) {
    symbols = [
      ...new Set(
        symbolsRaw
          .split(',')
          .map((s) => s.trim().toUpperCase())
          .filter((s) => s !== ''),
      ),
    ];
    const known = new Set(DEFAULT_INSTRUMENTS.map((i) => i.symbol));
    const unknown = symbols.filter((s) => !known.has(s));
    if (symbols.length === 0) throw new UsageError('--symbols names no symbol');
    if (unknown.length > 0)
      throw new UsageError(`--symbols: unknown ${unknown.join(', ')}; known: ${[...known].join(',')}`);
  }
  const seedRaw = pick(values['seed'], env, 'TICKDECK_SEED');
  return {
    symbols,
    rate: positive(pick(values['rate'], env, 'TICKDECK_RATE') ?? '2000', '--rate', 'a number > 0', 10_000_000),
    seed: seedRaw === undefined ? now >>> 0 : integer(seedRaw, '--seed', 0, Number.MAX_SAFE_INTEGER),
    volatility: positive(
      pick(values['volatility'], env, 'TICKDECK_VOLATILITY') ?? '1',
      '--volatility',
      'a number >= 0',
      100,
      true,
    ),
  };
}

function integer(raw: string, name: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function positive(raw: string, name: string, rule: string, max = Infinity, zeroOk = false): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk) || n > max) {
    throw new UsageError(`${name} must be ${rule}${max < Infinity ? ` up to ${max}` : ''}, got ${JSON.stringify(raw)}`);
  }
  return n;
}
