import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attackCluster, establishedTo, eventually } from './support.js';

/**
 * Peers whose link is cut stop answering anything; the master must let their
 * connections (and what it holds for them) go within peer_timeout. The peers
 * live in a network namespace of the test's own, joined to the host by a veth
 * pair, so the link can really be cut.
 */
const NS = `brine-adv-${process.pid}`;
/** A /30 of its own per run, so a link a crashed run left behind cannot take this run's traffic. */
const SUBNET = `10.213.${process.pid % 250}`;
const HOST_IP = `${SUBNET}.1`;
const PEER_IP = `${SUBNET}.2`;
/** The veth pair: host end and peer end (interface names stay within 15 characters). */
const HOST_IF = `bv${process.pid}h`;
const PEER_IF = `bv${process.pid}p`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

describe('vanished peers', () => {
  const cluster = attackCluster({ interface: HOST_IP, peer_timeout: 4 });

  beforeAll(async () => {
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', PEER_IF);
    ip('link', 'set', PEER_IF, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
    ip('link', 'set', HOST_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${PEER_IP}/30`, 'dev', PEER_IF);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', PEER_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
    await cluster.startMaster();
  });
  afterAll(async () => {
    await cluster.close();
    // The pair goes with the namespace only once nothing runs in it; delete the host end for sure.
    for (const args of [
      ['netns', 'del', NS],
      ['link', 'del', HOST_IF],
    ]) {
      try {
        ip(...args);
      } catch {
        // already gone
      }
    }
  });

  it('releases the connections of peers whose link was cut, within peer_timeout', async () => {
    // 40 connections that each sent a HELLO, then sit idle, as a half-finished handshake flood leaves them.
    const holder = execa('ip', ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', HOLDER], {
      env: { MASTER: `${HOST_IP}:${cluster.port}` },
      reject: false,
    });
    try {
      let ready = false;
      holder.stdout!.on('data', (d: Buffer) => (ready ||= d.toString().includes('ready')));
      expect(await eventually(() => ready, 15_000), 'holder ready').toBe(true);
      expect(await eventually(() => establishedTo(cluster.port) >= 40, 5_000), `established: ${establishedTo(cluster.port)}`).toBe(true);
      ip('netns', 'exec', NS, 'ip', 'link', 'set', PEER_IF, 'down');
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
