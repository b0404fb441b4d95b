import { SecretUnavailableError, type SecretProvider } from '@brine/states';
import { ChannelError, masterUnavailable, type MasterLink } from '../channel.js';

/** Failures that say nothing about the secret itself, only that the master could not be asked (besides masterUnavailable). */
const NOT_ASKED = new Set(['session_lost', 'closed', 'pending', 'revoked']);

/**
 * Pillar values fetched from the master one at a time, at the moment a state
 * needs them, as raw bytes the state zeroes after use. `unreachable` records
 * whether a fetch failed because the master could not be reached, which makes a
 * failed run worth retrying.
 */
export function masterSecrets(channel: MasterLink): SecretProvider & { unreachable: boolean } {
  const provider = {
    unreachable: false,
    async fetch(path: string): Promise<Buffer> {
      try {
        const { raw } = await channel.request('pillar.get', { path, raw: true });
        if (!raw) throw new SecretUnavailableError(path, 'the master sent no value');
        return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      } catch (err) {
        if (!(err instanceof ChannelError)) throw err;
        if (masterUnavailable(err) || NOT_ASKED.has(err.code)) provider.unreachable = true;
        throw new SecretUnavailableError(path, err.code === 'not_found' ? "no such key in this minion's pillar" : err.message);
      }
    },
  };
  return provider;
}
