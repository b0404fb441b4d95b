import { SecretUnavailableError, type SecretProvider } from '@brine/states';
import { ChannelError, masterUnreachable, type MasterLink } from './channel.js';

/**
 * Failures that say nothing about the secret itself, only that the master could not be asked
 * (besides masterUnreachable; `cluster_stale`: a cluster master cut off from etcd, which
 * another master may answer).
 */
const NOT_ASKED = new Set(['session_lost', 'closed', 'pending', 'revoked', 'cluster_stale']);

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
        if (masterUnreachable(err) || NOT_ASKED.has(err.code)) provider.unreachable = true;
        throw new SecretUnavailableError(path, err.code === 'not_found' ? "no such key in this minion's pillar" : err.message);
      }
    },
  };
  return provider;
}
