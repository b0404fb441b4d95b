/**
 * Exponential backoff with "equal jitter": each delay is half the current step plus
 * a random share of the other half, so a fleet that failed together does not retry
 * together, while no client waits less than half its step.
 */
export class Backoff {
  private step: number;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    this.step = initialMs;
  }

  next(): number {
    const delay = this.step / 2 + this.random() * (this.step / 2);
    this.step = Math.min(this.maxMs, this.step * 2);
    return Math.round(delay);
  }

  reset(): void {
    this.step = this.initialMs;
  }
}

/** A delay of `ms` give or take `fraction` of it, for retry intervals that should not line up across hosts. */
export function jittered(ms: number, fraction = 0.25, random: () => number = Math.random): number {
  return Math.round(ms * (1 - fraction + 2 * fraction * random()));
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
