import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { writeKeyFile } from '@brine/common';
import { X25519Key } from '@brine/protocol';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Cluster, ROOT, runOnTty } from '../support/cluster.js';

// "A CLI that never surprises" (issue 13): option position, exit status, closed pipes,
// --version, colours, no stray keys, audited key actions, for both CLIs.

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts an ANSI colour code (SGR)
const SGR = /\x1b\[[0-9;]*m/;
const STACK = /^\s+at /m;

type Bin = 'master' | 'minion';

/** Runs a CLI to completion with extra environment; never throws on a non-zero exit. */
function run(bin: Bin, args: string[], env: NodeJS.ProcessEnv = {}) {
  return execa(join(BIN, bin), args, { reject: false, timeout: 30_000, env: { ...process.env, ...env } });
}

/** Runs a CLI whose stdout pipe is closed before it writes: what `| head -1` does to a long output. */
function runWithClosedStdout(bin: Bin, args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(join(BIN, bin), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.once('close', (code, signal) => done({ code, signal, stderr })));
}

const DEFAULT_MINION_PKI = '/etc/brine/pki/minion';

/**
 * Tests run as root: code that ignores -c would make keys in /etc/brine. Remembers what did
 * not exist before, and removes afterwards only that (never a directory that was already there).
 */
function guardDefaultPki(): { files: () => string[]; undo: () => void } {
  const made = ['/etc/brine', '/etc/brine/pki', DEFAULT_MINION_PKI].filter((d) => !existsSync(d));
  const before = existsSync(DEFAULT_MINION_PKI) ? readdirSync(DEFAULT_MINION_PKI) : [];
  const files = () => (existsSync(DEFAULT_MINION_PKI) ? readdirSync(DEFAULT_MINION_PKI) : []);
  const undo = () => {
    if (made.includes(DEFAULT_MINION_PKI))
      for (const f of files().filter((f) => !before.includes(f))) rmSync(join(DEFAULT_MINION_PKI, f), { force: true });
    for (const dir of [...made].reverse()) if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  };
  return { files, undo };
}

const version = (pkg: string) =>
  (JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { version: string }).version;

describe('the CLIs never surprise', () => {
  const cluster = new Cluster(PILLAR);
  let master: string;
  let minion: string;
  let jid: string;
  const defaultPki = guardDefaultPki();
  const untouched = defaultPki.files();

  beforeAll(async () => {
    await cluster.startMaster();
    master = cluster.masterConfig;
    const daemon = cluster.startMinion({ id: 'db1' });
    await daemon.waitFor('key not accepted yet; on the master run: master keys accept db1');
    expect((await cluster.keys('accept', 'db1')).exitCode).toBe(0);
    await daemon.waitFor('minion ready');
    minion = cluster.minionConfig('db1');
    const ping = await cluster.masterCmd('ping', 'db1', '--json');
    expect(ping.exitCode).toBe(0);
    jid = (JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as { jid: string }[])[0]!.jid;
  });
  afterAll(async () => {
    defaultPki.undo();
    await cluster.close();
  });

  it('takes -c before or after any subcommand, nested ones included', async () => {
    const same = async (bin: Bin, variants: string[][]) => {
      const results = await Promise.all(variants.map((args) => run(bin, args)));
      for (const [i, r] of results.entries()) expect({ args: variants[i], code: r.exitCode }).toEqual({ args: variants[i], code: 0 });
      const outputs = results.map((r) => String(r.stdout));
      expect(new Set(outputs).size).toBe(1);
      return outputs[0]!;
    };
    expect(
      await same('master', [
        ['-c', master, 'keys', 'list', '--json'],
        ['keys', 'list', '--json', '-c', master],
        ['keys', '-c', master, 'list', '--json'],
        ['keys', 'list', `--config=${master}`, '--json'],
      ]),
    ).toContain('"db1"');
    expect(
      await same('master', [
        ['-c', master, 'keys', 'fingerprint', 'db1'],
        ['keys', 'fingerprint', 'db1', '-c', master],
      ]),
    ).toContain('db1 (accepted)');
    expect(
      await same('master', [
        ['-c', master, 'jobs', 'show', jid, '--json'],
        ['jobs', 'show', jid, '--json', '-c', master],
      ]),
    ).toContain(jid);
    expect(
      await same('master', [
        ['-c', master, 'grains', 'db1', '--json'],
        ['grains', 'db1', '--json', '-c', master],
      ]),
    ).toContain('"db1"');
    const pings = await Promise.all([
      run('master', ['-c', master, 'ping', 'db1', '--json']),
      run('master', ['ping', '-c', master, 'db1', '--json']),
    ]);
    for (const p of pings) expect([p.exitCode, JSON.parse(String(p.stdout))]).toEqual([0, { db1: true }]);

    expect(
      await same('minion', [
        ['-c', minion, 'fingerprint'],
        ['fingerprint', '-c', minion],
      ]),
    ).toMatch(/^db1: /);
    expect(
      await same('minion', [
        ['-c', minion, 'pillar', 'items', '--json'],
        ['pillar', 'items', '--json', '-c', minion],
        ['pillar', '-c', minion, 'items', '--json'],
      ]),
    ).toContain('"site"');
    expect(
      await same('minion', [
        ['-c', minion, 'pillar', 'get', 'site'],
        ['pillar', 'get', 'site', '-c', minion],
      ]),
    ).toBe('e2e');
  });

  it('exits 2 on bad usage or bad config, from commander or not, without a stack trace', async () => {
    const badConfig = join(cluster.dir, 'bad.yml');
    writeFileSync(badConfig, 'no_such_option: 1\n');
    const cases: [Bin, string[]][] = [
      ['master', ['nosuch']],
      ['master', ['keys', 'nosuch', '-c', master]],
      ['master', ['keys', 'list', '--bogus', '-c', master]],
      ['master', ['--bogus']],
      ['master', ['ping', '-c', master]],
      ['master', ['jobs', 'show', '-c', master]],
      ['master', ['keys', 'accept', '-c', master]],
      ['master', ['-c', badConfig, 'keys', 'list']],
      ['master', ['ping', 'db1', '-c', join(cluster.dir, 'missing.yml')]],
      ['minion', ['nosuch']],
      ['minion', ['pillar', 'get', '-c', minion]],
      ['minion', ['pillar', 'items', '--bogus', '-c', minion]],
      ['minion', ['apply', '-c', minion]],
      ['minion', ['-c', badConfig, 'pillar', 'items']],
      ['minion', ['-c', badConfig, 'fingerprint']],
    ];
    const results = await Promise.all(cases.map(([bin, args]) => run(bin, args)));
    for (const [i, r] of results.entries()) {
      expect({ run: cases[i], code: r.exitCode, stack: STACK.test(String(r.stderr)) }).toEqual({ run: cases[i], code: 2, stack: false });
      expect(String(r.stderr)).not.toBe('');
    }
  });

  it('exits 1 when a state fails, a minion does not return or the master is not running; 0 on success', async () => {
    writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'ghost'), X25519Key.generate().publicKey, { secret: false });
    const downConfig = join(cluster.dir, 'master-down.yml');
    writeFileSync(downConfig, stringify({ sock_dir: join(cluster.dir, 'no-master-here') }));
    const roots = localRoots();
    const [failed, ghost, down, ok, localFailed, localOk] = await Promise.all([
      run('master', ['apply', 'db1', 'broken', '-c', master]),
      run('master', ['ping', 'ghost', '-c', master]),
      run('master', ['ping', '*', '-c', downConfig]),
      run('master', ['ping', 'db1', '-c', master]),
      run('minion', ['apply', '--local', 'broken', ...roots, '-c', minion]),
      run('minion', ['apply', '--local', 'ok', ...roots, '-c', minion]),
    ]);
    expect(failed.exitCode).toBe(1);
    expect(ghost.exitCode).toBe(1);
    expect(String(ghost.stdout)).toContain('Minion did not return');
    expect([down.exitCode, String(down.stderr)]).toEqual([1, expect.stringContaining('the master is not running')]);
    expect(ok.exitCode).toBe(0);
    expect(localFailed.exitCode).toBe(1);
    expect(localOk.exitCode).toBe(0);
    rmSync(join(cluster.dir, 'master-pki', 'minions', 'ghost'));
  });

  /** A file root with a state that succeeds (`ok`) next to the fixture that fails (`broken`), and an empty pillar. */
  function localRoots(): string[] {
    const states = join(cluster.dir, 'local-states');
    const pillar = join(cluster.dir, 'local-pillar');
    mkdirSync(states, { recursive: true });
    mkdirSync(pillar, { recursive: true });
    writeFileSync(join(states, 'ok.sls'), 'fine:\n  test.succeed_with_changes: []\n');
    writeFileSync(join(states, 'broken.sls'), readFileSync(join(ROOT, 'test', 'fixtures', 'states', 'broken.sls')));
    return ['--file-root', states, '--pillar-root', pillar];
  }

  it('ends quietly when its stdout is closed early (| head -1)', async () => {
    const runs: [Bin, string[]][] = [
      ['master', ['keys', 'list', '-c', master]],
      ['master', ['jobs', 'list', '-c', master]],
      ['master', ['ping', 'db1', '-c', master]],
      ['minion', ['pillar', 'items', '-c', minion]],
      ['minion', ['fingerprint', '-c', minion]],
    ];
    const results = await Promise.all(runs.map(([bin, args]) => runWithClosedStdout(bin, args)));
    // The cluster's configs log at trace, so stderr has log lines: only a failure is looked for.
    for (const [i, r] of results.entries()) {
      expect({ run: runs[i], code: r.code, signal: r.signal, failure: STACK.test(r.stderr) || /EPIPE|Error/.test(r.stderr) }).toEqual({
        run: runs[i],
        code: 0,
        signal: null,
        failure: false,
      });
    }
  });

  it('prints its version with --version, from package.json', async () => {
    const [m, m2, n] = await Promise.all([run('master', ['--version']), run('master', ['-V']), run('minion', ['--version'])]);
    expect([m.exitCode, String(m.stdout)]).toEqual([0, version('master')]);
    expect([m2.exitCode, String(m2.stdout)]).toEqual([0, version('master')]);
    expect([n.exitCode, String(n.stdout)]).toEqual([0, version('minion')]);
  });

  it('colours only on a terminal, and never with NO_COLOR or --no-color', async () => {
    const local = ['apply', '--local', 'ok', ...localRoots(), '-c', minion];
    const remote = ['apply', 'db1', 'broken', '-c', master];
    for (const [bin, args] of [
      ['minion', local],
      ['master', remote],
    ] as [Bin, string[]][]) {
      const [tty, noColorEnv, noColorFlag, piped] = await Promise.all([
        runOnTty(bin, args),
        runOnTty(bin, args, { NO_COLOR: '1' }),
        runOnTty(bin, ['--no-color', ...args]),
        run(bin, args),
      ]);
      expect(String(tty.stdout)).toMatch(SGR);
      expect(String(noColorEnv.stdout)).toContain('Succeeded:');
      expect(String(noColorEnv.stdout)).not.toMatch(SGR);
      expect(String(noColorFlag.stdout)).toContain('Succeeded:');
      expect(String(noColorFlag.stdout)).not.toMatch(SGR);
      expect(String(piped.stdout) + String(piped.stderr)).not.toMatch(SGR);
    }
  });

  it('minion fingerprint never creates a key pair, where -c points nor in the default place; keygen does, where -c points', async () => {
    const pki = join(cluster.dir, 'fresh-pki');
    const config = join(cluster.dir, 'fresh-minion.yml');
    writeFileSync(config, stringify({ id: 'fresh', master: '127.0.0.1:1', pki_dir: pki, key_protection: 'file' }));
    for (const args of [
      ['-c', config, 'fingerprint'],
      ['fingerprint', '-c', config],
    ]) {
      const r = await run('minion', args);
      expect(r.exitCode).toBe(2);
      expect(String(r.stderr)).toMatch(/no minion key in .*fresh-pki.*first start/);
      expect(existsSync(pki)).toBe(false);
      expect(defaultPki.files()).toEqual(untouched);
    }
    // Provisioning before the first start is asked for by name, and lands where -c says.
    const made = await run('minion', ['keygen', '-c', config]);
    // key_protection: file (the TPM path is tested in test/vm/tpm.vm.test.ts): keygen says where the secret half is.
    expect([made.exitCode, String(made.stderr)]).toEqual([0, `created a new key pair in ${pki} (the secret half in a 0600 file)`]);
    expect(readdirSync(pki).sort()).toEqual(['minion.key', 'minion.pub']);
    const [again, fp] = await Promise.all([run('minion', ['-c', config, 'keygen']), run('minion', ['fingerprint', '-c', config])]);
    expect([again.exitCode, String(again.stderr), String(again.stdout)]).toEqual([
      0,
      `kept the existing key pair in ${pki} (the secret half in a 0600 file)`,
      String(made.stdout),
    ]);
    expect([fp.exitCode, String(fp.stdout)]).toEqual([0, String(made.stdout)]);
    expect(defaultPki.files()).toEqual(untouched);
  });

  it("audits key actions and published jobs with the operator's user name and uid", async () => {
    writeKeyFile(join(cluster.dir, 'master-pki', 'minions_pre', 'newcomer'), X25519Key.generate().publicKey, { secret: false });
    for (const verb of ['accept', 'reject', 'delete']) expect((await cluster.keys(verb, 'newcomer')).exitCode).toBe(0);
    const operator = { user: userInfo().username, uid: process.getuid!() };
    for (const event of ['key_accepted', 'key_rejected', 'key_deleted']) {
      await cluster.waitForAudit((r) => r['event'] === event && r['minion'] === 'newcomer');
      expect(cluster.audit().find((r) => r['event'] === event && r['minion'] === 'newcomer')).toMatchObject({
        ...operator,
        fingerprint: expect.any(String),
      });
    }
    const published = cluster.audit().filter((r) => r['event'] === 'job_published');
    expect(published.length).toBeGreaterThan(0);
    for (const r of published) expect(r).toMatchObject(operator);
  });
});
