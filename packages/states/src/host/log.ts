import type { Logger } from '@brine/common';
import type { Redactor } from '../redact.js';

/** The logger a state module gets: message and fields pass through the run's redactor. */
export interface StateLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function redactingLog(logger: Logger | undefined, redactor: Redactor): StateLog {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (!logger?.isLevelEnabled(level)) return;
      logger[level](redactor.deep(fields ?? {}), redactor.string(msg));
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
