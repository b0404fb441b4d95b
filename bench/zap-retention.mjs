#!/usr/bin/env node
// Memory a ZeroMQ ROUTER keeps after connections close, with and without a ZAP handler, with
// zeromq.js alone (no Brine code): the control for the master's half-handshake and PLAIN-name
// floods in bench/adversary.mjs. Per variant, a server process binds a ROUTER (PLAIN, with or
// without a ZAP domain and handler); a client process opens N connections at once, holds them
// for 2 s and closes them; the server's anonymous RSS growth is read after each round.
// Usage: node bench/zap-retention.mjs [--n 1500] [--rounds 3]
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import zmq from 'zeromq';

const self = fileURLToPath(import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const anonMiB = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const exited = (child) => new Promise((resolve) => child.on('exit', resolve));

async function client(port, n) {
  zmq.context.maxSockets = 65_536;
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = new zmq.Dealer({ plainUsername: `u${i}`, plainPassword: 'x', linger: 0 });
    s.connect(`tcp://127.0.0.1:${port}`);
    sockets.push(s);
  }
  await sleep(2000);
  for (const s of sockets) s.close();
  await sleep(300);
}

async function server(withZap, n, rounds) {
  if (withZap) {
    const zap = new zmq.Router();
    await zap.bind('inproc://zeromq.zap.01');
    void (async () => {
      for await (const [route, empty, version, id] of zap) await zap.send([route, empty, version, id, '200', 'OK', '', '']);
    })();
  }
  const router = new zmq.Router({ plainServer: true, ...(withZap && { zapDomain: 'bench' }) });
  await router.bind('tcp://127.0.0.1:0');
  const port = Number(/:(\d+)$/.exec(router.lastEndpoint)[1]);
  void (async () => {
    for await (const _ of router);
  })();
  const base = anonMiB();
  const retained = [];
  for (let r = 0; r < rounds; r++) {
    await exited(fork(self, ['client', String(port), String(n)]));
    await sleep(2000);
    retained.push(Math.round((anonMiB() - base) * 10) / 10);
  }
  return retained;
}

const [role, a, b, c] = process.argv.slice(2);
if (role === 'client') {
  await client(Number(a), Number(b));
  process.exit(0);
} else if (role === 'server') {
  process.send(await server(a === 'zap', Number(b), Number(c)));
  process.exit(0);
} else {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const n = arg('n', '1500');
  const rounds = arg('rounds', '3');
  const results = {};
  for (const variant of ['zap', 'no_zap']) {
    const child = fork(self, ['server', variant, n, rounds]);
    results[variant] = await new Promise((resolve) => child.once('message', resolve));
    await exited(child);
  }
  console.log(JSON.stringify({ n: Number(n), rounds: Number(rounds), retained_mib_after_each_round: results }, null, 2));
  console.log(`\n| ROUTER (PLAIN) | retained MiB after each round of ${n} connections |\n|---|---|`);
  for (const [variant, list] of Object.entries(results)) console.log(`| ${variant === 'zap' ? 'with a ZAP handler' : 'without ZAP'} | ${list.join(' / ')} |`);
}
