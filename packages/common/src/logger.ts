import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import { useColor } from './color.js';

export type { Logger } from 'pino';

const PINO_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Salt's level names, so a `log_level:` line copied from a Salt config works as it is. */
const SALT_LEVELS: Record<string, (typeof PINO_LEVELS)[number]> = {
  all: 'trace',
  garbage: 'trace',
  profile: 'debug',
  warning: 'warn',
  critical: 'fatal',
  quiet: 'silent',
};

export const LOG_LEVELS = [...PINO_LEVELS, ...Object.keys(SALT_LEVELS)] as const;

/** The pino level for a configured name (Salt's or pino's). */
export const pinoLevel = (level: string): string => SALT_LEVELS[level] ?? level;

/**
 * Field names that may carry a secret. Code never passes pillar values to the
 * logger at all; this list is the backstop if a future change does by mistake.
 */
export const REDACTED_FIELDS = ['value', 'values', 'pillar', 'password', 'passphrase', 'secret', 'key', 'contents', 'stdin', 'data'];

export interface LoggerOptions {
  name: string;
  level: string;
  /** Daemons log to stdout; one-shot commands to stderr, keeping stdout for their output. */
  fd?: 1 | 2;
  /** Pretty, coloured lines instead of JSON; defaults to whether the output is a terminal. */
  pretty?: boolean;
}

const require = createRequire(import.meta.url);

export function createLogger(opts: LoggerOptions): Logger {
  const paths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);
  const fd = opts.fd ?? 1;
  const out = fd === 1 ? process.stdout : process.stderr;
  const pretty = opts.pretty ?? out.isTTY === true;
  const stream = pretty ? prettyStream(fd, useColor(out)) : pino.destination({ dest: fd, sync: true });
  return pino(
    {
      name: opts.name,
      level: pinoLevel(opts.level),
      base: { pid: process.pid },
      redact: { paths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

function prettyStream(fd: 1 | 2, colorize: boolean): DestinationStream {
  // Loaded only on a terminal: daemons under systemd log JSON and skip the cost.
  const pretty = require('pino-pretty') as (o: object) => DestinationStream;
  return pretty({ sync: true, colorize, destination: fd, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}
