import { createLogger } from '@brine/common';
import zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { MasterTransport } from '../src/transport.js';
import { freePort } from '../../../test/support/cluster.js';

const busyFor = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('MasterTransport', () => {
  const closers: (() => void)[] = [];
  afterEach(() => closers.splice(0).forEach((close) => close()));

  it('lets timers and other I/O run while a flood of frames is handled, each taking a millisecond', async () => {
    const port = await freePort();
    const transport = new MasterTransport(
      {
        endpoint: `tcp://127.0.0.1:${port}`,
        backlog: 100,
        hardMessageLimit: 1 << 20,
        peerTimeoutMs: 30_000,
        maxConnectionsPerAddress: 100,
      },
      createLogger({ name: 'test', level: 'silent' }),
    );
    await transport.start();
    closers.push(() => transport.close());
    const frames = 1500;
    const peer = new zmq.Dealer({ plainUsername: 'a'.repeat(32), plainPassword: 'brine', sendHighWaterMark: 0, linger: 0 });
    closers.push(() => peer.close());
    peer.connect(`tcp://127.0.0.1:${port}`);
    for (let i = 0; i < frames; i++) await peer.send(Buffer.from([1, 2, 3]));

    // Wait until the frames are queued at the master, then handle them as the daemon does: one by one, busy.
    await new Promise((r) => setTimeout(r, 500));
    // Frames handled between two runs of a timer: the length of the longest stretch the loop kept the event loop.
    let sinceTick = 0;
    let longestStretch = 0;
    const ticker = setInterval(() => (sinceTick = 0), 5);
    closers.push(() => clearInterval(ticker));
    let handled = 0;
    for await (const _ of transport.messages()) {
      busyFor(1);
      longestStretch = Math.max(longestStretch, ++sinceTick);
      if (++handled === frames) break;
    }
    expect(handled).toBe(frames);
    // Slices of 10 ms hold about ten such frames; without them the timer waits for all 1,500 (counted in frames, not
    // milliseconds, so a loaded machine that deschedules the process does not change the figure).
    expect(longestStretch).toBeLessThan(100);
  }, 20_000);
});
