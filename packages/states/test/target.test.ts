import { describe, expect, it } from 'vitest';
import { matchTarget, TargetError, type MinionFacts } from '../src/target/match.js';
import { parseCompound } from '../src/target/compound.js';
import { ipInNetwork } from '../src/target/ip.js';

const web1: MinionFacts = {
  id: 'web1',
  grains: { os: 'Debian', os_family: 'Debian', roles: ['web', 'cache'], ec2: { tags: { env: 'prod' } }, ipv4: ['127.0.0.1', '10.1.2.3'] },
  pillar: () => ({ role: 'frontend', luks: { vg: 'vg_web' } }),
};
const db1: MinionFacts = { id: 'db1', grains: { os: 'Rocky', roles: ['db'], ipv4: ['192.168.7.9'] }, pillar: () => ({ role: 'database' }) };

const matches = (target: string, type: Parameters<typeof matchTarget>[1]) =>
  [web1, db1].filter((m) => matchTarget(target, type, m)).map((m) => m.id);

describe('match types', () => {
  it('pcre anchors at the start like re.match', () => {
    expect(matches('web', 'pcre')).toEqual(['web1']);
    expect(matches('eb1', 'pcre')).toEqual([]);
    expect(matches('(web|db)[0-9]+$', 'pcre')).toEqual(['web1', 'db1']);
  });

  it('grain matches nested keys and list elements with globs', () => {
    expect(matches('os:Deb*', 'grain')).toEqual(['web1']);
    expect(matches('roles:db', 'grain')).toEqual(['db1']);
    expect(matches('ec2:tags:env:prod', 'grain')).toEqual(['web1']);
    expect(matches('missing:x', 'grain')).toEqual([]);
    expect(matches('os:(Rocky|Alma)', 'grain_pcre')).toEqual(['db1']);
  });

  it('pillar and ipcidr', () => {
    expect(matches('luks:vg:vg_*', 'pillar')).toEqual(['web1']);
    expect(matches('10.1.0.0/16', 'ipcidr')).toEqual(['web1']);
    expect(matches('192.168.7.9', 'ipcidr')).toEqual(['db1']);
  });

  it('computes the pillar only when an expression needs it', () => {
    let calls = 0;
    const lazy: MinionFacts = { id: 'x', pillar: () => (calls++, {}) };
    matchTarget('G@os:Debian or x', 'compound', lazy);
    expect(calls).toBe(0);
    matchTarget('I@role:web', 'compound', lazy);
    expect(calls).toBe(1);
  });
});

describe('compound targets', () => {
  it.each([
    ['G@os:Debian and web*', ['web1']],
    ['web* or E@db[0-9]', ['web1', 'db1']],
    ['not G@os:Debian', ['db1']],
    ['G@os:Debian and not L@web1,web2', []],
    ['( web* or db* ) and not I@role:frontend', ['db1']],
    ['(web* or db*)', ['web1', 'db1']],
    ['S@10.0.0.0/8 or P@os:Rock.*', ['web1', 'db1']],
    ['J@role:data.* and db1', ['db1']],
    ['web1 or db1 and G@os:Debian', ['web1']],
  ])('%s selects %j', (target, expected) => {
    expect(matches(target, 'compound')).toEqual(expected);
  });

  it.each([
    ['web* and', 'ends where a target was expected'],
    ['( web*', "missing ')'"],
    ['web* )', "unexpected ')'"],
    ['X@foo', "unsupported matcher 'X@'"],
    ['', 'is empty'],
    ['and web*', "unexpected 'and'"],
  ])('rejects %j: %s', (target, why) => {
    expect(() => parseCompound(target)).toThrow(TargetError);
    expect(() => parseCompound(target)).toThrow(why);
  });

  it('says which expression was bad when a regex does not compile', () => {
    expect(() => matchTarget('E@web[', 'compound', web1)).toThrow(/target "web\[": invalid regular expression/);
  });
});

describe('ipInNetwork', () => {
  it.each([
    ['10.0.0.5', '10.0.0.0/24', true],
    ['10.0.1.5', '10.0.0.0/24', false],
    ['10.0.1.5', '0.0.0.0/0', true],
    ['10.0.0.5', '10.0.0.5', true],
    ['10.0.0.5', '10.0.0.0/33', false],
    ['fe80::1', '10.0.0.0/8', false],
  ])('%s in %s is %s', (ip, net, expected) => {
    expect(ipInNetwork(ip, net)).toBe(expected);
  });
});
