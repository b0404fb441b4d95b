import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VethNamespace } from '../support/netns.js';
import { attackCluster, establishedTo, eventually } from './support.js';

/**
 * Peers whose link is cut stop answering anything; the master must let their
 * connections (and what it holds for them) go within peer_timeout. The peers
 * live in a network namespace of the test's own, joined to the host by a veth
 * pair, so the link can really be cut.
 */
const NS = new VethNamespace('adv', 213);
const HOST_IP = NS.hostIp;

describe('vanished peers', () => {
  const cluster = attackCluster({ interface: HOST_IP, peer_timeout: 4 });

  beforeAll(async () => {
    NS.create();
    await cluster.startMaster();
  });
  afterAll(async () => {
    await cluster.close();
    NS.remove();
  });

  it('releases the connections of peers whose link was cut, within peer_timeout', async () => {
    // 40 connections that each sent a HELLO, then sit idle, as a half-finished handshake flood leaves them.
    const holder = execa('ip', [...NS.exec.slice(1), process.execPath, '--input-type=module', '-e', HOLDER], {
      env: { MASTER: `${HOST_IP}:${cluster.port}` },
      reject: false,
    });
    try {
      let ready = false;
      holder.stdout!.on('data', (d: Buffer) => (ready ||= d.toString().includes('ready')));
      expect(await eventually(() => ready, 15_000), 'holder ready').toBe(true);
      expect(await eventually(() => establishedTo(cluster.port) >= 40, 5_000), `established: ${establishedTo(cluster.port)}`).toBe(true);
      NS.cut();
      const cut = Date.now();
      // peer_timeout is 4 s here: keepalive probes go unanswered and the kernel drops each connection.
      const released = await eventually(() => establishedTo(cluster.port) === 0, 12_000);
      expect(released, `still established: ${establishedTo(cluster.port)}`).toBe(true);
      expect(Date.now() - cut).toBeLessThan(9_000);
    } finally {
      // Nothing may keep running in the namespace, or it (and its link) outlives the test.
      holder.kill('SIGKILL');
      await holder;
    }
  });
});

/** Opens 40 connections, sends a HELLO on each, says ready, then idles. */
const HOLDER = `
import * as zmq from 'zeromq';
import { randomBytes } from 'node:crypto';
const sockets = [];
for (let i = 0; i < 40; i++) {
  const id = randomBytes(16).toString('hex');
  const s = new zmq.Dealer({ routingId: id, plainUsername: id, plainPassword: 'x', linger: 0 });
  s.connect('tcp://' + process.env.MASTER);
  await s.send(Buffer.concat([Buffer.from([0xb1, 0x11]), randomBytes(32)]));
  await s.receive();
  sockets.push(s);
}
console.log('ready');
setInterval(() => {}, 1000);
`;
