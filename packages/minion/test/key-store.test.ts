import { describe, expect, it } from 'vitest';
import { type KeyStoreFacts, keyStorePlan } from '../src/key-store.js';

const facts = (f: Partial<KeyStoreFacts>): KeyStoreFacts => ({
  protection: 'auto',
  tpm: false,
  plainExists: false,
  sealedExists: false,
  ...f,
});

describe('where the minion key is kept', () => {
  it('auto: the TPM where there is one, a plain file where there is none', () => {
    expect(keyStorePlan(facts({ tpm: true }))).toEqual({ kind: 'tpm2', migrate: false });
    expect(keyStorePlan(facts({ tpm: false }))).toEqual({ kind: 'file' });
    expect(keyStorePlan(facts({ tpm: false, plainExists: true }))).toEqual({ kind: 'file' });
  });

  it('a plain key found where the TPM is used is sealed (migrate), once', () => {
    expect(keyStorePlan(facts({ tpm: true, plainExists: true }))).toEqual({ kind: 'tpm2', migrate: true });
    expect(keyStorePlan(facts({ protection: 'tpm2', tpm: true, plainExists: true }))).toEqual({ kind: 'tpm2', migrate: true });
    // Sealed already, a plain file left beside it (restored from a backup): the sealed key wins, nothing is re-sealed.
    expect(keyStorePlan(facts({ tpm: true, plainExists: true, sealedExists: true }))).toEqual({ kind: 'tpm2', migrate: false });
  });

  it('a sealed key is never silently replaced by a new plain one where the TPM is gone', () => {
    const plan = keyStorePlan(facts({ tpm: false, sealedExists: true }));
    expect(plan).toMatchObject({ kind: 'refuse', code: 'tpm_unavailable' });
    expect(plan.kind === 'refuse' && plan.message).toContain('cannot authenticate here');
  });

  it('tpm2 asked for on a machine without one is refused with what to change', () => {
    const plan = keyStorePlan(facts({ protection: 'tpm2', tpm: false }));
    expect(plan).toMatchObject({ kind: 'refuse', code: 'tpm_unavailable' });
    expect(plan.kind === 'refuse' && plan.message).toContain('key_protection: file or auto');
  });

  it('file: a plain file even with a TPM; a key that exists only sealed is refused, not regenerated', () => {
    expect(keyStorePlan(facts({ protection: 'file', tpm: true }))).toEqual({ kind: 'file' });
    expect(keyStorePlan(facts({ protection: 'file', tpm: true, sealedExists: true }))).toMatchObject({
      kind: 'refuse',
      code: 'minion_key_sealed',
    });
  });
});
