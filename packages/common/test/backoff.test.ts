import { describe, expect, it } from 'vitest';
import { Backoff, jittered } from '../src/backoff.js';

describe('Backoff', () => {
  it('doubles its step up to the cap and keeps each delay within [step/2, step]', () => {
    const lows = new Backoff(100, 1000, () => 0);
    expect([lows.next(), lows.next(), lows.next(), lows.next(), lows.next()]).toEqual([50, 100, 200, 400, 500]);
    const highs = new Backoff(100, 1000, () => 1);
    expect([highs.next(), highs.next(), highs.next(), highs.next(), highs.next()]).toEqual([100, 200, 400, 800, 1000]);
  });

  it('starts over after reset', () => {
    const b = new Backoff(100, 1000, () => 1);
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('spreads jittered delays around the target', () => {
    expect(jittered(1000, 0.25, () => 0)).toBe(750);
    expect(jittered(1000, 0.25, () => 1)).toBe(1250);
  });
});
