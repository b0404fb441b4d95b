// luks.key_rotated with the real cryptsetup on LUKS1 and LUKS2 image files: header work (luksFormat,
// luksAddKey, luksKillSlot, open --test-passphrase) needs no device-mapper, so it runs on the host.
// It proves what the scripted runner in system-modules.test.ts assumes: cryptsetup reads the previous
// key and the new key from one stdin, split by --keyfile-size, and luksKillSlot takes the new key.
// The crash-safety run, through the CLI in a guest, is test/vm/rotation.vm.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostFacts } from '../src/facts/fact.js';
import { localFileServer } from '../src/host/files.js';
import { nodeFs, type HostFs } from '../src/host/fs.js';
import { processRunner } from '../src/host/runner.js';
import { pillarSecretProvider } from '../src/host/secrets.js';
import { builtinModules } from '../src/modules/builtin.js';
import { findFunction } from '../src/modules/registry.js';
import type { Args, ChangePlan, StateContext, StateFunction } from '../src/modules/types.js';
import { fixtureTemplates } from './fake-host.js';

const OLD = 'header-old passphrase\nwith a newline';
const NEW = 'header-new passphrase, longer than the old one';

const hasCryptsetup = (() => {
  try {
    execFileSync('cryptsetup', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'brine-luks-header-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rotate = findFunction(builtinModules, 'luks', 'key_rotated') as unknown as StateFunction<Args>;
const runner = processRunner();

/** The image file stands for a block device: the state checks that its device is one. */
const asBlock = (image: string): HostFs => ({
  ...nodeFs,
  stat: async (p) => {
    const st = await nodeFs.stat(p);
    return p === image && st ? { ...st, type: 'block' } : st;
  },
});

function context(image: string): StateContext {
  const quiet = () => undefined;
  const fs = asBlock(image);
  const secrets = pillarSecretProvider({ luks: { key: NEW, previous: OLD } });
  return {
    test: false,
    facts: hostFacts({ runner, fs, secrets }),
    runner,
    fs,
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    secrets,
    files: localFileServer([]),
    templates: fixtureTemplates(),
    holdsSecret: () => false,
    state: { id: 'data-key', sls: 'rotate', name: image },
  };
}

const opens = (image: string, key: string): boolean => {
  try {
    execFileSync('cryptsetup', ['open', '--test-passphrase', '--key-file=-', image], { input: key, stdio: ['pipe', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!hasCryptsetup)('luks.key_rotated on image files with the real cryptsetup', () => {
  it.each(['luks1', 'luks2'])(
    '%s: rotates to the new key; the previous key no longer opens; a second run finds nothing to do',
    async (type) => {
      const image = join(dir, `${type}.img`);
      writeFileSync(image, '');
      execFileSync('truncate', ['-s', '20M', image]);
      execFileSync(
        'cryptsetup',
        ['luksFormat', '-q', '--type', type, '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file=-', image],
        { input: OLD },
      );
      const args = {
        name: image,
        key_pillar: 'luks:key',
        previous_key_pillar: 'luks:previous',
        pbkdf: 'pbkdf2',
        pbkdf_force_iterations: 1000,
      } as unknown as Args;
      const plan = await rotate.inspect(args, context(image));
      expect(plan).toMatchObject({ kind: 'change', changes: { added: 'a free key slot', removed: 'key slot 0' } });
      const out = await rotate.apply(args, plan as ChangePlan, context(image));
      expect(out).toEqual({
        result: true,
        comment: `Rotated the LUKS key of ${image}: added the new key (pillar luks:key) in key slot 1; removed key slot 0 (the previous key's)`,
        changes: { added: 'key slot 1', removed: 'key slot 0' },
      });
      expect([opens(image, NEW), opens(image, OLD)]).toEqual([true, false]);
      expect(await rotate.inspect(args, context(image))).toMatchObject({ kind: 'correct' });
    },
  );
});
