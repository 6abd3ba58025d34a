import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { MarketSimulator } from './market-simulator.js';
import { parseCommand, UsageError, type Command, type ModelOptions } from './cli/args.js';
import { Progress } from './cli/progress.js';
import { Publisher, RuntimeError, type FeedSource } from './cli/publisher.js';
import { ModelSource, RecordingSource, type Recorded } from './cli/sources.js';
import { Watcher } from './cli/watcher.js';

type Of<C extends Command['command']> = Extract<Command, { command: C }>;

function model(o: ModelOptions, startTime: number): MarketSimulator {
  try {
    return new MarketSimulator({ seed: o.seed, rate: o.rate, volatility: o.volatility, symbols: o.symbols, startTime });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function publish(c: Of<'run'> | Of<'replay'>, source: FeedSource, what: string): Promise<void> {
  if (c.token === '') {
    throw new RuntimeError("missing feed token: pass --token T or set FEED_TOKEN=T (the gateway's FEED_TOKEN)");
  }
  const publisher = new Publisher(c, source);
  const progress = new Progress(publisher, process.stderr);
  const stop = () => {
    progress.stop();
    process.stdout.write(`${progress.summary()}\n`);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  console.error(`tickdeck-sim: ${what} -> ${c.url}/feed`);
  progress.start();
  try {
    await publisher.run();
  } finally {
    progress.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  process.stdout.write(`${progress.summary()}\n`);
}

async function run(c: Of<'run'>): Promise<void> {
  const sim = model(c, Date.now());
  const duration = c.durationMs === Infinity ? 'until stopped' : `for ${c.durationMs / 1000} s`;
  const what = `run: ${c.rate} ticks/s over ${sim.instruments.length} symbols, seed ${c.seed}, ${duration}`;
  await publish(c, new ModelSource(sim, c.rate, c.batch, c.durationMs), what);
}

async function record(c: Of<'record'>): Promise<void> {
  const sim = model(c, c.start);
  const out: Writable = c.out === '-' ? process.stdout : createWriteStream(c.out);
  const failed = new Promise<never>((_, reject) =>
    out.once('error', (err) => reject(new RuntimeError(`cannot write ${c.out}: ${err.message}`))),
  );
  let lines: string[] = [];
  const sink = {
    tick: (t: object) => lines.push(JSON.stringify({ type: 'tick', ...t })),
    trade: (t: object) => lines.push(JSON.stringify({ type: 'trade', ...t })),
  };
  let ticks = 0;
  // One second of model time per write keeps memory flat and honours the stream's back-pressure.
  for (let t = 0; t < c.durationMs;) {
    t = Math.min(c.durationMs, t + 1000);
    ticks += sim.advanceTo(t, sink);
    if (lines.length > 0 && !out.write(`${lines.join('\n')}\n`)) await Promise.race([once(out, 'drain'), failed]);
    lines = [];
  }
  if (out !== process.stdout) {
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  }
  console.error(
    `tickdeck-sim: recorded ${ticks} ticks over ${c.durationMs / 1000} s of feed time, seed ${c.seed}, to ${c.out === '-' ? 'stdout' : c.out}`,
  );
}

function load(file: string): Recorded[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RuntimeError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const events: Recorded[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      throw new RuntimeError(`${file}:${i + 1}: not JSON`);
    }
    const r = e as Partial<Recorded> | null;
    if (!r || (r.type !== 'tick' && r.type !== 'trade') || typeof r.ts !== 'number') {
      throw new RuntimeError(`${file}:${i + 1}: expected {"type":"tick"|"trade", "ts": <epoch ms>, ...}`);
    }
    events.push(r as Recorded);
  });
  if (events.length === 0) throw new RuntimeError(`${file}: no events`);
  return events;
}

async function replay(c: Of<'replay'>): Promise<void> {
  const events = load(c.file);
  const speed = c.speed === Infinity ? 'max speed' : `${c.speed}x`;
  await publish(
    c,
    new RecordingSource(events, c.speed, c.loop),
    `replay: ${events.length} events from ${c.file} at ${speed}${c.loop ? ', looping' : ''}`,
  );
}

async function watch(c: Of<'watch'>): Promise<void> {
  const watcher = new Watcher(c, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  const stop = () => watcher.stop();
  // `watch AAPL | head`: the reader went away, which ends the watch like Ctrl-C does.
  const closed = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', closed);
  try {
    await watcher.run();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stdout.off('error', closed);
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    const c = parseCommand(argv);
    switch (c.command) {
      case 'help':
        console.log(c.text);
        return 0;
      case 'run':
        await run(c);
        return 0;
      case 'record':
        await record(c);
        return 0;
      case 'replay':
        await replay(c);
        return 0;
      case 'watch':
        await watch(c);
        return 0;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(
        `tickdeck-sim: ${err.message}\n(tickdeck-sim ${argv[0] ?? ''} --help for usage)`.replace(/  +/g, ' '),
      );
      return 1;
    }
    console.error(`tickdeck-sim: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
