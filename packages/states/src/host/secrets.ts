import { BrineError } from '@brine/common';
import { lookupPath } from '../merge.js';
import type { Redactor } from '../redact.js';
import { EncryptedSecret } from '../render/secret-tag.js';

/**
 * Where a state gets a pillar value at the moment it needs it. The minion daemon
 * asks the master for that one value; local apply reads the locally compiled
 * pillar. The caller owns the returned buffer and zeroes it after use.
 */
export interface SecretProvider {
  fetch(path: string): Promise<Buffer>;
}

export class SecretUnavailableError extends BrineError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super('secret_unavailable', `pillar value '${path}' is not available: ${reason}`);
  }
}

/** Secrets served from a compiled pillar (`a:b:c` paths, as pillar.get takes). */
export function pillarSecretProvider(pillar: Record<string, unknown>): SecretProvider {
  return {
    async fetch(path) {
      const hit = lookupPath(pillar, path);
      if (!hit.found) throw new SecretUnavailableError(path, "no such key in this minion's pillar");
      const v = hit.value;
      if (v instanceof EncryptedSecret) throw new SecretUnavailableError(path, `it is !encrypted in ${v.file}: only the master opens it`);
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return Buffer.from(String(v), 'utf8');
      throw new SecretUnavailableError(path, 'it is not a string or number');
    },
  };
}

/** A provider that serves nothing, for runs that were given none. */
export const noSecrets: SecretProvider = {
  async fetch(path) {
    throw new SecretUnavailableError(path, 'this run has no secret provider');
  },
};

/** Every fetched value is registered for redaction before the state sees it. */
export function redactingSecrets(provider: SecretProvider, redactor: Redactor): SecretProvider {
  return {
    async fetch(path) {
      const value = await provider.fetch(path);
      redactor.add(value);
      return value;
    },
  };
}
