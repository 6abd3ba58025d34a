import { describe, expect, it } from 'vitest';
import { DEFAULT_RECORD_START, parseCommand, parseDuration, UsageError } from './args.js';

const NOW = 1_790_000_000_123;
const parse = (argv: string[], env: Record<string, string> = {}) => parseCommand(argv, env, NOW);

describe(parseCommand.name, () => {
  it('parses run with every option and defaults the rest', () => {
    expect(
      parse([
        'run',
        '--url',
        'http://gw:3000/',
        '--token',
        'T',
        '--symbols',
        'aapl,BTC-USD',
        '--rate',
        '500',
        '--duration',
        '90s',
        '--seed',
        '42',
        '--volatility',
        '1.5',
      ]),
    ).toEqual({
      command: 'run',
      url: 'http://gw:3000',
      token: 'T',
      batch: 1000,
      inFlight: 4,
      symbols: ['AAPL', 'BTC-USD'],
      rate: 500,
      seed: 42,
      volatility: 1.5,
      durationMs: 90_000,
    });
    expect(parse(['run'])).toMatchObject({
      url: 'http://localhost:3000',
      token: '',
      rate: 2000,
      seed: NOW >>> 0,
      durationMs: Infinity,
    });
  });

  it('takes every option from the environment when the flag is absent, flags first', () => {
    const env = {
      TICKDECK_URL: 'http://env:1',
      FEED_TOKEN: 'E',
      TICKDECK_RATE: '10',
      TICKDECK_SEED: '9',
      TICKDECK_SPEED: 'max',
      TICKDECK_LOOP: '1',
    };
    expect(parse(['run', '--rate', '20'], env)).toMatchObject({ url: 'http://env:1', token: 'E', rate: 20, seed: 9 });
    expect(parse(['replay', 'f.ndjson'], env)).toMatchObject({
      file: 'f.ndjson',
      speed: Infinity,
      loop: true,
      token: 'E',
    });
  });

  it('parses record with a fixed default start, and replay with speed and loop', () => {
    expect(parse(['record', '--out', '-', '--seed', '3'])).toMatchObject({
      command: 'record',
      out: '-',
      seed: 3,
      durationMs: 60_000,
      start: DEFAULT_RECORD_START,
    });
    expect(parse(['record', '--out', 'x', '--start', '2025-06-01T00:00:00Z'])).toMatchObject({
      start: Date.UTC(2025, 5, 1),
    });
    expect(parse(['record', '--out', 'x', '--start', '1000'])).toMatchObject({ start: 1000 });
    expect(parse(['replay', 'feed.ndjson', '--speed', '10', '--loop', '--token', 'T'])).toMatchObject({
      speed: 10,
      loop: true,
    });
  });

  it('parses watch with its symbols, options and environment fallbacks', () => {
    expect(
      parse([
        'watch',
        '--url',
        'https://gw:8443/',
        '--token',
        'viewer-1',
        '--throttle',
        '100',
        '--json',
        'aapl',
        'BTC-USD',
        'AAPL',
      ]),
    ).toEqual({
      command: 'watch',
      url: 'https://gw:8443',
      token: 'viewer-1',
      throttleMs: 100,
      json: true,
      symbols: ['AAPL', 'BTC-USD'],
    });
    expect(parse(['watch', 'MSFT'])).toEqual({
      command: 'watch',
      url: 'http://localhost:3000',
      token: '',
      throttleMs: undefined,
      json: false,
      symbols: ['MSFT'],
    });
    const env = { TICKDECK_URL: 'http://env:1', TICKDECK_TOKEN: 'E', TICKDECK_THROTTLE: '1000', TICKDECK_JSON: '1' };
    expect(parse(['watch', 'KO', '--throttle', '250'], env)).toMatchObject({
      url: 'http://env:1',
      token: 'E',
      throttleMs: 250,
      json: true,
    });
    // The feed's token is not a viewer's: watch never sends it.
    expect(parse(['watch', 'KO'], { FEED_TOKEN: 'feed-secret' })).toMatchObject({ token: '' });
  });

  it('answers --help per command', () => {
    expect(parse(['--help'])).toMatchObject({ command: 'help', text: expect.stringContaining('tickdeck-sim run') });
    expect(parse(['replay', '--help'])).toMatchObject({
      command: 'help',
      text: expect.stringContaining('--speed N|max'),
    });
    expect(parse(['record', '-h'])).toMatchObject({ command: 'help', text: expect.stringContaining('--start') });
    expect(parse(['watch', '--help'])).toMatchObject({
      command: 'help',
      text: expect.stringContaining('--throttle MS'),
    });
    expect(parse(['--help'])).toMatchObject({ text: expect.stringContaining('tickdeck-sim watch SYMBOL...') });
  });

  it.each([
    [['fly'], /unknown command "fly"/],
    [['run', '--rate', 'fast'], /--rate must be a number > 0/],
    [['run', '--rate', '0'], /--rate/],
    [['run', '--bogus'], /Unknown option '--bogus'/],
    [['run', '--symbols', 'AAPL,NOPE'], /unknown NOPE/],
    [['run', '--url', 'ftp://x'], /--url must be http/],
    [['run', '--batch', '5001'], /--batch must be an integer from 1 to 5000/],
    [['run', '--duration', 'soon'], /--duration must be a duration/],
    [['record'], /record needs --out/],
    [['replay'], /replay needs the recording/],
    [['replay', 'a', 'b'], /unexpected argument "b"/],
    [['replay', 'a', '--speed', '-1'], /--speed/],
    [['watch'], /watch needs at least one symbol/],
    [['watch', '--json'], /watch needs at least one symbol/],
    [['watch', 'AAPL', 'A$PL'], /"A\$PL" is not a symbol/],
    [['watch', 'WAYTOOLONGSYMBOL1'], /is not a symbol: 1 to 16/],
    [['watch', 'AAPL', '--throttle', '0'], /--throttle must be an integer from 1/],
    [['watch', 'AAPL', '--throttle', 'fast'], /--throttle/],
    [['watch', 'AAPL', '--url', 'ws://gw'], /--url must be http/],
    [['watch', 'AAPL', '--rate', '5'], /Unknown option '--rate'/],
  ])('refuses %o as a usage error', (argv, message) => {
    expect(() => parse(argv)).toThrow(UsageError);
    expect(() => parse(argv)).toThrow(message);
  });
});

describe(parseDuration.name, () => {
  it.each([
    ['90', 90_000],
    ['90s', 90_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1.5s', 1500],
  ])('%s -> %d ms', (raw, ms) => expect(parseDuration(raw, '--duration')).toBe(ms));
});
