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
      { endpoint: `tcp://127.0.0.1:${port}`, backlog: 100, hardMessageLimit: 1 << 20, peerTimeoutMs: 30_000, maxConnectionsPerAddress: 100 },
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
    let worstLagMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLagMs = Math.max(worstLagMs, now - last - 20);
      last = now;
    }, 20);
    closers.push(() => clearInterval(ticker));
    let handled = 0;
    for await (const _ of transport.messages()) {
      busyFor(1);
      if (++handled === frames) break;
    }
    // Without slicing the loop never leaves the microtask queue: the timer waits for all 1.5 s of work.
    expect(handled).toBe(frames);
    expect(worstLagMs).toBeLessThan(300);
  }, 20_000);
});
