// Worker process of failover.mjs: minions that each hold a daemon session with the first of two
// masters of one cluster, as daemons with `master: [A, B]` and `master_type: failover` do. Once
// A is killed, each moves to B on its own (FailoverChannel) and fetches its key there; the worker
// reports, per minion, when the new session came and when the key did.
import { createLogger } from '@brine/common';
import { FailoverChannel } from '@brine/minion';
import zmq from 'zeromq';
import { addMinions, trustOnly } from './fleet-keys.mjs';

zmq.context.maxSockets = 65_536;
const log = createLogger({ name: 'failover', level: 'silent' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fleet = []; // { identity, channel, sessionAt, keyAt }
let armed = false;
let errors = 0;
let retries = 0;

process.on('message', async (m) => {
  if (m.type === 'keys') {
    process.send({ type: 'keys', keys: addMinions(fleet, m) });
  } else if (m.type === 'connect') {
    await Promise.all(fleet.map((minion) => connect(minion, m)));
    armed = true;
    process.send({ type: 'connected', on: fleet.map(({ channel }) => channel.master) });
  } else if (m.type === 'killed') {
    const cpu0 = process.cpuUsage();
    const deadline = Date.now() + m.deadlineMs;
    while (fleet.some((minion) => !(minion.keyAt > m.at)) && Date.now() < deadline) await sleep(50);
    const done = fleet.filter((minion) => minion.keyAt > m.at);
    process.send({
      type: 'report',
      session_ms: done.map((minion) => minion.sessionAt - m.at),
      key_ms: done.map((minion) => minion.keyAt - m.at),
      on: fleet.map(({ channel }) => channel.master),
      stuck: fleet.length - done.length,
      errors,
      retries,
      cpu_ms: (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpu0)),
    });
  }
});

/** A session with the first master that lets it in, as the daemon's connect loop makes one. */
async function connect(minion, m) {
  const masters = m.ports.map((port) => ({ host: '127.0.0.1', port }));
  minion.channel = new FailoverChannel({
    masters,
    identity: minion.identity,
    trust: trustOnly(m.identity),
    role: 'daemon',
    grains: { id: minion.identity.id },
    timeoutMs: 10_000,
    log,
  });
  minion.channel.onSession(() => armed && void failedOver(minion));
  for (let attempt = 0; ; attempt++) {
    try {
      return await minion.channel.connect();
    } catch {
      await sleep(200 * 2 ** Math.min(attempt, 5));
    }
  }
}

/** A new session after the kill: the key is fetched through it, as a startup state waiting for it would. */
async function failedOver(minion) {
  minion.sessionAt ??= Date.now();
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const { raw } = await minion.channel.request('pillar.get', { path: 'luks:password', raw: true });
      raw.fill(0);
      minion.keyAt = Date.now();
      return;
    } catch {
      retries++;
      await sleep(100 * 2 ** attempt);
    }
  }
  errors++;
}
