import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * A long run of work done in one turn of the event loop (a receive loop that never
 * waits while messages are queued, a pass over every minion) starves timers and
 * other sockets. Check `over()` between items and `await pause()` when it says so:
 * the event loop then polls I/O and runs timers before the work goes on.
 */
export class EventLoopSlice {
  private start = performance.now();

  constructor(private readonly maxMs: number) {}

  /** Whether the work has run `maxMs` since the last pause. */
  over(): boolean {
    return performance.now() - this.start > this.maxMs;
  }

  async pause(): Promise<void> {
    await nextTurn();
    this.start = performance.now();
  }
}
