import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMinionConfig } from '../src/config.js';
import { masterLabel, parseMasterAddress, tryOrder } from '../src/masters.js';

const configFile = (text: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'minion-config-')), 'minion');
  writeFileSync(file, `id: m1\n${text}`);
  return file;
};

describe('master addresses', () => {
  it('reads host, host:port, [v6], [v6]:port and a bare IPv6 address', () => {
    expect(parseMasterAddress('brine', 4506)).toEqual({ host: 'brine', port: 4506 });
    expect(parseMasterAddress('10.0.0.2:4510', 4506)).toEqual({ host: '10.0.0.2', port: 4510 });
    expect(parseMasterAddress('[2001:db8::1]', 4506)).toEqual({ host: '2001:db8::1', port: 4506 });
    expect(parseMasterAddress('[2001:db8::1]:4510', 4506)).toEqual({ host: '2001:db8::1', port: 4510 });
    expect(parseMasterAddress('fe80::a00:27ff:fedc:ba98', 4506)).toEqual({ host: 'fe80::a00:27ff:fedc:ba98', port: 4506 });
    expect(masterLabel({ host: '2001:db8::1', port: 4510 })).toBe('[2001:db8::1]:4510');
  });

  it('refuses what is none of them', () => {
    for (const bad of ['', 'a b', 'host:0', 'host:70000', 'host:port', '[::1']) expect(parseMasterAddress(bad, 4506), bad).toBeUndefined();
  });

  it('keeps the listed order, or shuffles it once, every order as likely', () => {
    const masters = ['a', 'b', 'c'].map((host) => ({ host, port: 1 }));
    expect(tryOrder(masters, false)).toEqual(masters);
    const firsts = new Map<string, number>();
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let i = 0; i < 3000; i++) {
      const first = tryOrder(masters, true, random)[0]!.host;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const host of ['a', 'b', 'c']) expect(firsts.get(host)).toBeGreaterThan(900);
  });
});

describe('minion config for several masters', () => {
  it('takes a string or a list, with master_port for entries without a port', () => {
    expect(loadMinionConfig(configFile('master: one')).master).toEqual([{ host: 'one', port: 4506 }]);
    const config = loadMinionConfig(configFile('master: [one, "two:4510"]\nmaster_port: 4600\nmaster_type: failover\n'));
    expect(config.master).toEqual([
      { host: 'one', port: 4600 },
      { host: 'two', port: 4510 },
    ]);
    expect(config.master_type).toBe('failover');
  });

  it('refuses an empty list and a malformed entry, naming the file', () => {
    const empty = configFile('master: []\n');
    expect(() => loadMinionConfig(empty)).toThrow(`${empty}: option 'master' must name at least one master`);
    expect(() => loadMinionConfig(configFile('master: [ok, "bad:port"]\n'))).toThrow(`option 'master': "bad:port" is not host`);
    expect(() => loadMinionConfig(configFile('master_type: distributed\n'))).toThrow(
      "option 'master_type' must be one of str, failover, random",
    );
  });

  it('reads master_alive_interval, or keepalive (its old name), default 60 s; not both', () => {
    expect(loadMinionConfig(configFile('')).master_alive_interval).toBe(60);
    expect(loadMinionConfig(configFile('master_alive_interval: 2\n')).master_alive_interval).toBe(2);
    expect(loadMinionConfig(configFile('keepalive: 30\n')).master_alive_interval).toBe(30);
    expect(() => loadMinionConfig(configFile('keepalive: 30\nmaster_alive_interval: 30\n'))).toThrow(
      'set master_alive_interval only: keepalive is its old name',
    );
  });
});
