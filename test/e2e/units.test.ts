import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterConfig } from '@brine/master';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cluster.js';

const MASTER_UNIT = join(ROOT, 'packages', 'master', 'systemd', 'brine-master.service');
const MINION_UNIT = join(ROOT, 'packages', 'minion', 'systemd', 'brine-minion.service');

/** `systemd-analyze security --offline=true`: scores the unit file as written, with no systemd running. */
function exposure(unit: string): { score: number; report: string } {
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
  if (r.error) throw new Error(`systemd-analyze is needed to score the units (Debian: apt-get install systemd): ${r.error.message}`);
  const report = `${r.stdout}${r.stderr}`;
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(report);
  if (!m) throw new Error(`no exposure level in the output of systemd-analyze security ${unit} (exit ${r.status}):\n${report}`);
  return { score: Number(m[1]), report };
}

/** Values of one `Key=` in the [Service] (or any) section, in order. */
const settings = (unit: string, key: string) =>
  [...readFileSync(unit, 'utf8').matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

describe('the shipped systemd units', () => {
  it('master: exposure at most 2.0', () => {
    const { score, report } = exposure(MASTER_UNIT);
    expect(score, report).toBeLessThanOrEqual(2.0);
  });

  // The goal was 5.0. The minion mounts volumes for the whole host, so it must
  // stay in the host's mount namespace: every Protect*/Private* setting that would give
  // it its own (ProtectSystem, ProtectHome, PrivateTmp, PrivateDevices, ProtectKernel*,
  // ProtectControlGroups, ProtectProc) would hide its mounts. 5.7 is what is left (docs/SECURITY.md).
  it('minion: exposure at most 5.7', () => {
    const { score, report } = exposure(MINION_UNIT);
    expect(score, report).toBeLessThanOrEqual(5.7);
  });

  it('run the installed binaries and point at the installed README', () => {
    expect(settings(MASTER_UNIT, 'ExecStart')).toEqual(['/usr/bin/master -c /etc/brine/master']);
    expect(settings(MINION_UNIT, 'ExecStart')).toEqual(['/usr/bin/minion -c /etc/brine/minion']);
    for (const [unit, pkg] of [
      [MASTER_UNIT, 'brine-master'],
      [MINION_UNIT, 'brine-minion'],
    ] as const) {
      expect(settings(unit, 'Documentation')).toEqual([
        `file:///usr/share/doc/${pkg}/README.md`,
        `file:///usr/share/doc/${pkg}/SECURITY.md`,
      ]);
    }
  });

  it("master: keeps the allocator settings and no MemoryDenyWriteExecute (V8's JIT writes code)", () => {
    expect(settings(MASTER_UNIT, 'Environment')).toEqual([
      'LD_PRELOAD=libjemalloc.so.2',
      'MALLOC_CONF=dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2,background_thread:true',
      'MALLOC_ARENA_MAX=2',
      'MALLOC_MMAP_THRESHOLD_=4096',
    ]);
    expect(settings(MASTER_UNIT, 'MemoryDenyWriteExecute')).toEqual([]);
  });

  it("master: the config's default paths are the directories the unit gives it, its group is sock_group's default", () => {
    const dir = mkdtempSync(join(tmpdir(), 'units-'));
    writeFileSync(join(dir, 'master.yml'), '{}\n');
    const config = loadMasterConfig(join(dir, 'master.yml'));
    const one = (key: string) => {
      const values = settings(MASTER_UNIT, key);
      expect(values, key).toHaveLength(1);
      return values[0]!;
    };
    expect(config.pki_dir.startsWith(`/var/lib/${one('StateDirectory')}/`)).toBe(true);
    expect(config.cachedir.startsWith(`/var/cache/${one('CacheDirectory')}/`)).toBe(true);
    expect(config.audit_log.startsWith(`/var/log/${one('LogsDirectory')}/`)).toBe(true);
    expect(config.sock_dir).toBe(`/run/${one('RuntimeDirectory')}`);
    expect(one('RuntimeDirectoryMode')).toBe('0750');
    expect(one('User')).toBe('brine');
    expect(one('Group')).toBe(config.sock_group);
  });
});
