import { describe, expect, it } from 'vitest';
import { createLogger, LOG_LEVELS, pinoLevel } from '../src/index.js';

describe('log levels', () => {
  it("takes Salt's level names as they appear in a Salt config", () => {
    expect(LOG_LEVELS).toEqual(expect.arrayContaining(['warning', 'critical', 'quiet', 'garbage', 'all', 'profile']));
    expect(createLogger({ name: 't', level: 'warning', fd: 2 }).level).toBe('warn');
    expect(createLogger({ name: 't', level: 'critical', fd: 2 }).level).toBe('fatal');
    expect(createLogger({ name: 't', level: 'quiet', fd: 2 }).level).toBe('silent');
    expect(pinoLevel('garbage')).toBe('trace');
  });

  it("keeps pino's own names", () => {
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) expect(pinoLevel(level)).toBe(level);
  });
});
