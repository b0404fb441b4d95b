// Child process of socket-monitor.test.ts, run with --expose-gc. Arguments: the master's port
// (0: no ping) and how many stale endpoints to leave before the channel (default 100).
// Prints one JSON line: what a raw `socket.events` and then a MasterChannel met after a
// socket monitor's endpoint was left behind under a freed Observer's address.
import { createLogger } from '@brine/common';
import { MasterChannel } from '@brine/minion';
import { MinionIdentity, X25519Key } from '@brine/protocol';
import { createServer } from 'node:net';
import zmq from 'zeromq';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Accepts connections and never speaks ZMTP: what is sent there stays queued.
const silent = createServer(() => {});
await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
const silentEndpoint = `tcp://127.0.0.1:${silent.address().port}`;

/**
 * zeromq.js names a socket's monitor endpoint after its native Observer's address. This
 * socket outlives its close in libzmq (its linger waits for a message queued to a peer
 * that never answers), so its monitor endpoint stays bound, while its Observer is closed,
 * let go and collected: malloc hands that address to the next Observer made.
 */
async function leaveStaleEndpoints(count) {
  const sockets = Array.from({ length: count }, () => new zmq.Dealer({ linger: 5000 }));
  const observers = sockets.map((socket) => socket.events);
  for (const socket of sockets) {
    socket.connect(silentEndpoint);
    socket.send('queued').catch(() => {});
  }
  await sleep(20);
  for (const socket of sockets) socket.close();
  for (const observer of observers) observer.close();
}

async function collect() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
}

const port = Number(process.argv[2]);
const result = {};
const logged = [];
const log = createLogger({ name: 'test', level: 'silent' });
log.debug = (_obj, msg) => void logged.push(msg);
log.warn = (_obj, msg) => void logged.push(msg);

// zeromq.js itself: the next Observer lands on the freed address and throws.
const spare = new zmq.Dealer({ linger: 0 });
await leaveStaleEndpoints(1);
await collect();
try {
  void spare.events;
  result.raw = 'ok';
} catch (err) {
  result.raw = err.code;
}
spare.close();

// The same for the minion's channel, whose constructor opens its socket and monitor. Its own
// allocations come first, so a hundred freed addresses make sure one is left for its Observer.
await leaveStaleEndpoints(Number(process.argv[3] ?? 100));
await collect();
let channel;
try {
  channel = new MasterChannel({
    host: '127.0.0.1',
    port,
    identity: new MinionIdentity('web1', X25519Key.generate()),
    trust: () => {},
    role: 'cli',
    grains: {},
    timeoutMs: 5000,
    log,
  });
  result.channel = 'ok';
} catch (err) {
  result.channel = err.code ?? String(err);
}
if (channel && port) {
  try {
    result.ping = (await channel.request('ping')).value;
  } catch (err) {
    result.ping = err.code ?? String(err);
  }
  channel.close();
}
result.logged = logged;
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
