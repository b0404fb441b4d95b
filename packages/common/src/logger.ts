import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * Field names that may carry a secret. Code never passes pillar values to the
 * logger at all; this list is the backstop if a future change does by mistake.
 */
export const REDACTED_FIELDS = [
  'value', 'values', 'pillar', 'password', 'passphrase', 'secret', 'key', 'contents', 'stdin', 'data',
];

export interface LoggerOptions {
  name: string;
  level: string;
  /** Pretty, coloured lines instead of JSON; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const paths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  const stream = opts.destination ?? (pretty ? prettyStream() : pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      name: opts.name,
      level: opts.level,
      base: { pid: process.pid },
      redact: { paths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

function prettyStream(): DestinationStream {
  // Loaded only on a terminal: daemons under systemd log JSON and skip the cost.
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as (o: object) => DestinationStream;
  return pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}
