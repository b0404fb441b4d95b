// Worker process of storm.mjs, cluster-storm.mjs and master-memory.mjs: minions that stay connected as daemons do (each with
// its own key pair, session and socket), keep their session alive with pings, and on command
// all reconnect at once with a fresh socket and session and fetch their key: a boot storm.
import { createLogger } from '@brine/common';
import { ChannelError, FailoverChannel, MasterChannel, socketMonitorCounts, tryOrder } from '@brine/minion';
import zmq from 'zeromq';
import { addMinions, trustOnly } from './fleet-keys.mjs';

// Thousands of minions in one process: raise libzmq's per-context socket limit (default 1023).
zmq.context.maxSockets = 65_536;
const log = createLogger({ name: 'fleet', level: 'silent' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fleet = []; // { identity, channel, nextPing }
let master; // { port, trust, pingMs }
let pingErrors = 0;

process.on('message', async (m) => {
  if (m.type === 'keys') {
    process.send({ type: 'keys', keys: addMinions(fleet, m) });
  } else if (m.type === 'connect') {
    useMaster(m);
    process.send({ type: 'done', ...(await storm(m.startAt, (channel) => channel.connect())) });
    setInterval(pingDue, 1000).unref();
  } else if (m.type === 'storm') {
    // A storm without a connect first (bench/storm.mjs) names the master itself.
    if (m.ports) useMaster(m);
    process.send({ type: 'done', ...(await storm(m.startAt, fetchKey)) });
  } else if (m.type === 'stats') {
    process.send({
      type: 'stats',
      pingErrors,
      connected: fleet.filter((minion) => minion.channel?.established).length,
      monitor: socketMonitorCounts(),
    });
  }
});

/** The master to talk to (`port`), or the masters of a cluster (`ports`), and their pinned public key; how minions say hello, ping and give up. */
function useMaster(m) {
  master = {
    ports: m.ports ?? [m.port],
    trust: trustOnly(m.identity),
    pingMs: m.pingMs ?? 60_000,
    role: m.role ?? 'daemon',
    deadlineMs: m.deadlineMs ?? 180_000,
  };
}

/** A minion's link: to its one master, or over the cluster's in an order of its own, as `master_type: random` makes it. */
function openChannel(identity) {
  const options = { identity, trust: master.trust, role: master.role, grains: { id: identity.id }, timeoutMs: 10_000, log };
  if (master.ports.length === 1) return new MasterChannel({ ...options, host: '127.0.0.1', port: master.ports[0] });
  return new FailoverChannel({
    ...options,
    masters: tryOrder(
      master.ports.map((port) => ({ host: '127.0.0.1', port })),
      true,
    ),
  });
}

async function fetchKey(channel) {
  const { raw } = await channel.request('pillar.get', { path: 'luks:password', raw: true });
  raw.fill(0);
}

/**
 * Every minion drops its socket and session, opens new ones at `startAt` and runs `work`,
 * retrying as storm.mjs does. Minions still busy after the deadline are reported as stuck, by
 * where they are: without a session (handshake) or waiting for an answer in one (request).
 */
async function storm(startAt, work) {
  await sleep(Math.max(0, startAt - Date.now()));
  const latencies = [];
  let errors = 0;
  let retries = 0;
  let lastDoneAt = 0;
  const busy = new Set(fleet);
  const all = Promise.all(
    fleet.map(async (minion) => {
      minion.channel?.close();
      const channel = openChannel(minion.identity);
      minion.channel = channel;
      minion.nextPing = Date.now() + master.pingMs * (0.5 + Math.random() / 2);
      for (let attempt = 0; ; attempt++) {
        try {
          await work(channel);
          const now = Date.now();
          latencies.push(now - startAt);
          lastDoneAt = Math.max(lastDoneAt, now);
          busy.delete(minion);
          return;
        } catch (err) {
          // Closed by the next storm while stuck in this one, where it was counted.
          if (err.code === 'closed') return;
          if (!(err instanceof ChannelError) || attempt >= 5) {
            errors++;
            busy.delete(minion);
            return;
          }
          retries++;
          await sleep(200 * 2 ** attempt * (0.5 + Math.random() / 2));
        }
      }
    }),
  );
  await Promise.race([all, sleep(master.deadlineMs)]);
  const stuck = { handshake: 0, request: 0 };
  for (const minion of busy) stuck[minion.channel.established ? 'request' : 'handshake']++;
  return { latencies, errors, retries, lastDoneAt, stuck };
}

/** Keepalive as the daemon does it: a ping per minion every pingMs, jittered. */
function pingDue() {
  const now = Date.now();
  for (const minion of fleet) {
    if (!minion.channel || minion.nextPing > now) continue;
    minion.nextPing = now + master.pingMs * (0.5 + Math.random() / 2);
    minion.channel.request('ping').catch(() => pingErrors++);
  }
}
