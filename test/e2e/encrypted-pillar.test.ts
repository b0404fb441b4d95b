import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Cluster } from '../support/cluster.js';

const DB1 = 'DB1-ENCRYPTED-4c1d8e';
const WEB1 = 'WEB1-ENCRYPTED-9a7b3f';
const PLAINTEXTS = [DB1, WEB1];

/** Every file under `dir` but those under `skip`, as text. */
function filesUnder(dir: string, skip: string[] = []): { file: string; text: string }[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((file) => !skip.some((s) => file.startsWith(s)) && statSync(file).isFile())
    .map((file) => ({ file, text: readFileSync(file, 'latin1') }));
}

describe('!encrypted pillar values, end to end', () => {
  const pillar = mkdtempSync(join(tmpdir(), 'brine-e2e-sealed-pillar-'));
  const cluster = new Cluster(pillar, { auto_accept: true });
  const out = join(cluster.dir, 'out');
  const sealed: Record<string, string> = {};

  /** `master secret …` with the value on stdin, as an operator pipes it. */
  const secret = (args: string[], input: string) =>
    execa(join(BIN, 'master'), ['secret', ...args, '-c', cluster.masterConfig], { input, reject: false, timeout: 30_000 }).then((r) => {
      cluster.cliStderr.push(String(r.stderr));
      return r;
    });

  const encrypt = async (value: string, path: string, minion: string) => {
    const r = await secret(['encrypt', '--path', path, '--minion', minion], `${value}\n`);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(/^!encrypted [A-Za-z0-9+/]+={0,2}$/);
    return String(r.stdout).trim();
  };

  const unlock = async (id: string) => {
    rmSync(join(out, `${id}.key`), { force: true });
    return cluster.masterCmd('apply', id, 'unlock', '--json');
  };

  beforeAll(async () => {
    mkdirSync(out);
    await cluster.writeMasterConfig();
    sealed['db1'] = await encrypt(DB1, 'luks:password', 'db1');
    sealed['web1'] = await encrypt(WEB1, 'luks:password', 'web1');
    writeFileSync(join(pillar, 'top.sls'), "base:\n  '*':\n    - nodes.{{ grains['id'] }}\n");
    mkdirSync(join(pillar, 'nodes'));
    writeFileSync(
      join(pillar, 'nodes', 'db1.sls'),
      `# db1's LUKS key, sealed to the master\nluks:\n  password: ${sealed['db1']}\n  moved: ${sealed['db1']}\n`,
    );
    writeFileSync(join(pillar, 'nodes', 'web1.sls'), `luks:\n  password: ${sealed['web1']}\n`);
    // A third minion whose file holds db1's ciphertext, copied over.
    writeFileSync(join(pillar, 'nodes', 'app1.sls'), `luks:\n  password: ${sealed['db1']}\n`);
    await cluster.startMaster();
    const minions = ['db1', 'web1', 'app1'].map((id) => cluster.startMinion({ id, extra: { grains: { out_dir: out } } }));
    await Promise.all(minions.map((m) => m.waitFor('minion ready')));
  });
  afterAll(async () => {
    await cluster.close();
    rmSync(pillar, { recursive: true, force: true });
  });

  it("a state gets its minion's key through the raw pillar.get, and only that minion's", async () => {
    for (const [id, plain] of [
      ['db1', DB1],
      ['web1', WEB1],
    ] as const) {
      const r = await unlock(id);
      expect(r.exitCode, String(r.stdout)).toBe(0);
      expect(readFileSync(join(out, `${id}.key`), 'utf8')).toBe(`${plain}\n`);
      expect(String(r.stdout)).not.toContain(plain);
    }
    await cluster.waitForAudit((r) => r['event'] === 'pillar_delivered' && r['minion'] === 'web1' && r['path'] === 'luks:password');
    expect(cluster.audit()).toContainEqual(
      expect.objectContaining({ event: 'pillar_delivered', minion: 'db1', op: 'pillar.get', path: 'luks:password', secret: true }),
    );
  });

  it("refuses a ciphertext copied into another minion's file, naming file and key, and delivers nothing", async () => {
    const r = await unlock('app1');
    expect(r.exitCode).toBe(1);
    const message =
      join(pillar, 'nodes', 'app1.sls') + ": pillar key 'luks:password' is !encrypted, and it was encrypted for minion 'db1', not 'app1'";
    expect(String(r.stdout)).toContain(message);
    expect(() => statSync(join(out, 'app1.key'))).toThrow();
    expect(cluster.audit()).toContainEqual(
      expect.objectContaining({
        event: 'pillar_decrypt_refused',
        minion: 'app1',
        path: 'luks:password',
        reason: expect.stringContaining(message),
      }),
    );
  });

  it('pillar.items and pillar.get without raw show none of it', async () => {
    const items = await cluster.pillar('db1', ['items', '--json']);
    expect(JSON.parse(String(items.stdout))).toEqual({ luks: {} });
    const get = await cluster.pillar('db1', ['get', 'luks:password']);
    expect(get.exitCode).toBe(1);
    expect(String(get.stderr)).toContain('key_pillar');
  });

  it('rekey: values open under the new key; the old ciphertexts do not, the old key being gone', async () => {
    const before = readFileSync(join(pillar, 'nodes', 'db1.sls'), 'utf8');
    const r = await cluster.masterCmd('secret', 'rekey');
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(/^4 values sealed to pillar key [0-9a-f]{16}; pillar key [0-9a-f]{16} is gone$/m);
    const after = readFileSync(join(pillar, 'nodes', 'db1.sls'), 'utf8');
    expect(after).not.toContain(sealed['db1']);
    expect(after.replace(/!encrypted \S+/g, 'X')).toBe(before.replace(/!encrypted \S+/g, 'X'));
    // The running master opens the new ones at once.
    const again = await unlock('db1');
    expect(again.exitCode, String(again.stdout)).toBe(0);
    expect(readFileSync(join(out, 'db1.key'), 'utf8')).toBe(`${DB1}\n`);
    if (process.getuid?.() === 0) {
      const old = await secret(['decrypt'], sealed['db1']!);
      expect(old.exitCode).toBe(1);
      expect(String(old.stderr)).toMatch(/sealed to pillar key [0-9a-f]{16}, which this master does not hold/);
      const now = await secret(['decrypt'], after.match(/!encrypted \S+/)![0]);
      expect(now.exitCode, String(now.stderr)).toBe(0);
      expect(String(now.stdout)).toBe(DB1);
      expect(cluster.audit()).toContainEqual(expect.objectContaining({ event: 'secret_decrypted', path: 'luks:password', minion: 'db1' }));
    }
    expect(cluster.audit()).toContainEqual(expect.objectContaining({ event: 'secret_rekeyed', count: 4 }));
  });

  it("no plaintext in the pillar tree, the master's files, the audit log, or any log", async () => {
    const audit = await secret(['audit'], '');
    expect(audit.exitCode, String(audit.stdout)).toBe(0);
    // Everything the test run wrote but the files the states were told to write.
    const files = [...filesUnder(pillar), ...filesUnder(cluster.dir, [out])];
    expect(files.map((f) => f.file)).toContain(cluster.auditLog);
    expect(files.some((f) => f.file.endsWith('pillar.key'))).toBe(true);
    const logs = [...cluster.daemons.map((d) => d.output), ...cluster.cliStderr];
    for (const plain of PLAINTEXTS) {
      expect(files.filter((f) => f.text.includes(plain)).map((f) => f.file)).toEqual([]);
      expect(logs.filter((l) => l.includes(plain))).toEqual([]);
    }
    expect(cluster.master!.lines().filter((l) => String(l['msg']).includes('plaintext in pillar_roots'))).toEqual([]);
  });

  it('a plaintext value under a secret-like key is listed by audit and warned about at master start, in one line', async () => {
    const legacy = join(pillar, 'legacy.sls');
    writeFileSync(legacy, '# not in the top file, still in the repository\nold:\n  db_password: plain-but-not-a-real-one\n');
    try {
      const audit = await secret(['audit'], '');
      expect(audit.exitCode).toBe(1);
      expect(String(audit.stdout)).toBe(`${legacy}:3: db_password is plaintext`);
      const other = cluster.sibling();
      try {
        const master = await other.startMaster();
        const warned = master.lines().filter((l) => String(l['msg']).includes('plaintext in pillar_roots'));
        expect(warned).toEqual([expect.objectContaining({ level: 40, count: 1, first: [`${legacy}:3: db_password`] })]);
        expect(master.output).not.toContain('plain-but-not-a-real-one');
      } finally {
        await other.close();
      }
    } finally {
      rmSync(legacy);
    }
  });
});
