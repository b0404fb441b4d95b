// A master and minion daemons started from the real CLIs in a temporary directory, for benchmarks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnCli } from './brine-master.mjs';
import { freePort, waitForLog } from './proc.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export class BenchCluster {
  constructor(files = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'brine-bench-'));
    this.children = [];
    for (const [rel, text] of Object.entries({
      'pillar/top.sls': "base:\n  '*':\n    - common\n",
      'pillar/common.sls': 'site: bench\n',
      ...files,
    })) {
      mkdirSync(dirname(join(this.dir, rel)), { recursive: true });
      writeFileSync(join(this.dir, rel), text);
    }
    mkdirSync(join(this.dir, 'states'), { recursive: true });
  }

  get masterConfig() {
    return join(this.dir, 'master.yml');
  }

  async startMaster() {
    this.port = await freePort();
    const d = this.dir;
    writeFileSync(
      this.masterConfig,
      [
        `interface: 127.0.0.1`,
        `port: ${this.port}`,
        `pki_dir: ${d}/pki`,
        `pillar_roots: [${d}/pillar]`,
        `file_roots: [${d}/states]`,
        `audit_log: ${d}/audit.jsonl`,
        `sock_dir: ${d}/run`,
        `cachedir: ${d}/cache`,
        `sock_group: ''`,
        'auto_accept: true',
        // Every bench minion (real or simulated) connects from 127.0.0.1: more than one address's default share.
        'max_pending_keys_per_address: 1000000',
        'max_connections_per_address: 1000000',
        '',
      ].join('\n'),
    );
    this.master = this.spawn('master', ['-c', this.masterConfig]);
    await waitForLog(() => this.master.log, 'master listening');
    return this.master;
  }

  /** Starts `count` minion daemons (ids m000…) and waits until all are ready. */
  async startMinions(count) {
    const minions = [];
    for (let i = 0; i < count; i++) {
      const id = `m${String(i).padStart(3, '0')}`;
      const cfg = join(this.dir, `${id}.yml`);
      writeFileSync(
        cfg,
        [
          `master: 127.0.0.1:${this.port}`,
          `id: ${id}`,
          `pki_dir: ${this.dir}/${id}/pki`,
          `cachedir: ${this.dir}/${id}/cache`,
          `sock_dir: ${this.dir}/${id}/run`,
          'log_level: info',
          '',
        ].join('\n'),
      );
      minions.push(this.spawn('minion', ['-c', cfg]));
    }
    await Promise.all(minions.map((m) => waitForLog(() => m.log, 'minion ready', 120_000)));
    return minions;
  }

  /** BRINE_BENCH_NODE_FLAGS (e.g. --cpu-prof) go to the master's node, as in brine-master.mjs. */
  spawn(name, args) {
    const flags = name === 'master' ? (process.env.BRINE_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean) : [];
    const state = spawnCli(root, name, args, flags);
    this.children.push(state);
    return state;
  }

  /** The master stops cleanly (it flushes its job cache; a --cpu-prof profile is written); minions are killed. */
  async close() {
    for (const { child } of this.children) child.kill(child === this.master?.child ? 'SIGTERM' : 'SIGKILL');
    await Promise.all(this.children.map((c) => c.exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
