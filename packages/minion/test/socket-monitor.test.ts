import { createLogger } from '@brine/common';
import { readdirSync } from 'node:fs';
import { createServer, type Socket as TcpSocket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { SocketMonitor } from '../src/socket-monitor.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps what was said at debug and warn. */
function recordingLog(): { log: ReturnType<typeof createLogger>; said: string[] } {
  const said: string[] = [];
  const log = createLogger({ name: 'test', level: 'silent' });
  log.debug = ((_obj: unknown, msg: string) => void said.push(msg)) as typeof log.debug;
  log.warn = ((_obj: unknown, msg: string) => void said.push(`warn: ${msg}`)) as typeof log.warn;
  return { log, said };
}

/** A socket whose observer cannot be made the first `failures` times (as zeromq.js throws it), for SocketMonitor.open. */
function colliding(failures: number): { socket: zmq.Dealer; view: zmq.Socket; attempts: () => number } {
  const socket = new zmq.Dealer({ linger: 0 });
  let attempts = 0;
  const view = {
    get events() {
      if (++attempts <= failures) throw Object.assign(new Error('Address already in use'), { code: 'EADDRINUSE' });
      return socket.events;
    },
  } as zmq.Socket;
  return { socket, view, attempts: () => attempts };
}

/** A socket monitored, closed and its monitor retired, read to libzmq's end; nothing else holds the observer. */
async function retiredObserver(): Promise<WeakRef<zmq.Observer>> {
  const socket = new zmq.Dealer({ linger: 0 });
  const monitor = SocketMonitor.open(socket, recordingLog().log);
  const observer = new WeakRef(socket.events);
  const ended = (async () => {
    for await (const event of monitor.events()) if (event.type === 'end') return true;
    return false;
  })();
  socket.connect('tcp://127.0.0.1:1');
  socket.close();
  monitor.retire();
  expect(await ended).toBe(true);
  return observer;
}

describe('a socket monitor', () => {
  it('tries another observer when libzmq still holds the address', async () => {
    const { log, said } = recordingLog();
    const { socket, view, attempts } = colliding(3);
    const monitor = SocketMonitor.open(view, log);
    expect(attempts()).toBe(4);
    socket.connect('tcp://127.0.0.1:1');
    const events = monitor.events()[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ type: expect.stringMatching(/^connect/) });
    expect(said.filter((m) => m.startsWith('warn:'))).toEqual([]);
    socket.close();
    monitor.retire();
  });

  it('runs the socket without events, said once, when no observer can be made', async () => {
    const { log, said } = recordingLog();
    for (let i = 0; i < 2; i++) {
      const { socket, view } = colliding(1000);
      const monitor = SocketMonitor.open(view, log);
      expect(await monitor.events()[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined });
      socket.close();
      monitor.retire();
    }
    expect(said.filter((m) => m.startsWith('warn:'))).toHaveLength(1);
  });

  it('keeps a retired observer from collection until libzmq is done with its socket, then lets it go', async () => {
    const observer = await retiredObserver();
    // Past the grace after which the channel used to let it go.
    await sleep(1500);
    gc();
    await sleep(0);
    expect(observer.deref()).toBeDefined();
    // Let go after the margin (10 s) and the next sweep (every 5 s).
    await expect
      .poll(
        async () => {
          gc();
          await sleep(0);
          return observer.deref() === undefined;
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(true);
  }, 30_000);

  it('leaves a retired observer open until libzmq has ended its socket: closed sooner, all three would leak', async () => {
    // A peer that accepts and never speaks ZMTP: the socket's linger keeps it alive in libzmq for 3 s after close.
    const peers = new Set<TcpSocket>();
    const silent = createServer((peer) => void peers.add(peer.on('error', () => {})));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const descriptors = () => readdirSync('/proc/self/fd').length;
    const before = descriptors();
    const socket = new zmq.Dealer({ linger: 3000 });
    const monitor = SocketMonitor.open(socket, recordingLog().log);
    const observer = socket.events;
    const ended = (async () => {
      for await (const event of monitor.events()) if (event.type === 'end') return true;
      return false;
    })();
    socket.connect(`tcp://127.0.0.1:${(silent.address() as { port: number }).port}`);
    await socket.send('queued');
    socket.close();
    monitor.retire();
    // Past the 1 s after which it used to be closed.
    await sleep(1500);
    expect(observer.closed).toBe(false);
    expect(await ended).toBe(true);
    expect(observer.closed).toBe(true);
    for (const peer of peers) peer.destroy();
    silent.close();
    // The socket, its monitor and the observer are gone, descriptors and all.
    await expect.poll(descriptors, { timeout: 5000 }).toBeLessThanOrEqual(before);
  }, 15_000);
});
