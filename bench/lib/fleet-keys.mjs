// What every simulated minion of the bench workers needs: an id and key pair, and the master's key to pin.
import { fingerprint, MinionIdentity, X25519Key } from '@brine/protocol';

/** Adds `count` minions (fleet<first>…, fresh key pairs) to `fleet`; says [id, base64 public key] of all of them, for the master to accept. */
export function addMinions(fleet, { count, first }) {
  for (let i = 0; i < count; i++) fleet.push({ identity: new MinionIdentity(`fleet${first + i}`, X25519Key.generate()) });
  return fleet.map(({ identity }) => [identity.id, Buffer.from(identity.publicKey).toString('base64')]);
}

/** A MasterTrust that accepts only this master identity (base64, as in the master's master.pub). */
export function trustOnly(identityBase64) {
  const pinned = fingerprint(new Uint8Array(Buffer.from(identityBase64, 'base64')));
  return (identity) => {
    if (fingerprint(identity) !== pinned) throw new Error('wrong master');
  };
}
