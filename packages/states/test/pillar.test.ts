import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePillar } from '../src/pillar/compile.js';
import { jinjaYamlRenderer, yamlRenderer } from '../src/render/index.js';
import { EncryptedSecret, PillarSecret } from '../src/render/secret-tag.js';
import { pillarSecretProvider } from '../src/host/secrets.js';
import { scanGrainDependence } from '../src/pillar/grain-scan.js';
import { tree } from './helpers.js';

const compile = (root: string, id: string) => compilePillar({ roots: [root], minion: { id }, render: yamlRenderer() });

describe('compilePillar', () => {
  const root = tree({
    'top.sls': "base:\n  '*':\n    - common\n  'db*':\n    - db\n  'web1':\n    - match: list\n    - web\n",
    'common.sls': 'site: lab\nluks:\n  cipher: aes-xts-plain64\n',
    'db/init.sls': 'include:\n  - .keys\nluks:\n  password: db-secret\n',
    'db/keys.sls': 'luks:\n  password: overridden-by-include\n  vg: vg0\n',
    'web.sls': 'role: web\n',
  });

  it('gives each minion only what its top entries select, merged in order', () => {
    expect(compile(root, 'db1')).toMatchObject({
      errors: [],
      pillar: { site: 'lab', luks: { cipher: 'aes-xts-plain64', password: 'overridden-by-include', vg: 'vg0' } },
    });
    const web = compile(root, 'web1');
    expect(web.pillar).toEqual({ site: 'lab', luks: { cipher: 'aes-xts-plain64' }, role: 'web' });
    expect(JSON.stringify(web.pillar)).not.toContain('secret');
  });

  it('fails only the minions whose pillar uses a broken file, naming file and line', () => {
    const broken = tree({
      'top.sls': "base:\n  'a':\n    - good\n  'b':\n    - bad\n",
      'good.sls': 'x: 1\n',
      'bad.sls': 'x: 1\ny: [unclosed\n',
    });
    expect(compile(broken, 'a')).toMatchObject({ errors: [], pillar: { x: 1 } });
    const b = compile(broken, 'b');
    expect(b.errors).toHaveLength(1);
    expect(b.errors[0]).toMatch(/bad\.sls:\d+:\d+: YAML error/);
  });

  it('reports a missing SLS and a non-list top entry', () => {
    const missing = tree({ 'top.sls': "base:\n  '*':\n    - nope\n" });
    expect(compile(missing, 'x').errors[0]).toContain("Specified SLS 'nope'");
    const badTop = tree({ 'top.sls': "base:\n  '*': common\n" });
    expect(compile(badTop, 'x').errors[0]).toMatch(/top\.sls:2: target '\*' must have a list/);
  });

  it('sees an edit at once, without restarting', () => {
    const live = tree({ 'top.sls': "base:\n  '*':\n    - a\n", 'a.sls': 'v: 1\n' });
    const render = yamlRenderer();
    expect(compilePillar({ roots: [live], minion: { id: 'm' }, render }).pillar).toEqual({ v: 1 });
    writeFileSync(join(live, 'a.sls'), 'v: 2\n');
    expect(compilePillar({ roots: [live], minion: { id: 'm' }, render }).pillar).toEqual({ v: 2 });
  });

  it('nests an include under a key when asked', () => {
    const keyed = tree({ 'top.sls': "base:\n  '*':\n    - a\n", 'a.sls': 'include:\n  - b: {key: nested}\n', 'b.sls': 'v: 1\n' });
    expect(compile(keyed, 'm').pillar).toEqual({ nested: { v: 1 } });
  });
});

describe('pillar values marked !secret', () => {
  const SECRET = 'S3cret-0f-db1';
  const pillarRender = () => jinjaYamlRenderer({ roots: [], pillar: true });
  const compileSecret = (root: string, id = 'db1') => compilePillar({ roots: [root], minion: { id }, render: pillarRender() });

  it('stay out of the pillar templates see, and are in the raw one with their paths', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - luks\n",
      'luks.sls': `luks:\n  password: !secret ${SECRET}\n  pin: !secret 0042\n  vg: vg0\n  keys:\n    - !secret listed-secret\n    - public\n`,
    });
    const result = compileSecret(root);
    expect(result.errors).toEqual([]);
    expect(result.pillar).toEqual({ luks: { vg: 'vg0', keys: ['public'] } });
    expect(JSON.stringify(result.pillar)).not.toMatch(/S3cret|0042|listed-secret/);
    // Always a string, as a passphrase is, even when it looks like a number.
    expect(result.raw).toEqual({ luks: { password: SECRET, pin: '0042', vg: 'vg0', keys: ['listed-secret', 'public'] } });
    expect(result.secrets).toEqual(['luks:password', 'luks:pin', 'luks:keys:0']);
  });

  it('merge as values: a later file replaces a secret, and a secret replaces a value, whole', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - a\n    - b\n",
      'a.sls': `one: !secret first\ntwo: plain\nthree: !secret old\n`,
      'b.sls': `one: replaced\ntwo: !secret now-secret\nthree: !secret new\n`,
    });
    const result = compileSecret(root);
    expect(result.pillar).toEqual({ one: 'replaced' });
    expect(result.raw).toEqual({ one: 'replaced', two: 'now-secret', three: 'new' });
  });

  it('never show their value when printed or serialized', () => {
    const value = new PillarSecret(SECRET);
    expect(JSON.stringify({ value })).toBe('{"value":"<secret>"}');
    expect(`${value}`).toBe('<secret>');
  });

  it('are a YAML error on a mapping, and unknown in state files', () => {
    const root = tree({ 'top.sls': "base:\n  '*':\n    - bad\n", 'bad.sls': 'luks: !secret {password: x}\n' });
    expect(compileSecret(root).errors[0]).toMatch(/bad\.sls:1:\d+: YAML error: !secret marks one non-empty value/);
    const states = tree({ 'main.sls': 'x:\n  test.nop:\n    - name: !secret y\n' });
    expect(() => jinjaYamlRenderer({ roots: [states] })(join(states, 'main.sls'), { minion: { id: 'm' } })).toThrow(/unknown tag/);
  });
});

describe('pillar values held !encrypted', () => {
  const CIPHER = 'AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==';
  const compileFor = (root: string, id = 'db1') =>
    compilePillar({ roots: [root], minion: { id }, render: jinjaYamlRenderer({ roots: [], pillar: true }) });

  it('stay out of the pillar templates see, are still sealed in the raw one, and know their file', () => {
    const root = tree({ 'top.sls': "base:\n  '*':\n    - luks\n", 'luks.sls': `luks:\n  password: !encrypted ${CIPHER}\n  vg: vg0\n` });
    const result = compileFor(root);
    expect(result.errors).toEqual([]);
    expect(result.pillar).toEqual({ luks: { vg: 'vg0' } });
    expect(result.secrets).toEqual(['luks:password']);
    const sealed = (result.raw['luks'] as Record<string, unknown>)['password'];
    expect(sealed).toBeInstanceOf(EncryptedSecret);
    expect((sealed as EncryptedSecret).ciphertext).toBe(CIPHER);
    expect((sealed as EncryptedSecret).file).toBe(join(root, 'luks.sls'));
    expect(JSON.stringify(result.raw)).not.toContain(CIPHER);
    // Gatherers of a pillar's strings (the master's scrub of returns) see the ciphertext, never the file.
    expect(Object.values(sealed as object)).toEqual([CIPHER]);
  });

  it('are withheld like !secret when only grains the minion reported selected them', () => {
    const root = tree({
      'top.sls': "base:\n  'role:db':\n    - match: grain\n    - luks\n",
      'luks.sls': `luks:\n  password: !encrypted ${CIPHER}\n`,
    });
    const result = compilePillar({
      roots: [root],
      minion: { id: 'web1', grains: { role: 'db' } },
      render: jinjaYamlRenderer({ roots: [], pillar: true }),
    });
    expect(result.untrusted.map((u) => u.path)).toEqual(['luks:password']);
    expect(result.raw).toEqual({ luks: {} });
  });

  it('are refused by a local pillar, which cannot open them', async () => {
    const root = tree({ 'top.sls': "base:\n  '*':\n    - luks\n", 'luks.sls': `luks:\n  password: !encrypted ${CIPHER}\n` });
    await expect(pillarSecretProvider(compileFor(root).raw).fetch('luks:password')).rejects.toThrow(
      `it is !encrypted in ${join(root, 'luks.sls')}: only the master opens it`,
    );
  });

  it('are a YAML error on anything but one line of base64', () => {
    const root = tree({ 'top.sls': "base:\n  '*':\n    - bad\n", 'bad.sls': 'luks: !encrypted not base64!\n' });
    expect(compileFor(root).errors[0]).toMatch(/bad\.sls:1:\d+: YAML error: !encrypted holds one line of base64/);
  });
});

describe('grains the minion reported', () => {
  const SECRET = 'Gr41n-chosen';
  const render = () => jinjaYamlRenderer({ roots: [], pillar: true });
  const compileFor = (root: string, grains: Record<string, unknown>, extra: Partial<Parameters<typeof compilePillar>[0]> = {}) =>
    compilePillar({ roots: [root], minion: { id: 'web1', grains }, render: render(), ...extra });

  it('never choose whose pillar a minion gets: grains.id, opts.id and G@id are the authenticated id', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - node.{{ grains['id'] }}\n  'id:db2':\n    - match: grain\n    - db2extra\n",
      'node/web1.sls': "who: {{ opts['id'] }}\nalso: {{ grains.get('id') }}\n",
      'node/db2.sls': `who: db2\nluks:\n  password: !secret ${SECRET}\n`,
      'db2extra.sls': 'extra: db2\n',
    });
    const result = compileFor(root, { id: 'db2', os: 'Debian' });
    expect(result.errors).toEqual([]);
    expect(result.pillar).toEqual({ who: 'web1', also: 'web1' });
    expect(result.raw).toEqual({ who: 'web1', also: 'web1' });
    expect(result.renderedFor).toBe('web1');
    expect(result.untrusted).toEqual([]);
  });

  it('do not select a secret through a top entry matched on grains, unless trusted', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - common\n  'role:db':\n    - match: grain\n    - db\n",
      'common.sls': 'site: lab\n',
      'db.sls': `luks:\n  password: !secret ${SECRET}\n  vg: vg_db\n`,
    });
    const result = compileFor(root, { role: 'db' });
    expect(result.errors).toEqual([]);
    // Non-secret values still follow the grains, as in Salt.
    expect(result.pillar).toEqual({ site: 'lab', luks: { vg: 'vg_db' } });
    expect(result.raw).toEqual({ site: 'lab', luks: { vg: 'vg_db' } });
    expect(result.secrets).toEqual([]);
    expect(result.untrusted).toEqual([
      { path: 'luks:password', file: join(root, 'db.sls'), reason: expect.stringContaining(`${join(root, 'top.sls')}:4`) },
    ]);
    expect(result.untrusted[0]!.reason).toContain("'role:db' (match: grain)");
    expect(JSON.stringify(result)).not.toContain(SECRET);

    const trusted = compileFor(root, { role: 'db' }, { trustMinionGrains: true });
    expect(trusted.raw).toEqual({ site: 'lab', luks: { vg: 'vg_db', password: SECRET } });
    expect(trusted.untrusted).toEqual([]);
  });

  it('taint every grain-reading matcher: grain_pcre, ipcidr, compound G@/P@/S@ and a nodegroup using them', () => {
    const secretTop = (target: string, match: string) =>
      tree({ 'top.sls': `base:\n  '${target}':\n    - match: ${match}\n    - s\n`, 's.sls': `k: !secret ${SECRET}\nv: 1\n` });
    const grains = { role: 'db', ipv4: ['10.0.0.5'] };
    const nodegroups = { dbs: 'G@role:db', named: ['web1'] };
    for (const [target, match] of [
      ['role:d.', 'grain_pcre'],
      ['10.0.0.0/8', 'ipcidr'],
      ['web* and G@role:db', 'compound'],
      ['P@role:d.', 'compound'],
      ['S@10.0.0.0/8', 'compound'],
      ['dbs', 'nodegroup'],
      ['N@dbs', 'compound'],
    ]) {
      const result = compileFor(secretTop(target!, match!), grains, { minion: { id: 'web1', grains, nodegroups } });
      expect({ target, errors: result.errors, pillar: result.pillar, untrusted: result.untrusted.map((u) => u.path) }).toEqual({
        target,
        errors: [],
        pillar: { v: 1 },
        untrusted: ['k'],
      });
    }
    // Matching on the id alone, a list nodegroup or G@id: no grain the minion controls.
    for (const [target, match] of [
      ['web1', 'glob'],
      ['named', 'nodegroup'],
      ['N@named and not E@db.*', 'compound'],
      ['id:web1', 'grain'],
    ]) {
      const result = compileFor(secretTop(target!, match!), grains, { minion: { id: 'web1', grains, nodegroups } });
      expect({ target, raw: result.raw, untrusted: result.untrusted }).toEqual({ target, raw: { k: SECRET, v: 1 }, untrusted: [] });
    }
  });

  it('do not select a secret through a template that branches on them, nor through what such a file includes', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - byrole\n    - byid\n",
      'byrole.sls': `{% if grains['role'] == 'db' %}\ninclude:\n  - inc\nrole_pw: !secret ${SECRET}\n{% endif %}\nrole: {{ grains.role }}\n`,
      'inc.sls': `inc_pw: !secret ${SECRET}\n`,
      'byid.sls': `{% if grains.get('id') == 'web1' and grains['id'] == 'web1' and 'id' in grains %}\nid_pw: !secret ${SECRET}\n{% endif %}\n`,
    });
    const result = compileFor(root, { role: 'db' });
    expect(result.errors).toEqual([]);
    expect(result.pillar).toEqual({ role: 'db' });
    expect(result.raw).toEqual({ role: 'db', id_pw: SECRET });
    expect(result.untrusted.map((u) => [u.path, u.file])).toEqual([
      ['role_pw', join(root, 'byrole.sls')],
      ['inc_pw', join(root, 'inc.sls')],
    ]);
    expect(result.untrusted[0]!.reason).toContain('reads grains the minion reported');
    expect(result.untrusted[1]!.reason).toContain(`included by ${join(root, 'byrole.sls')}`);
  });

  it('taint through every way a template can read them: get, items, in, a loop', () => {
    for (const read of [
      "grains.get('role')",
      'grains.items() | length',
      "'role' in grains",
      '(grains | list) | length',
      "salt['grains.get']('role')",
    ]) {
      const root = tree({ 'top.sls': "base:\n  '*':\n    - s\n", 's.sls': `seen: {{ ${read} }}\nk: !secret ${SECRET}\n` });
      const result = compileFor(root, { role: 'db' });
      expect({ read, errors: result.errors, untrusted: result.untrusted.map((u) => u.path) }).toEqual({
        read,
        errors: [],
        untrusted: ['k'],
      });
    }
  });

  it('taint every entry of a top file whose template reads them', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - s\n{% if grains['role'] == 'db' %}\n    - t\n{% endif %}\n",
      's.sls': `k: !secret ${SECRET}\n`,
      't.sls': 'v: 1\n',
    });
    const result = compileFor(root, { role: 'db' });
    expect(result.untrusted).toEqual([
      { path: 'k', file: join(root, 's.sls'), reason: expect.stringContaining(`${join(root, 'top.sls')}: the top file reads grains`) },
    ]);
  });

  it('withhold a grain-selected secret that overrides a trusted one, rather than fall back to the trusted value', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - base\n  'role:db':\n    - match: grain\n    - db\n",
      'base.sls': 'pw: !secret default-pw\n',
      'db.sls': `pw: !secret ${SECRET}\n`,
    });
    const result = compileFor(root, { role: 'db' });
    expect(result.raw).toEqual({});
    expect(result.untrusted.map((u) => u.path)).toEqual(['pw']);
    expect(compileFor(root, {}).raw).toEqual({ pw: 'default-pw' });
  });
});

describe('scanGrainDependence', () => {
  it('names file and line of top matches and template reads that depend on grains, not on the id', () => {
    const root = tree({
      'top.sls': [
        'base:',
        "  '*':",
        '    - common',
        "  'role:db':",
        '    - match: grain',
        '    - db',
        "  'id:web1':",
        '    - match: grain',
        '    - web',
        "  'web* and G@os:Debian':",
        '    - match: compound',
        '    - deb',
        '  dbs:',
        '    - match: nodegroup',
        '    - db',
        '  named:',
        '    - match: nodegroup',
        '    - web',
        '',
      ].join('\n'),
      'common.sls': "id: {{ grains['id'] }} {{ grains.id }} {{ salt['grains.get']('id') }}\n# grains in a comment are not code\n",
      'sub/role.sls': "{% if grains.get('role') == 'db' %}\nx: 1\n{% endif %}\n",
    });
    const top = join(root, 'top.sls');
    expect(scanGrainDependence([root], { dbs: 'G@role:db', named: ['web1'] })).toEqual([
      { file: join(root, 'sub/role.sls'), line: 1, reason: 'the template reads a grain other than id' },
      { file: top, line: 4, reason: "target 'role:db' (match: grain) matches grains the minion reports" },
      { file: top, line: 10, reason: "target 'web* and G@os:Debian' (match: compound) matches grains the minion reports" },
      { file: top, line: 13, reason: "target 'dbs' (match: nodegroup) matches grains the minion reports" },
    ]);
  });
});
