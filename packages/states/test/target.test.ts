import { describe, expect, it } from 'vitest';
import { matchTarget } from '../src/target/match.js';
import { TargetError, type MinionFacts } from '../src/target/types.js';
import { parseCompound } from '../src/target/compound.js';
import { nodegroupProblems } from '../src/target/nodegroups.js';
import { ipInNetwork, NetworkSet, networkProblem, plainAddress } from '../src/target/ip.js';

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
    ['fd00::5', 'fd00::/64', true],
    ['fd00:0:0:1::5', 'fd00::/64', false],
    ['fd00::5', 'fd00::5', true],
    ['fd00::5', '::/0', true],
    ['10.0.0.5', 'fd00::/8', false],
    ['::ffff:10.0.0.5', '10.0.0.0/24', true],
    ['::ffff:10.0.1.5', '10.0.0.0/24', false],
    ['10.0.0.5', '::ffff:10.0.0.0/120', true],
    ['10.0.0.5', 'fd00::/129', false],
    ['not-an-ip', '0.0.0.0/0', false],
  ])('%s in %s is %s', (ip, net, expected) => {
    expect(ipInNetwork(ip, net)).toBe(expected);
  });
});

describe('networks', () => {
  it.each([
    ['10.0.0.0/24', undefined],
    ['fd00::/64', undefined],
    ['127.0.0.2', undefined],
    ['10.0.0.0/33', /prefix length must be 0 to 32/],
    ['fd00::/200', /prefix length must be 0 to 128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/24/1', /not an IPv4 or IPv6/],
    ['10.0.0.256/8', /not an IPv4 or IPv6/],
    ['web1', /'web1' is not an IPv4 or IPv6/],
  ])('%s: %s', (net, problem) => {
    if (problem === undefined) expect(networkProblem(net)).toBeUndefined();
    else expect(networkProblem(net)).toMatch(problem);
  });

  it('holds IPv4 and IPv6 networks together and refuses a bad one by name', () => {
    const set = new NetworkSet(['127.0.0.2/32', 'fd00::/64']);
    expect(set.has('127.0.0.2')).toBe(true);
    expect(set.has('::ffff:127.0.0.2')).toBe(true);
    expect(set.has('127.0.0.1')).toBe(false);
    expect(set.has('fd00::1')).toBe(true);
    expect(set.has('[fd00::1]')).toBe(true);
    expect(set.has('fd01::1')).toBe(false);
    expect(() => new NetworkSet(['10.0.0.0/40'])).toThrow(/'10.0.0.0\/40'/);
  });

  it('reads an IPv4-mapped IPv6 peer as its IPv4 address', () => {
    expect(plainAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(plainAddress('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(plainAddress('[fd00::1]')).toBe('fd00::1');
    expect(plainAddress('fe80::1%eth0')).toBe('fe80::1');
  });
});

describe('S@ matches IPv6 grains', () => {
  const v6: MinionFacts = { id: 'v6', grains: { ipv4: ['127.0.0.1'], ipv6: ['::1', 'fd00::10'] } };
  it.each([
    ['S@fd00::/64', true],
    ['S@fd01::/64', false],
    ['S@127.0.0.0/8 and S@fd00::10', true],
  ])('%s', (expr, expected) => {
    expect(matchTarget(expr, 'compound', v6)).toBe(expected);
  });
});

describe('the authenticated id', () => {
  const liar: MinionFacts = { id: 'web1', grains: { id: 'db2', os: 'Debian' } };

  it('wins over an id grain the minion reported, for every matcher on the id', () => {
    expect(matchTarget('id:db2', 'grain', liar)).toBe(false);
    expect(matchTarget('id:web1', 'grain', liar)).toBe(true);
    expect(matchTarget('id:web.', 'grain_pcre', liar)).toBe(true);
    expect(matchTarget('G@id:db2 or P@id:db', 'compound', liar)).toBe(false);
    expect(matchTarget('G@id:web1 and G@os:Debian', 'compound', liar)).toBe(true);
  });
});

describe('nodegroups', () => {
  const nodegroups = {
    webs: 'web* and G@os:Debian',
    dbs: ['db1', 'db2'],
    both: 'N@webs or N@dbs',
    loop: 'N@loop2',
    loop2: 'web1 and N@loop',
    tokens: ['G@os:Rocky', 'or', 'web1'],
  };
  const facts = (m: MinionFacts): MinionFacts => ({ ...m, nodegroups });
  const inGroup = (target: string, type: Parameters<typeof matchTarget>[1] = 'nodegroup') =>
    [web1, db1].filter((m) => matchTarget(target, type, facts(m))).map((m) => m.id);

  it('match a compound string or a list of ids, by name or as N@ in a compound', () => {
    expect(inGroup('webs')).toEqual(['web1']);
    expect(inGroup('dbs')).toEqual(['db1']);
    expect(inGroup('both')).toEqual(['web1', 'db1']);
    expect(inGroup('tokens')).toEqual(['web1', 'db1']);
    expect(inGroup('N@dbs and not web*', 'compound')).toEqual(['db1']);
    expect(parseCompound('N@webs')).toEqual({ kind: 'term', type: 'nodegroup', expr: 'webs' });
  });

  it('name an unknown group and a group that refers to itself', () => {
    expect(() => inGroup('nope')).toThrow(/unknown nodegroup 'nope' \(defined: both, dbs, loop, loop2, tokens, webs\)/);
    expect(() => inGroup('N@nope', 'compound')).toThrow(TargetError);
    expect(() => matchTarget('dbs', 'nodegroup', web1)).toThrow(
      /unknown nodegroup 'dbs' \(defined: none; set nodegroups in the master config\)/,
    );
    expect(() => inGroup('loop')).toThrow(/nodegroup 'loop' refers to itself: loop -> loop2 -> loop/);
  });
});

describe('nodegroupProblems', () => {
  it('lists syntax errors, unknown N@ groups and cycles, and nothing for sound groups', () => {
    expect(nodegroupProblems({ a: 'web* and N@b', b: ['db1', 'db2'], c: ['G@os:Debian', 'or', 'N@a'] })).toEqual([]);
    expect(nodegroupProblems({ bad: 'web* and', lost: 'N@gone', x: 'N@y', y: 'db1 or N@x' })).toEqual([
      expect.stringMatching(/^nodegroup 'bad': target "web\* and": ends where a target was expected/),
      "nodegroup 'lost': N@gone names no nodegroup",
      "nodegroup 'x' refers to itself: x -> y -> x",
      "nodegroup 'y' refers to itself: y -> x -> y",
    ]);
  });
});
