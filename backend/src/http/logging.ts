import { ConsoleLogger, type LoggerService } from '@nestjs/common';
import { LOG_LEVELS, type LogFormat, type AppConfig } from '../config/config.js';

/**
 * The gateway's logger: Nest's ConsoleLogger, as text lines (coloured on a terminal) or, with
 * `LOG_FORMAT=json`, one JSON record per line: `{level, pid, timestamp, message, context, ...fields}`
 * (`timestamp` in epoch ms; structured fields such as the access log's flattened into the record).
 */
export function createLogger(config: Pick<AppConfig, 'logLevel' | 'logFormat'>): ConsoleLogger {
  const json = config.logFormat === 'json';
  return new ConsoleLogger('tickdeck', {
    logLevels: LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(config.logLevel) + 1),
    json,
    colors: !json && Boolean(process.stdout.isTTY),
    flattenParams: json,
  });
}

/**
 * Writes a line whatever `LOG_LEVEL` says (the `listening on` line scripts and tests wait for):
 * as it is in text, as a `log` record in JSON.
 */
export function printAlways(format: LogFormat, message: string): void {
  if (format === 'json') new ConsoleLogger('tickdeck', { json: true, colors: false, logLevels: ['log'] }).log(message);
  else console.log(message);
}

/** Writes a fatal line (a bad configuration, a failed start) before the logger exists or works. */
export function printFatal(format: LogFormat, message: string, err?: unknown): void {
  if (format === 'json') {
    const logger = new ConsoleLogger('tickdeck', { json: true, colors: false, logLevels: ['fatal'] });
    if (err instanceof Error) logger.fatal(message, err);
    else logger.fatal(err === undefined ? message : `${message} ${String(err)}`);
  } else if (err === undefined) {
    console.error(message);
  } else {
    console.error(message, err);
  }
}

/**
 * In JSON mode, what Node itself would print as text goes through the logger instead: process
 * warnings (`warn`) and an uncaught exception (`fatal`, then exit 1 as Node does), so every line
 * on stdout and stderr is a record.
 */
export function routeProcessOutput(format: LogFormat, logger: LoggerService): void {
  if (format !== 'json') return;
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn(`${warning.name}: ${warning.message}`, 'process'));
  process.on('uncaughtException', (err: unknown) => {
    if (err instanceof Error) logger.fatal?.('uncaught exception', err, 'process');
    else logger.fatal?.(`uncaught exception: ${String(err)}`, 'process');
    process.exit(1);
  });
}
