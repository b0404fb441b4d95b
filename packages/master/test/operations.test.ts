import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditLog, AuditRecord } from '../src/audit.js';
import { Operations, type OpContext } from '../src/operations.js';
import { PillarService } from '../src/pillar-service.js';
import type { Session } from '../src/sessions.js';
import type { Dispatcher } from '../src/jobs/dispatcher.js';
import type { Json } from '@brine/protocol';
import { encryptValue, loadPillarCrypto, pillarPublicKey } from '../src/pillar-crypto.js';

const SECRET = 'l1st-s3cret';

function pillarTree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ops-pillar-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

/** Operations over a real pillar tree, with the audit log captured. */
function operations(root: string, trustMinionGrains = false, pkiDir?: string) {
  const records: AuditRecord[] = [];
  const audit = { write: (r: AuditRecord) => records.push(r), refuse: (r: AuditRecord) => records.push(r) } as unknown as AuditLog;
  const ops = new Operations(
    new PillarService([root], { trustMinionGrains, nodegroups: {} }, pkiDir),
    audit,
    { fingerprint: 'f' },
    {} as never,
    {} as never,
    {} as never,
  );
  const ctx = (grains: Record<string, string>): OpContext => ({
    session: { minionId: 'web1', fingerprint: 'fp', grains, role: 'cli' } as unknown as Session,
    peer: '127.0.0.1',
  });
  const get = (grains: Record<string, string>, path: string, raw = true) =>
    ops.run({ t: 'req', id: 1, op: 'pillar.get', args: { path, raw } }, ctx(grains));
  return {
    records,
    get,
    items: (grains: Record<string, string>) => ops.run({ t: 'req', id: 1, op: 'pillar.items', args: {} }, ctx(grains)),
  };
}

const tree = pillarTree({
  'top.sls': "base:\n  '*':\n    - keys\n  'role:db':\n    - match: grain\n    - db\n",
  'keys.sls': `luks:\n  keys:\n    - public\n    - !secret ${SECRET}\n`,
  'db.sls': `db:\n  password: !secret ${SECRET}\n`,
});

describe('pillar.get', () => {
  it('audits an element of a list fetched by index as secret, however the index is written', () => {
    const { records, get } = operations(tree);
    for (const path of ['luks:keys:1', 'luks:keys:01']) {
      expect(Buffer.from(get({}, path).raw!).toString()).toBe(SECRET);
    }
    expect(get({}, 'luks:keys:0').raw).toBeDefined();
    expect(records.map((r) => [r.path, r.secret])).toEqual([
      ['luks:keys:1', true],
      ['luks:keys:01', true],
      ['luks:keys:0', false],
    ]);
  });

  it('refuses a secret that only minion-reported grains selected, naming the file, and audits the refusal', () => {
    const { records, get } = operations(tree);
    const refused = get({ role: 'db' }, 'db:password');
    expect(refused.error?.code).toBe('secret_untrusted_grains');
    expect(refused.error?.message).toContain(join(tree, 'db.sls'));
    expect(refused.error?.message).toMatch(/nodegroups.*pillar_trust_minion_grains/);
    expect(get({ role: 'db' }, 'db:password', false).error?.code).toBe('secret_untrusted_grains');
    expect(records).toEqual([
      expect.objectContaining({
        event: 'pillar_withheld',
        minion: 'web1',
        rendered_for: 'web1',
        path: 'db:password',
        reason: expect.stringContaining('db.sls'),
      }),
      expect.objectContaining({ event: 'pillar_withheld', path: 'db:password' }),
    ]);
    expect(JSON.stringify(records)).not.toContain(SECRET);

    const trusted = operations(tree, true);
    expect(Buffer.from(trusted.get({ role: 'db' }, 'db:password').raw!).toString()).toBe(SECRET);
  });

  it('records in every delivery the id the pillar was rendered for', () => {
    const { records, get, items } = operations(tree);
    items({ id: 'db2' });
    get({ id: 'db2' }, 'luks:keys:1');
    expect(records.map((r) => [r.event, r.minion, r.rendered_for])).toEqual([
      ['pillar_delivered', 'web1', 'web1'],
      ['pillar_delivered', 'web1', 'web1'],
    ]);
  });
});

// The values below are sealed as the suite is collected.
await loadPillarCrypto();

describe('!encrypted values', () => {
  const pki = mkdtempSync(join(tmpdir(), 'ops-pki-'));
  const { publicKey } = pillarPublicKey(pki);
  const seal = (path: string, minion?: string) => encryptValue(Buffer.from(SECRET), { path, ...(minion && { minion }) }, publicKey);
  const sealed = pillarTree({
    'top.sls': "base:\n  '*':\n    - luks\n",
    'luks.sls':
      `luks:\n  password: !encrypted ${seal('luks:password', 'web1')}\n` +
      `  moved: !encrypted ${seal('luks:password', 'web1')}\n` +
      `  other: !encrypted ${seal('luks:other', 'db1')}\n` +
      `  shared: !encrypted ${seal('luks:shared')}\n`,
  });

  it('are opened only for the raw fetch of the state that names them, and audited as secret', () => {
    const { records, get, items } = operations(sealed, false, pki);
    expect(Buffer.from(get({}, 'luks:password').raw!).toString()).toBe(SECRET);
    expect(Buffer.from(get({}, 'luks:shared').raw!).toString()).toBe(SECRET);
    expect(get({}, 'luks:password', false).error?.code).toBe('secret');
    expect(items({}).value).toEqual({ luks: {} });
    expect(records.filter((r) => r.op === 'pillar.get').map((r) => [r.path, r.secret])).toEqual([
      ['luks:password', true],
      ['luks:shared', true],
    ]);
    expect(JSON.stringify(records)).not.toContain(SECRET);
  });

  it("refuse a ciphertext moved to another key or copied from another minion's file, naming file and key", () => {
    const { records, get } = operations(sealed, false, pki);
    const moved = get({}, 'luks:moved');
    expect(moved.error?.code).toBe('pillar_decrypt_failed');
    expect(moved.error?.message).toContain(`${join(sealed, 'luks.sls')}: pillar key 'luks:moved' is !encrypted`);
    expect(moved.error?.message).toContain("encrypted for pillar key 'luks:password', not 'luks:moved'");
    expect(get({}, 'luks:other').error?.message).toContain("encrypted for minion 'db1', not 'web1'");
    expect(records.map((r) => r.event)).toEqual(['pillar_decrypt_refused', 'pillar_decrypt_refused']);
    expect(JSON.stringify(records)).not.toContain(SECRET);
  });

  it('are refused, not an internal error, when the pillar key file is unusable', () => {
    const broken = mkdtempSync(join(tmpdir(), 'ops-pki-broken-'));
    pillarPublicKey(broken);
    writeFileSync(join(broken, 'pillar.key'), 'not a key\n', { mode: 0o600 });
    const { get } = operations(sealed, false, broken);
    expect(get({}, 'luks:password').error).toEqual({
      code: 'pillar_decrypt_failed',
      message: expect.stringContaining(`the master cannot use its pillar key: ${join(broken, 'pillar.key')}: not a 32-byte base64 key`),
    });
  });

  it('do not open without the pillar key', () => {
    const { get } = operations(sealed, false, mkdtempSync(join(tmpdir(), 'ops-pki-empty-')));
    expect(get({}, 'luks:password').error?.message).toMatch(/sealed to pillar key [0-9a-f]{16}, which this master does not hold/);
  });
});

describe('job.begin', () => {
  /** Operations whose dispatcher records what it is asked to. */
  function begin(args: Record<string, Json>) {
    const recorded: unknown[][] = [];
    const dispatcher = {
      record: (...a: unknown[]) => (recorded.push(a), Promise.resolve({ jid: '20261124150000000001' })),
    } as unknown as Dispatcher;
    const ops = new Operations({} as never, {} as never, { fingerprint: 'f' }, {} as never, dispatcher, {} as never);
    const session = { minionId: 'db1', fingerprint: 'fp', grains: {}, role: 'daemon' } as unknown as Session;
    return { out: ops.run({ t: 'req', id: 1, op: 'job.begin', args }, { session, peer: '127.0.0.1' }), recorded };
  }
  const apply = { mods: ['luks'], test: false };

  it("records a startup or minion run for the session's minion alone, startup when the minion names no origin", async () => {
    for (const [origin, expected] of [
      [undefined, 'startup'],
      ['startup', 'startup'],
      ['minion', 'minion'],
    ] as const) {
      const { out, recorded } = begin({ fun: 'state.apply', args: apply, ...(origin && { origin }) });
      expect((await out.later)?.value).toBe('20261124150000000001');
      expect(recorded).toEqual([[{ fun: 'state.apply', args: apply, target: 'db1', tgt_type: 'list' }, ['db1'], expected]]);
    }
  });

  it('refuses another origin, and arguments that are not bounded SLS names and a test flag', () => {
    const refused = [
      { fun: 'state.apply', args: apply, origin: 'master' },
      { fun: 'state.apply', args: apply, origin: null },
      { fun: 'state.apply', args: { ...apply, pillar: { x: 1 } } },
      { fun: 'state.apply', args: { mods: ['../etc'], test: false } },
      { fun: 'state.apply', args: { mods: [1], test: false } },
      { fun: 'state.apply', args: { mods: Array.from({ length: 65 }, () => 'a'), test: false } },
      { fun: 'state.apply', args: { mods: [], test: 'yes' } },
      { fun: 'cmd.run', args: apply },
    ];
    for (const args of refused) {
      const { out, recorded } = begin(args as Record<string, Json>);
      expect([args, out.error?.code]).toEqual([args, 'bad_request']);
      expect(recorded).toEqual([]);
    }
    expect(begin({ fun: 'state.apply', args: apply, origin: 'master' }).out.error?.message).toBe(
      "job.begin: 'origin' must be 'startup' or 'minion'",
    );
  });
});
