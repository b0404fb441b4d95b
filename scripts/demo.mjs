#!/usr/bin/env node
// The main job on a built-in default: a master and a minion on 127.0.0.1 in a
// temporary directory, the minion's key accepted, its pillar fetched from pillar/.
// Pass --keep to leave the directory (configs, keys, logs, audit log) for a look.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const keep = process.argv.includes('--keep');
const dir = mkdtempSync(join(tmpdir(), 'brine-demo-'));
const children = [];

const say = (text) => process.stdout.write(`\n== ${text}\n`);
const show = (text) => process.stdout.write(text.replace(/^(?=.)/gm, '   '));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function start(name, config) {
  const child = spawn(bin(name), ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const state = { child, log: '' };
  child.stdout.on('data', (d) => (state.log += d));
  child.stderr.on('data', (d) => (state.log += d));
  children.push(state);
  return state;
}

async function waitFor(state, msg, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = state.log.split('\n').find((l) => l.includes(`"msg":"${msg}`));
    if (hit) return JSON.parse(hit);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for "${msg}"; log:\n${state.log}`);
}

function cli(name, args) {
  const r = spawnSync(bin(name), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

async function main() {
  const port = await freePort();
  const masterConfig = join(dir, 'master.yml');
  const minionConfig = join(dir, 'minion.yml');
  writeFileSync(
    masterConfig,
    [
      `interface: 127.0.0.1`,
      `port: ${port}`,
      `pki_dir: ${dir}/master-pki`,
      `pillar_roots: [${join(root, 'pillar')}]`,
      `audit_log: ${dir}/audit.jsonl`,
      `sock_group: ''`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    minionConfig,
    [`master: 127.0.0.1:${port}`, `id: db1`, `pki_dir: ${dir}/minion-pki`, `acceptance_wait_time: 1`, ''].join('\n'),
  );

  say(`master on 127.0.0.1:${port} (work dir ${dir})`);
  const master = start('master', masterConfig);
  const identity = await waitFor(master, 'master identity');
  show(`master fingerprint ${identity.fingerprint}\n`);
  await waitFor(master, 'master listening');

  say('minion db1 starts; its key is new, so the master holds it as pending');
  const t0 = Date.now();
  const minion = start('minion', minionConfig);
  await waitFor(minion, 'key not accepted yet');
  show(cli('master', ['keys', 'list', '-c', masterConfig]));
  show(cli('minion', ['fingerprint', '-c', minionConfig]));

  say('operator accepts it: master keys accept db1');
  show(cli('master', ['keys', 'accept', 'db1', '-c', masterConfig]));
  const ready = await waitFor(minion, 'minion ready');
  show(`minion authenticated ${Date.now() - t0} ms after it started (ready_ms ${ready.ready_ms} from its process start)\n`);

  say('minion fetches its own pillar from the master, live (minion pillar get luks:vg_name)');
  show(cli('minion', ['pillar', 'get', 'luks:vg_name', '-c', minionConfig]));
  say('the whole tree as the minion renders states with it: the passphrase is marked !secret, so it is not there');
  const items = cli('minion', ['pillar', 'items', '-c', minionConfig]);
  show(items);

  say('audit log on the master: who got what, never the value');
  const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  for (const r of audit)
    show(`${r.time} ${r.event}${r.minion ? ` ${r.minion}` : ''}${r.path ? ` ${r.path}` : ''}${r.peer ? ` from ${r.peer}` : ''}\n`);
  const secret = /password: (?:!secret )?(.*)/.exec(readFileSync(join(root, 'pillar', 'minions', 'db1.sls'), 'utf8'))[1];
  const leaked = [master.log, minion.log, JSON.stringify(audit), items].some((t) => t.includes(secret));
  say(
    leaked
      ? 'FAIL: the passphrase appeared in a log or in the pillar tree'
      : 'ok: the passphrase appears in no daemon log, not in the audit log, not in the pillar tree',
  );
  if (leaked) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  for (const { child } of children) child.kill('SIGTERM');
  if (keep) process.stdout.write(`\nkept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
